"""The operator's key commands against a real OpenBao and KMS, each stopped at
every step and run again: nothing lost, old shares gone only once the new ones
are stored and in use, no token left standing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.tarmak_side.server import OperationFailed
from connector.tarmak_side.vault import VaultClusters, operations
from connector.tarmak_side.vault.errors import ProtectionFailed
from connector.tarmak_side.vault.operations import KeyOperations
from connector.tarmak_side.vault.transit import TransitProtection
from tests.unit.connector.vault_servers import (
    KEYS_NAME,
    Kms,
    Vault,
    auto_unseal_vault,
    bastion_files,
    cluster_params,
    clusters,
    converge,
    health,
    kms,
    lookup,
    seal,
    stored_keys,
    tarmak_api,
    tls_vault,
    transit_settings,
)

__all__ = ["auto_unseal_vault", "kms", "tls_vault"]
pytestmark = pytest.mark.vault


class Stopped(Exception):
    """The run was stopped here, as if killed."""


def stopped_then_run_again(ops: KeyOperations, wanted: str, run: Callable[[], object]) -> None:
    """`run` once stopped at step `wanted` (as if killed there), then again to its end."""

    def step(name: str) -> None:
        if name == wanted:
            raise Stopped(name)

    ops.step = step
    with pytest.raises(Stopped):
        run()
    ops.step = lambda _name: None
    run()


@pytest.fixture
def ready(kms: Kms, tls_vault: Vault, tmp_path: Path) -> Iterator[tuple[VaultClusters, Vault]]:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, tls_vault)["status"] == "ready"
    yield side, tls_vault


def generations(side: VaultClusters) -> list[str]:
    return sorted(p.name for p in side.store.directory.glob(f"vault-{KEYS_NAME}*.json"))


def test_generate_root_gives_a_root_token_it_does_not_store(
    ready: tuple[VaultClusters, Vault],
) -> None:
    side, vault = ready
    token = KeyOperations(side).generate_root(cluster_params(vault))
    assert lookup(vault, token).json()["data"]["policies"] == ["root"]
    stored = "".join(p.read_text() for p in side.store.directory.glob("vault-*.json"))
    assert token not in stored


@pytest.mark.parametrize("step", ["started", "rotated", "pending-stored", "verified", "stored"])
def test_rekey_stopped_at_each_step_then_run_again(
    ready: tuple[VaultClusters, Vault], step: str
) -> None:
    side, vault = ready
    ops = KeyOperations(side)
    before = stored_keys(side)
    old = before.shares()
    stopped_then_run_again(ops, step, lambda: ops.rekey(cluster_params(vault)))
    after = stored_keys(side)
    assert after.stored.pending is None
    assert set(after.shares()).isdisjoint(old), "new shares"
    assert len(generations(side)) == 1, f"old shares removed: {generations(side)}"
    assert not ops._live(tarmak_api(side, vault), before), "the old shares open nothing"
    seal(vault, ops.generate_root(cluster_params(vault)))
    assert converge(side, vault)["status"] == "ready" and health(vault) == 200


@pytest.mark.parametrize("step", ["pending-stored", "verified", None])
def test_rekey_moves_plaintext_keys_and_the_token_under_the_kms(
    kms: Kms, tls_vault: Vault, tmp_path: Path, step: str | None
) -> None:
    """Keys kept as kind `file` (or from before protection existed) move to `transit`
    with a rekey once env.yaml names the KMS: the shares and Tarmak's token, none
    left in plaintext, and Tarmak still works (before, the token stayed in plaintext
    in a file that said `transit`, and no token could be read from it)."""
    plain = clusters(tmp_path, {"kind": "file"})
    assert converge(plain, tls_vault)["status"] == "ready"
    token = stored_keys(plain).token()
    side = clusters(tmp_path, transit_settings(kms))  # the same state directory
    ops = KeyOperations(side)
    if step is None:
        ops.rekey(cluster_params(tls_vault))
    else:
        stopped_then_run_again(ops, step, lambda: ops.rekey(cluster_params(tls_vault)))
    after = stored_keys(side)
    assert isinstance(after.protection, TransitProtection)
    assert after.token() == token
    stored = "".join(p.read_text() for p in side.store.directory.glob("vault-*.json"))
    assert token not in stored, "Tarmak's token is not kept in plaintext"
    assert not any(share in stored for share in after.shares()), "nor any share"
    assert len(generations(side)) == 1
    assert converge(side, tls_vault)["status"] == "ready"


@pytest.mark.parametrize("step", ["rotated", "stored"])
def test_rotate_kms_key_stopped_then_run_again_rewraps_everything(
    ready: tuple[VaultClusters, Vault], step: str
) -> None:
    side, vault = ready
    ops = KeyOperations(side)
    before = stored_keys(side)
    secrets = (before.shares(), before.token())
    stopped_then_run_again(ops, step, lambda: ops.rotate_kms_key(cluster_params(vault)))
    after = stored_keys(side)
    assert isinstance(after.protection, TransitProtection)
    assert all('"wrapped": "vault:v1:' not in b for b in after.stored.shares)
    assert (after.shares(), after.token()) == secrets
    assert len(generations(side)) == 1


@pytest.mark.parametrize("step", ["root-stored", "token-stored"])
def test_replace_token_stopped_then_run_again_revokes_old_and_root(
    ready: tuple[VaultClusters, Vault], step: str
) -> None:
    side, vault = ready
    ops = KeyOperations(side)
    before = stored_keys(side)
    old = before.token()
    stopped_then_run_again(ops, step, lambda: ops.replace_token(cluster_params(vault)))
    after = stored_keys(side)
    assert after.stored.root_token is None
    assert after.stored.pending is None
    new = after.token()
    assert new != old and lookup(vault, new).ok
    assert lookup(vault, old).status_code == 403, "the old token is revoked"
    assert len(generations(side)) == 1, f"old generations removed: {generations(side)}"
    assert converge(side, vault)["status"] == "ready", "Tarmak works with the new token"


def test_a_replace_token_between_two_runs_of_a_rekey_keeps_the_rekey_to_finish(
    ready: tuple[VaultClusters, Vault],
) -> None:
    """replace-token ends by clearing its own step, not every step under way: a rekey
    stopped with its new shares stored (and Vault's rotation waiting for them) is
    still there to be finished, not started over."""
    side, vault = ready
    ops = KeyOperations(side)

    def stop_once_stored(name: str) -> None:
        if name == "pending-stored":
            raise Stopped(name)

    ops.step = stop_once_stored
    with pytest.raises(Stopped):
        ops.rekey(cluster_params(vault))
    ops.step = lambda _name: None
    new_shares = stored_keys(side).stored.pending["rekey"]["shares"]  # type: ignore[index]
    ops.replace_token(cluster_params(vault))
    assert set(stored_keys(side).stored.pending or {}) == {"rekey"}
    ops.rekey(cluster_params(vault))
    after = stored_keys(side)
    assert after.stored.pending is None
    assert list(after.stored.shares) == new_shares, "the rekey finished the rotation it began"
    seal(vault, ops.generate_root(cluster_params(vault)))
    assert converge(side, vault)["status"] == "ready" and health(vault) == 200


def stop_at(ops: KeyOperations, wanted: str) -> None:
    def step(name: str) -> None:
        if name == wanted:
            raise Stopped(name)

    ops.step = step


def test_a_rekey_stopped_part_way_through_verifying_finishes_when_run_again(
    ready: tuple[VaultClusters, Vault],
) -> None:
    """Vault refuses a share given twice to one verification: a run stopped after
    giving some of them restarts the verification instead of failing forever."""
    side, vault = ready
    ops = KeyOperations(side)
    stop_at(ops, "pending-stored")
    with pytest.raises(Stopped):
        ops.rekey(cluster_params(vault))
    ops.step = lambda _name: None
    keys = stored_keys(side)
    pending = (keys.stored.pending or {})["rekey"]
    first = keys.reveal(pending["shares"][0], "a new share")
    tarmak_api(side, vault).call(
        "POST", "sys/rotate/root/verify", {"key": first, "nonce": pending["nonce"]}
    ).require("giving one share, as a stopped run did")
    ops.rekey(cluster_params(vault))
    after = stored_keys(side)
    assert after.stored.pending is None
    assert list(after.stored.shares) == pending["shares"]
    seal(vault, ops.generate_root(cluster_params(vault)))
    assert converge(side, vault)["status"] == "ready" and health(vault) == 200


def test_a_cancelled_rotation_keeps_a_retired_token_still_to_revoke(
    ready: tuple[VaultClusters, Vault],
) -> None:
    """A rekey and a replace-token both stopped half-way, then Vault's rotation
    cancelled: the rekey says so and starts nothing, and the retired token stays
    stored, so the next replace-token still revokes it."""
    side, vault = ready
    old = stored_keys(side).token()
    ops = KeyOperations(side)
    stop_at(ops, "pending-stored")
    with pytest.raises(Stopped):
        ops.rekey(cluster_params(vault))
    stop_at(ops, "token-stored")
    with pytest.raises(Stopped):
        ops.replace_token(cluster_params(vault))
    ops.step = lambda _name: None
    tarmak_api(side, vault).call("DELETE", "sys/rotate/root/init").require("cancelling")
    with pytest.raises(OperationFailed, match="no longer has the rotation"):
        ops.rekey(cluster_params(vault))
    assert set(stored_keys(side).stored.pending or {}) == {"retired_token"}
    ops.replace_token(cluster_params(vault))
    assert lookup(vault, old).status_code == 403, "the retired token is revoked"
    assert stored_keys(side).stored.pending is None


def run_cli(config: Path, command: str, vault: Vault) -> subprocess.CompletedProcess[str]:
    """`tarmak-controller --config <config> <command>`, straight to the test's Vault node."""
    server, ca = vault
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.tarmak_side.cli",
            "--config",
            str(config),
            command,
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
    done = run_cli(config, "generate-root", vault)
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
    done = run_cli(config, "rekey", vault)
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
        getattr(KeyOperations(away), command)(cluster_params(vault))
    after = {p.name: p.read_bytes() for p in side.store.directory.glob("vault-*.json")}
    assert after == before


def test_an_auto_unseal_cluster_gets_recovery_shares_and_rekeys_them(
    kms: Kms, auto_unseal_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, auto_unseal_vault)["status"] == "ready"
    keys = stored_keys(side)
    assert keys.stored.recovery and len(keys.stored.shares) == 3
    ops = KeyOperations(side)
    assert lookup(auto_unseal_vault, ops.generate_root(cluster_params(auto_unseal_vault))).ok
    old = keys.shares()
    stopped_then_run_again(
        ops, "pending-stored", lambda: ops.rekey(cluster_params(auto_unseal_vault))
    )
    after = stored_keys(side)
    assert after.stored.recovery
    assert set(after.shares()).isdisjoint(old)
    assert lookup(auto_unseal_vault, ops.generate_root(cluster_params(auto_unseal_vault))).ok


@pytest.mark.parametrize("step", ["root-stored", "token-stored"])
def test_a_rekey_to_transit_between_two_runs_of_replace_token_moves_every_token(
    kms: Kms, tls_vault: Vault, tmp_path: Path, step: str
) -> None:
    """A replace-token stopped with a root token, or a retired token still to revoke,
    stored as kind `file`; then a rekey to `transit`: each of them moves too, so the
    next replace-token finishes (revoking them) and none is left in plaintext."""
    plain = clusters(tmp_path, {"kind": "file"})
    assert converge(plain, tls_vault)["status"] == "ready"
    old = stored_keys(plain).token()

    def stop(name: str) -> None:
        if name == step:
            raise Stopped(name)

    stopped = KeyOperations(plain)
    stopped.step = stop
    with pytest.raises(Stopped):
        stopped.replace_token(cluster_params(tls_vault))
    side = clusters(tmp_path, transit_settings(kms))  # the same state directory
    ops = KeyOperations(side)
    ops.rekey(cluster_params(tls_vault))
    ops.replace_token(cluster_params(tls_vault))
    after = stored_keys(side)
    assert after.stored.pending is None and after.stored.root_token is None
    new = after.token()
    assert new != old and lookup(tls_vault, old).status_code == 403, "the old token is revoked"
    stored = "".join(p.read_text() for p in side.store.directory.glob("vault-*.json"))
    assert old not in stored and new not in stored, "no token in plaintext"
    assert converge(side, tls_vault)["status"] == "ready"


def test_a_root_token_that_cannot_be_stored_is_revoked(
    ready: tuple[VaultClusters, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    """replace-token makes a root token, then the KMS fails to protect it: the token
    is revoked, not left valid with no one holding it (a run again makes another)."""
    side, vault = ready
    made: list[str] = []
    real = operations.generate_root

    def generating(api: Any, keys: Any) -> str:
        made.append(real(api, keys))
        return made[-1]

    def failing(self: TransitProtection, secret: bytes) -> str:
        raise ProtectionFailed("the KMS is away")

    monkeypatch.setattr(operations, "generate_root", generating)
    monkeypatch.setattr(TransitProtection, "protect", failing)
    with pytest.raises(ProtectionFailed, match="the KMS is away"):
        KeyOperations(side).replace_token(cluster_params(vault))
    (root,) = made
    assert lookup(vault, root).status_code == 403, "the root token made is revoked"
