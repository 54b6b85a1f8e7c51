"""The provider's resources, one module each, named after the Terraform type."""

from __future__ import annotations

from provider.framework import Resource


def all_resources() -> list[Resource]:
    from provider.resources.bastion_instance import BastionInstance
    from provider.resources.hostname import Hostname
    from provider.resources.vault_cluster import VaultCluster
    from provider.resources.vault_instance_role import VaultInstanceRole

    return [BastionInstance(), VaultCluster(), VaultInstanceRole(), Hostname()]
