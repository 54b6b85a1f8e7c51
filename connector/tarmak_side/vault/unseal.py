"""Unseal one node now (the `tarmak_vault_unseal` action), with the stored shares.

An operator's imperative step beside the declarative converge: it looks at one
node's sys/seal-status and, when that node is sealed with Shamir's seal, sends
the threshold of stored shares, revealed through the configured key
protection and only into memory. It never initialises or joins a node, and
never sends anything to a node that auto-unseals or is already unsealed. It
answers at once: a node that cannot be unsealed now is an error that names it.
"""

from __future__ import annotations

from typing import Any

from connector.protocol.contract import NodeUnsealParams, NodeUnsealResult, UnsealOutcome
from connector.tarmak_side.server import Call
from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.clusters import VaultClusters
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.nodes import Node


class NodeUnsealer:
    def __init__(self, clusters: VaultClusters) -> None:
        self.clusters = clusters

    def unseal_node(self, call: Call) -> dict[str, Any]:
        params = NodeUnsealParams.from_params(call.params)
        clusters = self.clusters
        name = clusters.keys_name(params.vault_unseal_key_name)
        if not params.node:
            raise OperationFailed("node names no Vault node")
        node = Node.parse(params.node, clusters.config.vault.port)
        ca = clusters.ca_file(params.vault_ca)
        with clusters.locks.hold(name):  # not while a converge (or a key command) runs
            keys = clusters.keys(name)
            if keys is None:
                raise OperationFailed(
                    f"no Vault keys are stored in {clusters.store.path(name)}: Tarmak unseals "
                    "only a cluster it initialised, and this action never initialises one "
                    "(apply tarmak_vault_cluster first)"
                )
            wanted = params.vault_kms_key_id or None
            if wanted is not None and wanted != keys.stored.kms_key_id:
                raise OperationFailed(
                    f"the keys in {keys.path} are protected by KMS key "
                    f"{keys.stored.kms_key_id!r}, not {wanted!r}"
                )
            try:
                api = clusters.links.open(node, ca)
                try:
                    return _unseal(api, keys).to_result()
                finally:
                    api.close()
            except NotReady as err:  # one attempt, now: "not yet" is this call's answer
                raise OperationFailed(str(err)) from None


def _unseal(api: VaultApi, keys: ClusterKeys) -> NodeUnsealResult:
    node = api.node
    status = api.call("GET", "sys/seal-status").require("sys/seal-status").body
    seal = str(status.get("type") or "shamir")
    if status.get("initialized") is False:
        raise OperationFailed(
            f"Vault {node} is not initialised: this action never initialises or joins a "
            "node (apply tarmak_vault_cluster, which joins it to the cluster)"
        )
    if keys.stored.recovery or status.get("recovery_seal") or seal != "shamir":
        return NodeUnsealResult(str(node), UnsealOutcome.AUTO_UNSEAL, seal)
    if status.get("sealed") is False:
        return NodeUnsealResult(str(node), UnsealOutcome.ALREADY_UNSEALED)
    if status.get("progress"):  # shares someone else began to enter: start afresh
        api.call("PUT", "sys/unseal", {"reset": True}).require("resetting the unseal progress")
    shares = keys.shares()
    for share in shares:
        answer = api.call("PUT", "sys/unseal", {"key": share})
        if answer.status == 400:
            raise OperationFailed(
                f"the unseal keys in {keys.path} do not unseal Vault {node}: {answer.errors()}"
            )
        if not answer.ok:
            # A node still joining refuses keys until the leader has answered it.
            raise OperationFailed(
                f"Vault {node} refused the unseal key: HTTP {answer.status} {answer.errors()} "
                "(a node still joining the cluster does until the leader has answered it: "
                "invoke the action again shortly)"
            )
        if answer.body.get("sealed") is False:
            return NodeUnsealResult(str(node), UnsealOutcome.UNSEALED)
    raise OperationFailed(f"Vault {node} took {len(shares)} shares and is still sealed")
