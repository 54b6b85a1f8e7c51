"""The provider's resources, one module each, named after the Terraform type."""

from __future__ import annotations

from provider.framework import Resource
from provider.framework.ephemeral import EphemeralResource
from provider.framework.list_resource import ListResource


def all_resources() -> list[Resource]:
    from provider.resources.bastion_instance import BastionInstance
    from provider.resources.hostname import Hostname
    from provider.resources.vault_cluster import VaultCluster
    from provider.resources.vault_instance_role import VaultInstanceRole

    return [BastionInstance(), VaultCluster(), VaultInstanceRole(), Hostname()]


def all_ephemeral_resources() -> list[EphemeralResource]:
    from provider.resources.vault_instance_role_ephemeral import VaultInstanceRoleEphemeral

    return [VaultInstanceRoleEphemeral()]


def all_list_resources() -> list[ListResource]:
    from provider.resources.hostname_list import HostnameList

    return [HostnameList()]
