# Blocks until Tarmak has initialised (first time) and unsealed Vault.
resource "tarmak_vault_cluster" "vault" {
  internal_fqdns = ["vault-1.tarmak.local", "vault-2.tarmak.local", "vault-3.tarmak.local"]
  vault_ca       = file(var.vault_ca_file)

  vault_unseal_key_name = "prod-vault"

  depends_on = [tarmak_bastion_instance.bastion]
}
