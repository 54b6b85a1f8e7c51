"""Taking a number and its name for good, and giving them back.

The allocation record is written with cas=0 (or the version of a released
record, when reusing) and the name index with cas=0 or the version of a
released name, so a number or a name is never held twice. Release soft-deletes
both: the history stays, and the counter never goes back.

A number fresh from the counter is this process's alone, so its record and
its name are written at the same time, on two connections: a claim then
waits for one round trip to the cluster instead of two, which is what bounds
the rate of many writers through a Raft cluster (docs/benchmarks/vault-ceiling.md).
A crash between the two writes leaves either one of them; in both cases no
state holds the number and the counter has moved past it, so it is never
handed out again, and a name written is held (its entry is the whole record).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from provider.tarmak.forking import start_over_in_forked_children
from provider.tarmak.hostnames.records import HostnameKey, allocation_record, render
from provider.tarmak.hostnames.store import KVStore
from provider.tarmak.vault_kv import CasConflict, VaultError

# Where a fresh number's record is written while the caller writes its name.
# Threads are made as claims overlap (one per create in flight: creates run on
# the provider's worker threads, 32 by default, so a record write never waits
# for a thread here) and then kept: starting a thread per claim cost about
# 0.3 ms of CPU per allocation (docs/benchmarks.md, "The CPU behind the row").
# A claim returns only once both its writes have, so these threads are idle
# between claims (and the provider ends with os._exit, which waits for none).
ALONGSIDE_THREADS = 64


class _Alongside:
    """The kept pool, started over in a forked child (provider/tarmak/forking.py)."""

    def __init__(self) -> None:
        self.start_over_after_fork()
        start_over_in_forked_children(self)

    def start_over_after_fork(self) -> None:
        """Also what a new one does: a forked child has none of its parent's
        threads but a copy of the pool's count of idle ones, so the pool would
        queue work for threads that are not there."""
        self._pool = ThreadPoolExecutor(ALONGSIDE_THREADS, thread_name_prefix="hostname-claim")

    def submit(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        return self._pool.submit(work, *args, **kwargs)


_alongside = _Alongside()


class Claims:
    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    def claim(
        self, key: HostnameKey, number: int, name: str, record_version: int, name_format: str
    ) -> bool:
        """Take number `number` (CAS on its record) and its name; False if the name is
        live elsewhere (a format shared between keys), which burns the number."""
        record = allocation_record(key, number, name, name_format, self.kv.mount)
        record_path, name_path = f"allocations/{key.path}/{number}", f"names/{name}"
        if record_version == 0:  # fresh from the counter: ours alone
            if self._write_both(record_path, name_path, record):
                return True
        else:  # a released number: it may be reclaimed by others at the same time
            self.kv.write(record_path, record, cas=record_version)
            if self._write_new(name_path, record):
                return True
        name_entry = self.kv.read(name_path)
        if name_entry.exists:
            return False
        try:
            self.kv.write(name_path, record, cas=name_entry.version)
        except CasConflict:
            return False
        return True

    def _write_both(self, record_path: str, name_path: str, record: dict[str, object]) -> bool:
        """Write a fresh number's record and its name at once; whether the name was
        new. When the record fails (CasConflict only for a record written by hand:
        the counter never hands a number out twice), the name written beside it is
        given back before the error is raised, so no state-less name stays held."""
        record_written = _alongside.submit(self.kv.write, record_path, record, cas=0)
        try:
            name_written = self._write_new(name_path, record)
        finally:
            record_error = record_written.exception()  # waits for the write
        if record_error is not None:
            if name_written:
                # Best effort: if Vault cannot take this either, the name stays held
                # by a number no state has, as after a crash between the writes.
                with contextlib.suppress(VaultError):
                    self.kv.delete_latest(name_path)
            raise record_error
        return name_written

    def _write_new(self, name_path: str, record: dict[str, object]) -> bool:
        """Write the name where it was never written; False where it was. Almost
        always it never was, so this is tried first: one request, no read."""
        try:
            self.kv.write(name_path, record, cas=0)
            return True
        except CasConflict:
            return False  # written before: live elsewhere, or released

    def claim_released(self, key: HostnameKey, name_format: str) -> tuple[int, str] | None:
        """The lowest released number of `key`, claimed again (reuse mode only)."""
        for entry_name in sorted(self.kv.list(f"allocations/{key.path}/"), key=_numeric):
            if not entry_name.isdigit():
                continue
            entry = self.kv.read(f"allocations/{key.path}/{entry_name}")
            if entry.exists:
                continue
            number = int(entry_name)
            name = render(name_format, key, number)
            try:
                if self.claim(key, number, name, entry.version, name_format):
                    return number, name
            except CasConflict:
                continue  # someone else reclaimed it first
        return None

    def release(self, key: HostnameKey, number: int, name: str) -> None:
        self.kv.delete_latest(f"names/{name}")
        self.kv.delete_latest(f"allocations/{key.path}/{number}")


def _numeric(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (0, name)
