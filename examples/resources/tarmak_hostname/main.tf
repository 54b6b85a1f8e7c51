# What the examples here need to validate on their own.
terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}
