# What function.tf needs to validate on its own: a provider function is called
# by the local name its provider is required under (here `tarmak`).
terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}
