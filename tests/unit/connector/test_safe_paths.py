"""The state directory and the files in it, and the files that decide what is
trusted, are refused when another user could change them, as OpenSSH refuses an
unsafe ~/.ssh; secrets others could read are refused too; each refusal says how
to fix it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.tarmak_side.safe_paths import (
    UnsafePath,
    check_private_directory,
    check_secret_file,
    check_trusted,
    check_unreadable,
    ensure_private_directory,
    private_copy,
    read_private_file,
)

NOBODY = 65534


def private_dir(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    return state


def test_a_missing_directory_is_made_0700(tmp_path: Path) -> None:
    state = tmp_path / "a" / "state"
    assert check_private_directory(state) is False
    ensure_private_directory(state)
    assert state.stat().st_mode & 0o777 == 0o700
    assert check_private_directory(state) is True


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_directory_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    state = private_dir(tmp_path)
    state.chmod(mode)
    with pytest.raises(UnsafePath) as refused:
        check_private_directory(state)
    assert f"{state} is mode {mode:04o}" in str(refused.value)
    assert f"chmod 700 {state}" in str(refused.value)


def test_a_directory_readable_by_others_but_not_writable_is_accepted(tmp_path: Path) -> None:
    state = private_dir(tmp_path)
    state.chmod(0o755)
    assert check_private_directory(state) is True


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
def test_a_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    state = private_dir(tmp_path)
    os.chown(state, NOBODY, NOBODY)
    with pytest.raises(UnsafePath, match=f"{state} is owned by uid {NOBODY}, not by this user"):
        check_private_directory(state)


def test_a_symlinked_directory_is_refused_unless_configured(tmp_path: Path) -> None:
    real = private_dir(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(UnsafePath, match=f"{link} is a symbolic link .*follow_state_dir_symlink"):
        check_private_directory(link)
    assert check_private_directory(link, follow_symlink=True) is True
    real.chmod(0o777)
    with pytest.raises(UnsafePath, match="mode 0777"):
        check_private_directory(link, follow_symlink=True)


def test_a_directory_above_that_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # no sticky bit: anyone may rename state away
    state = private_dir(shared)
    with pytest.raises(UnsafePath, match=f"{shared} \\(above {state}\\) is mode 0777"):
        check_private_directory(state)
    shared.chmod(0o1777)  # as /tmp: others cannot rename what is ours
    assert check_private_directory(state) is True


def test_a_planted_ca_file_is_replaced_by_the_real_one(tmp_path: Path) -> None:
    state = private_dir(tmp_path)
    (state / "vault-ca-x.pem").write_bytes(b"the attacker's CA")
    (state / "vault-ca-x.pem").chmod(0o600)
    path = private_copy(state, "vault-ca-x.pem", b"the cluster's CA")
    assert path.read_bytes() == b"the cluster's CA"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in state.iterdir()) == ["vault-ca-x.pem"], "no temporary left"


def test_a_symlink_in_the_state_directory_is_never_followed(tmp_path: Path) -> None:
    state = private_dir(tmp_path)
    elsewhere = tmp_path / "elsewhere.pem"
    elsewhere.write_bytes(b"the cluster's CA")
    (state / "vault-ca-x.pem").symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match="is a symbolic link: remove it"):
        read_private_file(state / "vault-ca-x.pem")
    with pytest.raises(UnsafePath):
        private_copy(state, "vault-ca-x.pem", b"the cluster's CA")


def test_a_file_others_can_write_is_refused(tmp_path: Path) -> None:
    state = private_dir(tmp_path)
    ca = state / "vault-ca-x.pem"
    ca.write_bytes(b"ca")
    ca.chmod(0o666)
    with pytest.raises(UnsafePath, match=f"{ca} is mode 0666: others may write it; run `chmod 600"):
        read_private_file(ca)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    state = private_dir(tmp_path)
    ca = state / "vault-ca-x.pem"
    ca.write_bytes(b"ca")
    os.chown(ca, NOBODY, NOBODY)
    with pytest.raises(UnsafePath, match=f"owned by uid {NOBODY}.*rm {ca}"):
        private_copy(state, "vault-ca-x.pem", b"ca")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_a_private_key_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("key")
    key.chmod(mode)
    with pytest.raises(UnsafePath) as refused:
        check_secret_file(key)
    assert f"{key} is mode {mode:04o}" in str(refused.value)
    assert f"chmod 600 {key}" in str(refused.value)
    key.chmod(0o600)
    check_secret_file(key)


# ---- files that decide what is trusted: anyone may read them, only we (or root) change them


def test_a_trusted_file_others_may_read_but_not_write_is_accepted(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    ca = tmp_path / "ca.pem"
    ca.write_text("ca")
    ca.chmod(0o644)
    assert check_trusted(ca).st_size == 2


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646, 0o620])
def test_a_trusted_file_others_may_write_is_refused(tmp_path: Path, mode: int) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("ca")
    ca.chmod(mode)
    with pytest.raises(UnsafePath) as refused:
        check_trusted(ca)
    assert f"{ca} is mode {mode:04o}: group or others may change it" in str(refused.value)
    assert f"run `chmod go-w {ca}`" in str(refused.value)


def test_a_trusted_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o755)
    check_trusted(home)
    home.chmod(0o777)
    with pytest.raises(UnsafePath, match=f"{home} is mode 0777: .*chmod go-w {home}"):
        check_trusted(home)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_trusted_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    os.chown(known_hosts, NOBODY, NOBODY)
    with pytest.raises(UnsafePath, match=f"{known_hosts} is owned by uid {NOBODY}.*or root: "):
        check_trusted(known_hosts)
    os.chown(known_hosts, 0, 0)  # root's (a system CA bundle) is trusted
    check_trusted(known_hosts)


def test_a_trusted_file_under_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "env").mkdir()
    ca = shared / "env" / "ca.pem"
    ca.write_text("ca")
    shared.chmod(0o777)
    with pytest.raises(UnsafePath, match=f"{shared} \\(above {ca}\\) is mode 0777: .*chmod go-w"):
        check_trusted(ca)
    shared.chmod(0o1777)  # sticky, as /tmp: others cannot rename what is ours
    check_trusted(ca)


def test_a_link_kept_where_others_may_write_is_refused(tmp_path: Path) -> None:
    """The link's target is safe, but whoever may write the link's directory may
    point it elsewhere."""
    safe = tmp_path / "safe"
    safe.mkdir()
    (safe / "known_hosts").write_text("")
    shared = tmp_path / "shared"
    shared.mkdir()
    link = shared / "known_hosts"
    link.symlink_to(safe / "known_hosts")
    shared.chmod(0o777)
    with pytest.raises(UnsafePath, match=f"{shared} \\(above {link}\\) is mode 0777"):
        check_trusted(link)
    shared.chmod(0o755)
    check_trusted(link)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_secret_others_may_read_is_refused_with_the_chmod_to_run(
    tmp_path: Path, mode: int
) -> None:
    secret = tmp_path / "vault-c.json"
    secret.write_text("{}")
    secret.chmod(mode)
    with pytest.raises(UnsafePath) as refused:
        check_unreadable(secret.stat(), secret, "it holds keys")
    assert str(refused.value) == (
        f"{secret} is mode {mode:04o}, open to others (it holds keys): run `chmod 600 {secret}`"
    )
    secret.chmod(0o600)
    check_unreadable(secret.stat(), secret, "it holds keys")
