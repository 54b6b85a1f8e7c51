# What list-resource.tfquery.hcl needs: `terraform query` and
# `terraform validate -query` read it beside the .tf files, which name the provider.
terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}
