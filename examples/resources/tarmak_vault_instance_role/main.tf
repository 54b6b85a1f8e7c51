# What resource.tf needs to validate on its own: the cluster the role belongs
# to (see tarmak_vault_cluster).
terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}

variable "vault_ca_file" {
  type = string
}

resource "tarmak_vault_cluster" "vault" {
  internal_fqdns        = ["vault-1.tarmak.local", "vault-2.tarmak.local", "vault-3.tarmak.local"]
  vault_ca              = file(var.vault_ca_file)
  vault_unseal_key_name = "prod-vault"
}
