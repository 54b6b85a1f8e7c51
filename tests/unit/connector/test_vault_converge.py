"""Converging a real (uninitialised, TLS) OpenBao with protected keys: nothing
initialised until the keys can be kept, and nothing in plaintext at rest."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.tarmak_side.server import Call, OperationFailed
from connector.tarmak_side.vault.errors import ProtectionFailed
from connector.tarmak_side.vault.survey import ca_file
from connector.tarmak_side.vault.transit import TransitProtection
from devenv.pki import ThrowawayCA
from tests.unit.connector.vault_servers import (
    GnuPG,
    Kms,
    Vault,
    clusters,
    converge,
    gnupg,
    health,
    kms,
    lookup,
    params,
    root,
    seal,
    stored_keys,
    tls_vault,
    transit_settings,
)

__all__ = ["gnupg", "kms", "tls_vault"]
pytestmark = pytest.mark.vault


def test_transit_protected_keys_initialise_unseal_and_stay_protected(
    kms: Kms, tls_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, tls_vault)["status"] == "ready"
    keys = stored_keys(side)
    assert keys.stored.protection == "transit"
    assert len(keys.stored.shares) == 3 and keys.stored.threshold == 2
    token, shares = keys.token(), keys.shares()
    stored = (tmp_path / "state" / "vault-t-vault.json").read_text()
    assert all(secret not in stored for secret in [token, *shares]), "no plaintext at rest"

    seal(tls_vault, root(side, tls_vault))
    assert converge(side, tls_vault)["status"] == "ready"
    assert health(tls_vault) == 200, "unsealed with two of the three protected shares"


def test_no_standing_root_token_tarmak_works_with_its_own(
    kms: Kms, tls_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    assert converge(side, tls_vault)["status"] == "ready"
    keys = stored_keys(side)
    assert keys.stored.root_token is None and keys.stored.tarmak_token is not None
    assert keys.stored.generation == 2, "one step stored Tarmak's token, the next dropped root"
    own = keys.token()
    looked = lookup(tls_vault, own).json()["data"]
    assert looked["policies"] == ["default", "tarmak-controller"]
    assert looked["period"] > 0 and looked["orphan"] is True
    initial = (tmp_path / "state" / "vault-t-vault.json").read_text()
    assert '"root_token": "transit:' in initial, "the first generation keeps what init gave"
    ttl_before = looked["ttl"]
    assert converge(side, tls_vault)["status"] == "ready", "a second apply, with the token"
    assert lookup(tls_vault, own).json()["data"]["ttl"] >= ttl_before - 5, "renewed"


def test_a_run_stopped_after_storing_the_token_revokes_root_next_time(
    kms: Kms, tls_vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    original = side.store.advance
    calls: list[int] = []

    def stop_after_first(name: str, keys: Any) -> Any:
        stored = original(name, keys)
        calls.append(stored.generation)
        if len(calls) == 1:
            raise OperationFailed("stopped here")
        return stored

    monkeypatch.setattr(side.store, "advance", stop_after_first)
    with pytest.raises(OperationFailed, match="stopped here"):
        converge(side, tls_vault)
    keys = stored_keys(side)
    assert keys.stored.root_token and keys.stored.tarmak_token
    root = keys.root_token()
    assert lookup(tls_vault, root).ok, "not revoked yet"
    assert converge(side, tls_vault)["status"] == "ready"
    assert lookup(tls_vault, root).status_code == 403, "revoked by the next run"
    assert calls == [1, 2]


def test_pgp_shares_are_encrypted_by_vault_and_unsealed_through_gpg(
    gnupg: GnuPG, tls_vault: Vault, tmp_path: Path
) -> None:
    settings = {
        "kind": "pgp",
        "pgp_keys": [str(p) for p in gnupg.public_keys],
        "root_token_pgp_key": str(gnupg.public_keys[0]),
        "gnupg_home": str(gnupg.home),
    }
    side = clusters(tmp_path, settings, shares=2)
    gnupg.start_agent()
    assert converge(side, tls_vault)["status"] == "ready"
    keys = stored_keys(side)
    assert keys.stored.protection == "pgp"
    seal(tls_vault, root(side, tls_vault))
    gnupg.stop_agent()
    with pytest.raises(OperationFailed, match=r"gpg agent running"):
        converge(side, tls_vault, wait=1)
    assert health(tls_vault) == 503
    gnupg.start_agent()
    assert converge(side, tls_vault)["status"] == "ready"


@contextlib.contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """Even root cannot write an immutable directory; others cannot write a 0500 one."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
    else:
        directory.chmod(0o500)
        try:
            yield
        finally:
            directory.chmod(0o700)


