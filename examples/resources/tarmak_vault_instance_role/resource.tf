# Blocks until the role's init token exists, and returns it (sensitive).
# The cluster and role must be named in the Tarmak side's env.yaml (vault.clusters).
resource "tarmak_vault_instance_role" "worker" {
  vault_cluster_name    = "prod"
  role_name             = "worker"
  internal_fqdns        = tarmak_vault_cluster.vault.internal_fqdns
  vault_ca              = tarmak_vault_cluster.vault.vault_ca
  vault_unseal_key_name = tarmak_vault_cluster.vault.vault_unseal_key_name
}

# e.g. pass it to the workers' user data:
#   init_token = tarmak_vault_instance_role.worker.init_token
