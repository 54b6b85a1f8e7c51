"""The Tarmak side's Vault keys file and environment config: nothing lost, nothing
replaced, nothing kept where others could change it, only what the config names is
served."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from connector.tarmak_side.config import ConfigError, EnvironmentConfig
from connector.tarmak_side.vault.errors import OperationFailed
from connector.tarmak_side.vault.keystore import KeysConflict, KeyStore, StoredKeys


def ClusterKeys(root: str, unseal: str, kms: str | None = None) -> StoredKeys:
    return StoredKeys("file", (unseal,), 1, root, kms_key_id=kms)


def test_keys_are_stored_0600_in_a_0700_directory_and_read_back(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "state")
    keys = ClusterKeys("root-1", "unseal-1", "kms-1")
    path = store.save("prod-vault", keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.load("prod-vault") == keys
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left"


def test_a_reservation_is_a_synced_file_of_its_own_given_up_when_unused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "state")
    reservation = store.reserve("c")
    spare = tmp_path / "state" / ".vault-c.json.reserved"
    assert spare.stat().st_size > 0 and stat.S_IMODE(spare.stat().st_mode) == 0o600
    reservation.release()
    assert list((tmp_path / "state").iterdir()) == []
    assert store.load("c") is None


def test_saving_the_same_keys_again_is_a_no_op(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    path = store.save("c", ClusterKeys("root", "unseal"))
    before = path.stat().st_mtime_ns
    store.save("c", ClusterKeys("root", "unseal"))
    assert path.stat().st_mtime_ns == before


def test_different_keys_never_replace_stored_ones(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    path = store.save("c", ClusterKeys("root", "unseal"))
    with pytest.raises(KeysConflict) as refused:
        store.save("c", ClusterKeys("other-root", "other-unseal"))
    assert str(path) in str(refused.value) and "different keys" in str(refused.value)
    assert store.load("c") == ClusterKeys("root", "unseal")


def test_save_fsyncs_the_file_and_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    store = KeyStore(tmp_path / "state")
    path = store.save("c", ClusterKeys("root", "unseal"))
    assert any(p.startswith(str(path.parent / ".")) for p in synced), "the file's data"
    assert str(path.parent) in synced, "the directory entry"


def test_an_unreadable_keys_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "vault-c.json").write_text("{not json")
    (tmp_path / "vault-c.json").chmod(0o600)
    tmp_path.chmod(0o700)
    with pytest.raises(KeysConflict, match=str(tmp_path / "vault-c.json")):
        KeyStore(tmp_path).load("c")


def test_a_keys_file_from_before_protection_reads_as_plaintext(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    (tmp_path / "vault-c.json").write_text('{"root_token": "r", "unseal_key": "u"}')
    (tmp_path / "vault-c.json").chmod(0o600)
    stored = KeyStore(tmp_path).load("c")
    assert stored is not None and (stored.protection, stored.shares) == ("file", ("u",))


def test_a_symlinked_keys_file_or_state_dir_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    KeyStore(state).save("c", ClusterKeys("root", "unseal"))
    (state / "vault-d.json").symlink_to(state / "vault-c.json")
    with pytest.raises(KeysConflict, match=r"vault-d\.json"):
        KeyStore(state).load("d")
    (tmp_path / "link").symlink_to(state)
    with pytest.raises(OperationFailed, match=r"link .*not a symlink"):
        KeyStore(tmp_path / "link").load("c")


def test_a_state_dir_others_can_write_is_refused_naming_mode_and_fix(tmp_path: Path) -> None:
    state = tmp_path / "state"
    KeyStore(state).save("c", ClusterKeys("root", "unseal"))
    state.chmod(0o770)
    with pytest.raises(OperationFailed) as refused:
        KeyStore(state).load("c")
    assert f"{state} is mode 0770" in str(refused.value)
    assert f"chmod 700 {state}" in str(refused.value)
    state.chmod(0o700)
    (state / "vault-c.json").chmod(0o666)
    with pytest.raises(OperationFailed, match=r"mode 0666.*chmod 600"):
        KeyStore(state).load("c")


def test_a_state_dir_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534) if os.geteuid() == 0 else pytest.skip("needs root to chown")
    with pytest.raises(OperationFailed, match=r"owned by uid 65534"):
        KeyStore(state).reserve("c")


def _config(tmp_path: Path, vault: dict) -> Path:  # type: ignore[type-arg]
    import yaml

    path = tmp_path / "env.yaml"
    (tmp_path / "k").write_text("a key")  # paths are checked on disk when the config is read
    (tmp_path / "k").chmod(0o600)
    (tmp_path / "kh").write_text("")
    path.write_text(
        yaml.safe_dump({"bastion": {"key_path": "k", "known_hosts_path": "kh"}, "vault": vault})
    )
    return path


def test_only_roles_the_config_names_are_served(tmp_path: Path) -> None:
    path = _config(tmp_path, {"clusters": {"prod": {"worker": {}}}})
    config = EnvironmentConfig.load(path)
    assert config.role("prod", "worker").policy is None
    with pytest.raises(ConfigError) as refused:
        config.role("nope", "ghost")
    message = str(refused.value)
    assert "nope/ghost" in message and str(path.resolve()) in message and "prod/worker" in message


def test_init_token_period_defaults_to_five_years_and_is_checked(tmp_path: Path) -> None:
    assert EnvironmentConfig.load(_config(tmp_path, {})).vault.init_token_period == "43800h"
    custom = EnvironmentConfig.load(_config(tmp_path, {"init_token_period": "720h"}))
    assert custom.vault.init_token_period == "720h"
    with pytest.raises(ConfigError, match=r"vault.init_token_period: .* 'forever'"):
        EnvironmentConfig.load(_config(tmp_path, {"init_token_period": "forever"}))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=lambda m: f"{m:04o}")
def test_a_keys_file_others_may_read_is_refused_saying_what_to_run(
    tmp_path: Path, mode: int
) -> None:
    """It may hold the root token and unseal key in plaintext (kind file), as OpenSSH
    refuses an UNPROTECTED PRIVATE KEY FILE."""
    state = tmp_path / "state"
    path = KeyStore(state).save("c", ClusterKeys("root", "unseal"))
    path.chmod(mode)
    with pytest.raises(OperationFailed) as refused:
        KeyStore(state).load("c")
    assert f"{path} is mode {mode:04o}" in str(refused.value)
    assert str(refused.value).endswith(f"run `chmod 600 {path}`")
    path.chmod(0o600)
    assert KeyStore(state).load("c") == ClusterKeys("root", "unseal")


def test_a_keys_file_from_before_protection_readable_by_others_is_refused(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o700)
    path = tmp_path / "vault-c.json"
    path.write_text('{"root_token": "r", "unseal_key": "u"}')
    path.chmod(0o644)
    with pytest.raises(OperationFailed, match=f"open to others.*chmod 600 {path}"):
        KeyStore(tmp_path).load("c")


def test_a_state_dir_others_may_read_but_not_write_keeps_its_0600_keys(tmp_path: Path) -> None:
    """As OpenSSH accepts a ~/.ssh of 0755 and safe_paths.check_private_directory does:
    each keys file is kept from others (refused otherwise), and nothing else in the
    directory is secret; no one else may add, rename or delete its files."""
    state = tmp_path / "state"
    KeyStore(state).save("c", ClusterKeys("root", "unseal"))
    state.chmod(0o755)
    assert KeyStore(state).load("c") == ClusterKeys("root", "unseal")
    KeyStore(state).save("d", ClusterKeys("root-d", "unseal-d"))
    assert stat.S_IMODE((state / "vault-d.json").stat().st_mode) == 0o600
