# The init token of the cluster's worker role, for a provider block or a
# write-only attribute; it is kept in no state and no plan file.
ephemeral "tarmak_vault_instance_role" "worker" {
  vault_cluster_name = "prod"
  role_name          = "worker"
  internal_fqdns     = tarmak_vault_cluster.vault.internal_fqdns
  vault_ca           = tarmak_vault_cluster.vault.vault_ca
  # Open it only once the cluster is ready (not while planning its creation).
  vault_cluster_id = tarmak_vault_cluster.vault.id
}
