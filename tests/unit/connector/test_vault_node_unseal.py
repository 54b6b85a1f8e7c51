"""VAULT_NODE_UNSEAL (the tarmak_vault_unseal action's call) against a real TLS
OpenBao: a sealed node gets the stored shares, an unsealed or auto-unsealing
one gets nothing, and a node Tarmak keeps no keys for is never initialised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.protocol.contract import NodeUnsealResult, UnsealOutcome
from connector.tarmak_side.server import Call, OperationFailed
from connector.tarmak_side.vault.unseal import NodeUnsealer
from tests.unit.connector.vault_servers import (
    Kms,
    Vault,
    auto_unseal_vault,
    clusters,
    converge,
    health,
    kms,
    params,
    root,
    seal,
    tls_vault,
    transit_settings,
)

__all__ = ["auto_unseal_vault", "kms", "tls_vault"]
pytestmark = pytest.mark.vault


def unseal(unsealer: NodeUnsealer, vault: Vault, **extra: Any) -> NodeUnsealResult:
    cluster = params(vault)
    node_params = {
        "node": cluster["internal_fqdns"][0],
        "vault_ca": cluster["vault_ca"],
        "vault_kms_key_id": cluster["vault_kms_key_id"],
        **extra,
    }
    return NodeUnsealResult.from_result(
        unsealer.unseal_node(Call("u", "VaultNodeUnseal", node_params))
    )


def test_sealed_node_is_unsealed_then_left_alone(
    kms: Kms, tls_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, tls_vault)["status"] == "ready"
    unsealer = NodeUnsealer(side)
    seal(tls_vault, root(side, tls_vault))

    done = unseal(unsealer, tls_vault)
    assert done.outcome is UnsealOutcome.UNSEALED
    assert done.describe() == f"{done.node}: unsealed"
    assert health(tls_vault) in (200, 429)

    again = unseal(unsealer, tls_vault)
    assert again.outcome is UnsealOutcome.ALREADY_UNSEALED
    assert again.describe().endswith(": already unsealed")

    with pytest.raises(OperationFailed, match="not 'another-key'"):
        unseal(unsealer, tls_vault, vault_kms_key_id="another-key")


def test_no_keys_stored_is_refused_and_nothing_initialised(
    kms: Kms, tls_vault: Vault, tmp_path: Path
) -> None:
    unsealer = NodeUnsealer(clusters(tmp_path, transit_settings(kms)))
    with pytest.raises(OperationFailed, match="never initialises"):
        unseal(unsealer, tls_vault)
    assert health(tls_vault) == 501, "still not initialised"


def test_auto_unseal_node_is_sent_nothing(
    kms: Kms, auto_unseal_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, auto_unseal_vault)["status"] == "ready"
    done = unseal(NodeUnsealer(side), auto_unseal_vault)
    assert done.outcome is UnsealOutcome.AUTO_UNSEAL
    assert done.describe() == f"{done.node}: auto-unseal (transit), nothing sent"
