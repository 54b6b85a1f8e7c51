# Unseal every node of the cluster now, reporting each node as it goes:
#   terraform apply -invoke=action.tarmak_vault_unseal.now
action "tarmak_vault_unseal" "now" {
  config {
    internal_fqdns = var.vault_fqdns
    vault_ca       = file(var.vault_ca_file)

    vault_kms_key_id = var.vault_kms_key_id
  }
}
