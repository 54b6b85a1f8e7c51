"""The methods the Tarmak side answers, wired to the code that does the work."""

from __future__ import annotations

from connector.methods import LEGACY_NAMES
from connector.protocol import Method
from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.server import Handler
from connector.tarmak_side.vault import VaultClusters
from connector.tarmak_side.vault.links import BastionLinks
from connector.tarmak_side.vault.unseal import NodeUnsealer
from connector.tarmak_side.wing import BastionChecker


class TarmakServices:
    def __init__(self, config: EnvironmentConfig) -> None:
        self.bastion = BastionChecker(config.bastion)
        self.vault = VaultClusters(config, BastionLinks(config, self.bastion))
        self.unsealer = NodeUnsealer(self.vault)

    def handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            Method.BASTION_INSTANCE_STATUS: self.bastion.wait_ready,
            Method.VAULT_CLUSTER_CONVERGE: self.vault.cluster_status,
            Method.VAULT_CLUSTER_OBSERVE: self.vault.init_status,
            Method.VAULT_INSTANCE_ROLE: self.vault.instance_role,
            Method.VAULT_NODE_UNSEAL: self.unsealer.unseal_node,
        }
        # Providers released before the methods were renamed still use the old names.
        handlers.update({old: handlers[new] for old, new in LEGACY_NAMES.items()})
        return handlers

    def close(self) -> None:
        self.bastion.close()
