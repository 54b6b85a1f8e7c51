# What resource.tf needs to validate on its own: the bastion that Vault is
# reached through (see tarmak_bastion_instance) and the CA file's path.
terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}

variable "vault_ca_file" {
  type        = string
  description = "PEM file of the CA that signed the Vault nodes' certificates."
}

variable "bastion_public_ip" {
  type = string
}

resource "tarmak_bastion_instance" "bastion" {
  hostname = var.bastion_public_ip
  username = "centos"
}
