"""The one waiting loop: try, and while the answer is "not yet", wait and try
again until the call's deadline (each attempt holds the cluster's lock)."""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connector.tarmak_side.server import Call
from connector.tarmak_side.vault.errors import NotReady, OperationFailed


class ClusterLocks:
    """One converge per cluster at a time, in this process and across processes."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        path = self.state_dir / f".vault-{name}.lock"
        with lock:
            try:
                self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                handle = open(path, "a")  # noqa: SIM115  # held while yielding
            except OSError as err:
                raise OperationFailed(
                    f"cannot open the lock file {path} ({err.strerror}): the state directory "
                    "must be writable; nothing was done to Vault"
                ) from None
            with handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield


def until_ready(
    call: Call, locks: ClusterLocks, name: str, attempt: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """`attempt`'s answer, or {"status": "not-ready"} with the last reason at the deadline."""
    deadline = call.deadline()
    delay = 0.2
    while True:
        try:
            with locks.hold(name):
                return attempt()
        except NotReady as err:
            reason = str(err)
        if not call.params.get("wait", True) or time.monotonic() + delay > deadline:
            return {"status": "not-ready", "detail": reason}
        call.sleep(delay)
        delay = min(delay * 2, 1.0)
