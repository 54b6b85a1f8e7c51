"""Vault clusters as Tarmak runs them: Raft nodes reached through the bastion,
initialised once, their keys kept protected (docs/vault-keys.md).

Modules, one job each: nodes/links/api (reaching a node, errors translated at
that edge), health and survey (what the nodes say), converge and retry (apply),
roles (instance roles), keystore/keys/protection/transit/pgp (keeping keys),
clusters (the handlers).
"""

from connector.tarmak_side.vault.clusters import VaultClusters

__all__ = ["VaultClusters"]
