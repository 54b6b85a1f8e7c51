"""The Unix socket is private, and both ends refuse a peer running as another user."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from connector.protocol import NEED_DATA, Connection
from connector.unix import SocketSecurityError, connect, listen_private, remove_private
from tests.e2e.harness import ROOT

NOBODY = 65534
# The other user's process runs the system Python: the venv may sit in a private home.
OTHER_PYTHON = "/usr/bin/python3"
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not os.access(OTHER_PYTHON, os.X_OK),
    reason="switching uid needs root and a system python3",
)


@pytest.fixture
def socket_path(short_dir: Path) -> str:
    return str(short_dir / "c.sock")


def test_socket_lives_in_a_private_directory(socket_path: str) -> None:
    listener = listen_private(socket_path)
    try:
        real = Path(socket_path).resolve()
        assert Path(socket_path).is_symlink()
        assert stat.S_IMODE(real.stat().st_mode) == 0o600
        assert stat.S_IMODE(real.parent.stat().st_mode) == 0o700
        with pytest.raises(SocketSecurityError, match="already listening"):
            listen_private(socket_path)
        connect(socket_path).close()
    finally:
        listener.close()
        remove_private(socket_path)
    assert not Path(socket_path).exists()


@needs_root
def test_relay_refuses_a_provider_of_another_uid(socket_path: str) -> None:
    relay = subprocess.Popen(
        [sys.executable, "-m", "connector.relay_cli", "--socket", socket_path, "-v"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(socket_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Break the first layer on purpose so the peer-uid check is what refuses.
        real = Path(socket_path).resolve()
        real.parent.chmod(0o755)
        real.chmod(0o666)
        os.chmod(Path(socket_path).parent, 0o755)
        probe = textwrap.dedent(
            f"""
            import socket
            s = socket.socket(socket.AF_UNIX)
            s.connect({str(real)!r})
            print(s.recv(10) == b"")
            """
        )
        child = subprocess.run(
            [OTHER_PYTHON, "-c", probe], user=NOBODY, capture_output=True, text=True, timeout=20
        )
        assert child.stdout.strip() == "True", child.stderr
        connect(socket_path).close()  # our own uid is served: an OPEN frame goes out
        time.sleep(0.3)
    finally:
        out, err = relay.communicate(timeout=10)  # closes stdin: the relay exits
    conn = Connection()
    conn.receive_data(out)
    events = []
    while (event := conn.next_event()) is not NEED_DATA:
        events.append(event)
    assert len([e for e in events if type(e).__name__ == "ChannelOpened"]) == 1
    assert b"refused a provider connection running as uid 65534" in err


@needs_root
def test_provider_refuses_a_connector_of_another_uid(short_dir: Path) -> None:
    directory = str(short_dir)
    os.chmod(directory, 0o777)
    path = os.path.join(directory, "c.sock")
    listener = textwrap.dedent(
        f"""
        import socket, time
        s = socket.socket(socket.AF_UNIX)
        s.bind({path!r}); s.listen(1)
        print("ready", flush=True)
        c, _ = s.accept(); time.sleep(2)
        """
    )
    child = subprocess.Popen(
        [OTHER_PYTHON, "-c", listener], user=NOBODY, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with pytest.raises(SocketSecurityError, match="uid 65534"):
            connect(path)
    finally:
        child.kill()
        child.wait()


def test_connect_to_nothing_is_an_os_error(socket_path: str) -> None:
    with pytest.raises(OSError):
        connect(socket_path)
