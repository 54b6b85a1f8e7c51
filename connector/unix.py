"""The local Unix socket between provider and connector, kept private.

The socket lives in a directory only its owner can enter, with mode 0600;
the configured path is a symlink to it, so the well-known default
(/tmp/tarmak-connector.sock) never exposes the socket itself in /tmp. Both
ends check the peer's uid with SO_PEERCRED and refuse any other user.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from pathlib import Path

_UCRED = struct.Struct("3i")  # pid, uid, gid


class SocketSecurityError(Exception):
    pass


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    uid: int = _UCRED.unpack(creds)[1]
    return uid


def check_peer(sock: socket.socket, who: str) -> None:
    uid = peer_uid(sock)
    if uid != os.getuid():
        raise SocketSecurityError(
            f"refused {who} running as uid {uid} (we run as uid {os.getuid()})"
        )


def _private_directory(path: Path) -> Path:
    directory = path.with_name(path.name + ".d")
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise SocketSecurityError(f"{directory} exists and is not a directory we own") from None
        directory.chmod(0o700)
    return directory


def listen_private(path: str) -> socket.socket:
    """Bind a listening socket reachable at `path`, refusing to steal a live one."""
    target = Path(path)
    if socket_in_use(path):
        raise SocketSecurityError(f"another tarmak-connector is already listening on {path}")
    directory = _private_directory(target)
    real = directory / "connector.sock"
    real.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(real))
    finally:
        os.umask(old_umask)
    real.chmod(0o600)
    sock.listen(128)
    if target.is_symlink() or target.exists():
        if target.lstat().st_uid != os.getuid():
            sock.close()
            raise SocketSecurityError(f"{target} belongs to another user; refusing to replace it")
        target.unlink()
    target.symlink_to(real)
    return sock


def remove_private(path: str) -> None:
    target = Path(path)
    directory = target.with_name(target.name + ".d")
    with contextlib.suppress(OSError):
        if target.is_symlink() and Path(os.readlink(target)).parent == directory:
            target.unlink()
    with contextlib.suppress(OSError):
        (directory / "connector.sock").unlink()
        directory.rmdir()


def socket_in_use(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def connect(path: str, timeout: float = 2.0) -> socket.socket:
    """Connect to the connector and make sure it runs as our user."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        check_peer(sock, "a connector")
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return sock
