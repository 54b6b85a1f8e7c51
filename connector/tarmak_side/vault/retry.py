"""The one waiting loop: try, and while the answer is "not yet", wait and try
again until the call's deadline (each attempt holds the cluster's lock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from connector.protocol.contract import PollResult, Status
from connector.tarmak_side.safe_paths import UnsafePath, ensure_private_directory
from connector.tarmak_side.server import Call
from connector.tarmak_side.vault.errors import NotReady, OperationFailed


class ClusterLocks:
    """One converge per cluster at a time, in this process and across processes."""

    def __init__(self, state_dir: Path, *, follow_symlink: bool = False) -> None:
        self.state_dir = state_dir
        self.follow_symlink = follow_symlink
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        path = self.state_dir / f".vault-{name}.lock"
        with lock:
            try:
                ensure_private_directory(self.state_dir, follow_symlink=self.follow_symlink)
            except UnsafePath as err:
                raise OperationFailed(f"refusing the state directory: {err}") from None
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                handle = os.fdopen(os.open(path, flags, 0o600), "rb")
            except OSError as err:
                raise OperationFailed(
                    f"cannot open the lock file {path} ({err.strerror}): the state directory "
                    "must be writable; nothing was done to Vault"
                ) from None
            with handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield


def until_ready(
    call: Call, locks: ClusterLocks, name: str, attempt: Callable[[], PollResult]
) -> PollResult:
    """`attempt`'s answer, or NOT_READY with the last reason at the deadline."""
    deadline = call.deadline()
    delay = 0.2
    while True:
        try:
            with locks.hold(name):
                return attempt()
        except NotReady as err:
            reason = str(err)
        if not call.waiting.wait or time.monotonic() + delay > deadline:
            return PollResult(Status.NOT_READY, reason)
        call.sleep(delay)
        delay = min(delay * 2, 1.0)
