"""The operator's key commands against a real OpenBao and KMS, each stopped at
every step and run again: nothing lost, old shares gone only once the new ones
are stored and in use, no token left standing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from connector.tarmak_side.server import OperationFailed
from connector.tarmak_side.vault import VaultClusters
from connector.tarmak_side.vault.operations import KeyOperations
from connector.tarmak_side.vault.transit import TransitProtection
from tests.unit.connector.vault_servers import (
    Kms,
    Vault,
    auto_unseal_vault,
    bastion_files,
    clusters,
    converge,
    health,
    kms,
    lookup,
    params,
    seal,
    tls_vault,
    transit_settings,
)

__all__ = ["auto_unseal_vault", "kms", "tls_vault"]
pytestmark = pytest.mark.vault
NAME = "t-vault"


class Stopped(Exception):
    """The run was stopped here, as if killed."""


def stop_at(ops: KeyOperations, wanted: str) -> None:
    def step(name: str) -> None:
        if name == wanted:
            raise Stopped(name)

    ops.step = step


@pytest.fixture
def ready(kms: Kms, tls_vault: Vault, tmp_path: Path) -> Iterator[tuple[VaultClusters, Vault]]:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, tls_vault)["status"] == "ready"
    yield side, tls_vault


def generations(side: VaultClusters) -> list[str]:
    return sorted(p.name for p in side.store.directory.glob(f"vault-{NAME}*.json"))


def test_generate_root_gives_a_root_token_it_does_not_store(
    ready: tuple[VaultClusters, Vault],
) -> None:
    side, vault = ready
    token = KeyOperations(side).generate_root(params(vault))
    assert lookup(vault, token).json()["data"]["policies"] == ["root"]
    stored = "".join(p.read_text() for p in side.store.directory.glob("vault-*.json"))
    assert token not in stored


@pytest.mark.parametrize("step", ["started", "rotated", "pending-stored", "verified", "stored"])
def test_rekey_stopped_at_each_step_then_run_again(
    ready: tuple[VaultClusters, Vault], step: str
) -> None:
    side, vault = ready
    ops = KeyOperations(side)
    before = side.keys(NAME)
    assert before is not None
    old = before.shares()
    stop_at(ops, step)
    with pytest.raises(Stopped):
        ops.rekey(params(vault))
    ops.step = lambda _name: None
    ops.rekey(params(vault))
    after = side.keys(NAME)
    assert after is not None and after.stored.pending is None
    assert set(after.shares()).isdisjoint(old), "new shares"
    assert len(generations(side)) == 1, f"old shares removed: {generations(side)}"
    assert not ops._live(ops_api(side, vault), before), "the old shares open nothing"
    seal(vault, ops.generate_root(params(vault)))
    assert converge(side, vault)["status"] == "ready" and health(vault) == 200


def ops_api(side: VaultClusters, vault: Vault):  # type: ignore[no-untyped-def]
    from connector.tarmak_side.vault.links import DirectLinks
    from connector.tarmak_side.vault.nodes import Node

    server, ca = vault
    keys = side.keys(NAME)
    assert keys is not None
    node = Node.parse(server.endpoint.address.removeprefix("https://"), 8200)
    return DirectLinks().open(node, str(ca.cert_path)).with_token(keys.token())


@pytest.mark.parametrize("step", ["rotated", "stored"])
def test_rotate_kms_key_stopped_then_run_again_rewraps_everything(
    ready: tuple[VaultClusters, Vault], step: str
) -> None:
    side, vault = ready
    ops = KeyOperations(side)
    before = side.keys(NAME)
    assert before is not None
    secrets = (before.shares(), before.token())
    stop_at(ops, step)
    with pytest.raises(Stopped):
        ops.rotate_kms_key(params(vault))
    ops.step = lambda _name: None
    ops.rotate_kms_key(params(vault))
    after = side.keys(NAME)
    assert after is not None and isinstance(after.protection, TransitProtection)
    assert all('"wrapped": "vault:v1:' not in b for b in after.stored.shares)
    assert (after.shares(), after.token()) == secrets
    assert len(generations(side)) == 1


@pytest.mark.parametrize("step", ["root-stored", "token-stored"])
def test_replace_token_stopped_then_run_again_revokes_old_and_root(
    ready: tuple[VaultClusters, Vault], step: str
) -> None:
    side, vault = ready
    ops = KeyOperations(side)
    before = side.keys(NAME)
    assert before is not None
    old = before.token()
    stop_at(ops, step)
    with pytest.raises(Stopped):
        ops.replace_token(params(vault))
    ops.step = lambda _name: None
    ops.replace_token(params(vault))
    after = side.keys(NAME)
    assert after is not None and after.stored.root_token is None
    assert after.stored.pending is None
    new = after.token()
    assert new != old and lookup(vault, new).ok
    assert lookup(vault, old).status_code == 403, "the old token is revoked"
    assert converge(side, vault)["status"] == "ready", "Tarmak works with the new token"


def test_the_cli_prints_the_root_token_to_stdout_only(
    ready: tuple[VaultClusters, Vault], kms: Kms, tmp_path: Path
) -> None:
    side, vault = ready
    config = tmp_path / "env.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "environment": "t",
                "state_dir": str(side.store.directory),
                "bastion": bastion_files(tmp_path),
                "vault": {
                    "key_shares": 3,
                    "key_threshold": 2,
                    "key_protection": transit_settings(kms),
                },
            }
        )
    )
    server, ca = vault
    node = server.endpoint.address.removeprefix("https://")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.tarmak_side.cli",
            "--config",
            str(config),
            "generate-root",
            "--direct",
            "--node",
            node,
            "--vault-ca",
            str(ca.cert_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[3],
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert lookup(vault, token).json()["data"]["policies"] == ["root"]
    assert token not in done.stderr


def test_the_cli_names_what_failed(
    ready: tuple[VaultClusters, Vault], kms: Kms, tmp_path: Path
) -> None:
    _, vault = ready
    config = tmp_path / "env.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state_dir": str(tmp_path / "empty"),
                "bastion": bastion_files(tmp_path),
                "vault": {"key_protection": transit_settings(kms)},
            }
        )
    )
    server, ca = vault
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.tarmak_side.cli",
            "--config",
            str(config),
            "rekey",
            "--direct",
            "--node",
            server.endpoint.address.removeprefix("https://"),
            "--vault-ca",
            str(ca.cert_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[3],
    )
    assert done.returncode == 1
    assert f"no Vault keys are stored in {tmp_path / 'empty'}" in done.stderr


@pytest.mark.parametrize("command", ["rekey", "rotate_kms_key", "replace_token"])
def test_a_kms_that_does_not_answer_changes_nothing_stored(
    ready: tuple[VaultClusters, Vault], kms: Kms, tmp_path: Path, command: str
) -> None:
    side, vault = ready
    before = {p.name: p.read_bytes() for p in side.store.directory.glob("vault-*.json")}
    away = clusters(tmp_path, {**transit_settings(kms), "address": "http://127.0.0.1:9"})
    with pytest.raises(OperationFailed, match=r"KMS http://127.0.0.1:9 is not answering"):
        getattr(KeyOperations(away), command)(params(vault))
    after = {p.name: p.read_bytes() for p in side.store.directory.glob("vault-*.json")}
    assert after == before


def test_an_auto_unseal_cluster_gets_recovery_shares_and_rekeys_them(
    kms: Kms, auto_unseal_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, auto_unseal_vault)["status"] == "ready"
    keys = side.keys(NAME)
    assert keys is not None and keys.stored.recovery and len(keys.stored.shares) == 3
    ops = KeyOperations(side)
    assert lookup(auto_unseal_vault, ops.generate_root(params(auto_unseal_vault))).ok
    old = keys.shares()
    stop_at(ops, "pending-stored")
    with pytest.raises(Stopped):
        ops.rekey(params(auto_unseal_vault))
    ops.step = lambda _name: None
    ops.rekey(params(auto_unseal_vault))
    after = side.keys(NAME)
    assert after is not None and after.stored.recovery
    assert set(after.shares()).isdisjoint(old)
    assert lookup(auto_unseal_vault, ops.generate_root(params(auto_unseal_vault))).ok
