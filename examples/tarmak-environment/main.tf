# A Tarmak environment's ordering points: bastion, then Vault, then the
# instance roles whose init tokens the instances boot with.
# Run with tarmak-controller attached (see the README); `make demo` runs it locally.

terraform {
  required_providers {
    tarmak = {
      source = "jetstack/tarmak"
    }
  }
}

provider "tarmak" {}

variable "bastion_hostname" {
  type = string
}

variable "bastion_username" {
  type = string
}

variable "vault_fqdns" {
  type = list(string)
}

variable "vault_ca_file" {
  type = string
}

variable "vault_kms_key_id" {
  description = "KMS (transit) key that protects the keys Tarmak stores for the cluster"
  type        = string
  default     = null
}

variable "cluster_name" {
  type    = string
  default = "demo"
}

variable "instance_roles" {
  type    = list(string)
  default = ["master", "worker"]
}

resource "tarmak_bastion_instance" "bastion" {
  hostname = var.bastion_hostname
  username = var.bastion_username
}

resource "tarmak_vault_cluster" "vault" {
  internal_fqdns = var.vault_fqdns
  vault_ca       = file(var.vault_ca_file)

  vault_kms_key_id = var.vault_kms_key_id

  depends_on = [tarmak_bastion_instance.bastion]
}

resource "tarmak_vault_instance_role" "role" {
  for_each = toset(var.instance_roles)

  vault_cluster_name = var.cluster_name
  role_name          = each.key
  internal_fqdns     = tarmak_vault_cluster.vault.internal_fqdns
  vault_ca           = tarmak_vault_cluster.vault.vault_ca
}

output "bastion_status" {
  value = tarmak_bastion_instance.bastion.status
}

output "vault_status" {
  value = tarmak_vault_cluster.vault.status
}

output "init_tokens" {
  value     = { for role, r in tarmak_vault_instance_role.role : role => r.init_token }
  sensitive = true
}
