"""Riding out a Vault that cannot answer for a few seconds.

A cluster whose leader died answers nothing useful until it has elected
another (seconds), and a restarted node refuses connections until it is
back. An allocation that failed at once there would fail a create that
could have waited, and worse: a write whose answer was lost may have been
done, leaving a name held in Vault that no state knows. So every request of
the allocator is tried again while Vault is unavailable (`VaultUnavailable`),
with growing pauses, until it answers, the operation is cancelled or out of
time (`check` raises), or `LIMIT` seconds have passed. A write tried again
after its answer was lost may meet its own first attempt as a check-and-set
conflict: if what Vault holds is exactly what we wrote (our records carry a
token of their own), it was ours, and it counts as done.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from provider.tarmak.hostnames.store import KVStore
from provider.tarmak.vault_kv import CasConflict, Entry, VaultUnavailable

T = TypeVar("T")

# How long one request is tried again without a deadline of the operation's own.
LIMIT = 60.0
FIRST_PAUSE = 0.2
LONGEST_PAUSE = 2.0


class PatientKV:
    """A KVStore that tries each request again while Vault is unavailable."""

    def __init__(
        self,
        kv: KVStore,
        *,
        sleep: Callable[[float], None],
        check: Callable[[], None] = lambda: None,
        limit: float = LIMIT,
    ) -> None:
        self.kv = kv
        self._sleep = sleep  # cancellable and bounded by the caller's deadline
        self._check = check  # raises once the caller's operation is cancelled or late
        self._limit = limit

    @property
    def mount(self) -> str:
        return self.kv.mount

    @property
    def address(self) -> str:
        return self.kv.address

    def _retried(self, action: Callable[[], T]) -> T:
        started = time.monotonic()
        pause = FIRST_PAUSE
        while True:
            try:
                return action()
            except VaultUnavailable:
                self._check()
                if time.monotonic() - started + pause > self._limit:
                    raise
                self._sleep(random.uniform(pause / 2, pause))
                pause = min(pause * 2, LONGEST_PAUSE)

    def read(self, path: str) -> Entry:
        return self._retried(lambda: self.kv.read(path))

    def read_on_active(self, path: str) -> Entry | None:
        return self._retried(lambda: self.kv.read_on_active(path))

    def current_version(self, path: str) -> int:
        return self._retried(lambda: self.kv.current_version(path))

    def versions(self, path: str) -> dict[int, dict[str, Any]]:
        return self._retried(lambda: self.kv.versions(path))

    def read_version(self, path: str, version: int) -> dict[str, Any] | None:
        return self._retried(lambda: self.kv.read_version(path, version))

    def list(self, path: str) -> list[str]:
        return self._retried(lambda: self.kv.list(path))

    def delete_latest(self, path: str) -> None:
        # Deleting the newest version twice leaves the same: nothing to tell apart.
        self._retried(lambda: self.kv.delete_latest(path))

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        """Write `data`; a conflict after an attempt whose answer was lost is checked
        against what Vault holds: our own data there means the attempt was done."""
        maybe_done = False

        def attempt() -> int:
            nonlocal maybe_done
            try:
                return self.kv.write(path, data, cas)
            except VaultUnavailable:
                maybe_done = True
                raise
            except CasConflict:
                if maybe_done and (version := self._holds(path, data)) is not None:
                    return version
                raise

        return self._retried(attempt)

    def _holds(self, path: str, data: dict[str, Any]) -> int | None:
        """The version at `path` when it is exactly `data` (asked of the active node
        when one answers: a standby may not have it yet), else None."""
        entry = self.kv.read_on_active(path) or self.kv.read(path)
        return entry.version if entry.data == data else None