def test_an_unwritable_state_dir_leaves_vault_uninitialised(
    kms: Kms, tls_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / ".vault-t-vault.lock").touch()  # left by an earlier run, as is the CA
    ca_file(state, tls_vault[1].cert_pem)
    with unwritable(state), pytest.raises(OperationFailed) as refused:
        converge(side, tls_vault)
    assert f"cannot reserve the Vault keys file {state / 'vault-t-vault.json'}" in str(
        refused.value
    )
    assert "it was not initialised" in str(refused.value)
    assert health(tls_vault) == 501
    assert not list(state.glob("*vault-t-vault.json*")), "nothing stored"


def test_an_unreachable_kms_leaves_vault_uninitialised(
    kms: Kms, tls_vault: Vault, tmp_path: Path
) -> None:
    settings = {**transit_settings(kms), "address": "http://127.0.0.1:9"}
    side = clusters(tmp_path, settings)
    with pytest.raises(OperationFailed, match=r"KMS http://127.0.0.1:9 is not answering"):
        converge(side, tls_vault)
    assert health(tls_vault) == 501
    assert side.store.load("t-vault") is None


def test_no_key_protection_named_is_refused_before_init(tls_vault: Vault, tmp_path: Path) -> None:
    side = clusters(tmp_path, None)
    with pytest.raises(OperationFailed, match=r"names no vault.key_protection"):
        converge(side, tls_vault)
    assert health(tls_vault) == 501


def test_a_node_not_answering_is_waited_for_not_a_final_error(
    kms: Kms, tls_vault: Vault, tmp_path: Path
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    answer = side.cluster_status(
        Call(
            "c",
            "VaultClusterStatus",
            {**params(tls_vault, wait=0.5), "internal_fqdns": ["127.0.0.1:9"]},
        )
    )
    assert answer["status"] == "not-ready"
    assert "Vault 127.0.0.1:9: not answering (ConnectionError)" in answer["detail"]


def test_a_node_signed_by_another_ca_is_named(kms: Kms, tls_vault: Vault, tmp_path: Path) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    other = ThrowawayCA(tmp_path / "other-ca")
    view = side.init_status(
        Call("c", "VaultClusterInitStatus", {**params(tls_vault), "vault_ca": other.cert_pem})
    )
    assert "TLS verification failed (is vault_ca the CA that signed 127.0.0.1?)" in view["detail"]
    assert view["reachable"] is False


def test_keys_that_cannot_be_protected_after_init_are_kept_and_stored_next_pass(
    kms: Kms, tls_vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    side = clusters(tmp_path, transit_settings(kms))
    real = TransitProtection.from_init

    def kms_gone(self: TransitProtection, secrets: list[str]) -> tuple[str, ...]:
        raise ProtectionFailed(f"KMS {self.address} is not answering")

    monkeypatch.setattr(TransitProtection, "from_init", kms_gone)
    with pytest.raises(OperationFailed, match=r"held in this process's memory only"):
        converge(side, tls_vault)
    assert health(tls_vault) == 503, "initialised"
    assert side.store.load("t-vault") is None
    monkeypatch.setattr(TransitProtection, "from_init", real)
    assert converge(side, tls_vault)["status"] == "ready"
    assert side.store.load("t-vault") is not None
