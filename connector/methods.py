"""The names of the calls the provider makes to the Tarmak side.

Apart from the protocol package so that code which only names a call (the
provider's resources, imported on every provider start) does not load the
protocol's machinery; connector.protocol re-exports it.
"""

from enum import StrEnum


class Method(StrEnum):
    PING = "Ping"
    BASTION_INSTANCE_STATUS = "BastionInstanceStatus"
    VAULT_CLUSTER_STATUS = "VaultClusterStatus"
    VAULT_CLUSTER_INIT_STATUS = "VaultClusterInitStatus"
    VAULT_INSTANCE_ROLE = "VaultInstanceRole"
    CANCEL = "$/cancel"  # a notification: the caller no longer waits for `params.id`
