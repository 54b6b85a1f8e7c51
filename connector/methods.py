"""The names of the calls the provider makes to the Tarmak side.

Apart from the protocol package so that code which only names a call (the
provider's resources, imported on every provider start) does not load the
protocol's machinery; connector.protocol re-exports it.
"""

from enum import StrEnum


class Method(StrEnum):
    PING = "Ping"
    BASTION_INSTANCE_STATUS = "BastionInstanceStatus"
    # Apply: initialise (once), join and unseal every node, set up the roles; wait for it.
    VAULT_CLUSTER_CONVERGE = "VaultClusterConverge"
    # Plan and refresh: what the nodes' sys/health says, changing nothing.
    VAULT_CLUSTER_OBSERVE = "VaultClusterObserve"
    VAULT_INSTANCE_ROLE = "VaultInstanceRole"
    # An action (tarmak_vault_unseal): unseal one node now with the stored shares; never inits.
    VAULT_NODE_UNSEAL = "VaultNodeUnseal"
    CANCEL = "$/cancel"  # a notification: the caller no longer waits for `params.id`


# What providers released before the rename send; the Tarmak side still answers them.
LEGACY_NAMES = {
    "VaultClusterStatus": Method.VAULT_CLUSTER_CONVERGE,
    "VaultClusterInitStatus": Method.VAULT_CLUSTER_OBSERVE,
}
