"""What the local environment writes that holds a secret is ours alone: the
directory, the TLS keys, state.json; and the dev OpenBao's root token is not on
its command line, where every local user can read it (/proc/<pid>/cmdline)."""

from __future__ import annotations

import stat
from pathlib import Path

from connector.tarmak_side.safe_paths import write_private_file
from devenv.environment import _make_private_directory
from devenv.pki import ThrowawayCA
from devenv.vault import OpenBaoServer


def test_issued_keys_and_private_files_are_only_ours(tmp_path: Path) -> None:
    files = ThrowawayCA(tmp_path / "pki").issue("vault")
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    existing = tmp_path / "state.json"
    existing.write_text("{}")
    existing.chmod(0o644)
    write_private_file(existing, b'{"token": "t"}')
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600


def test_the_environment_directory_is_made_ours_alone(tmp_path: Path) -> None:
    left_open = tmp_path / "tarmak-devenv"
    left_open.mkdir(mode=0o755)
    left_open.chmod(0o755)
    _make_private_directory(left_open)
    assert stat.S_IMODE(left_open.stat().st_mode) == 0o700


def test_the_dev_root_token_is_not_on_the_command_line(tmp_path: Path) -> None:
    server = OpenBaoServer(tmp_path / "dev", dev=True)
    token = server.endpoint.token
    assert token and not any(token in arg for arg in server.process.argv)
    assert server.process.env is not None
    assert server.process.env["BAO_DEV_ROOT_TOKEN_ID"] == token
