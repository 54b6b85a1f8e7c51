# What action.tf needs to validate on its own: the cluster's nodes, its CA
# file and the KMS key protecting its stored keys, as tarmak_vault_cluster
# is given them (examples/tarmak-environment declares the same variables).
terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}

variable "vault_fqdns" {
  type = list(string)
}

variable "vault_ca_file" {
  type        = string
  description = "PEM file of the CA that signed the Vault nodes' certificates."
}

variable "vault_kms_key_id" {
  type    = string
  default = null
}
