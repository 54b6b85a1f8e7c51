"""Unique hostnames from a counter in Vault's KV v2 engine, with check-and-set.

Layout under the mount (default `hostnaming`):

    counters/<application>/<role>/<environment>          {"last": N}
    allocations/<application>/<role>/<environment>/<N>  who/when/name of number N
    names/<name>                                         the allocation a name belongs to

Allocating reads the counter and writes last+k with `cas` = the version read
(0 when the key never existed), k being the allocations of that counter this
process has waiting (see `Hostnaming.allocate`). Only a CAS conflict is
retried, with jittered backoff; any other Vault error fails at once. The
allocation record is written with cas=0 and the name index with cas=0 or the
version of a released name, so a number or a name can never be handed out
twice, even after it is released (delete soft-deletes the records; the
counter never goes back). With `reuse_released`, a released number is claimed
again by a CAS write on its own record.

When the counter's newest version was deleted, the seed proof of concept kept
writing cas=0 and failed forever. Here the next cas is the metadata's
current_version and the last number is recovered from the newest readable
version and the allocation records.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from provider.tarmak.hostnames.records import (
    HostnameKey,
    NameLookup,
    allocation_record,
    lookup_name,
    render,
)
from provider.tarmak.hostnames.rules import hostname_problem
from provider.tarmak.vault_kv import KV2, CasConflict, Entry

# For tests and demonstrations only: write without check-and-set (unsafe).
UNSAFE_NO_CAS_ENV = "TARMAK_HOSTNAMING_UNSAFE_DISABLE_CAS"
_WHO = f"terraform-provider-tarmak (pid {os.getpid()}, {socket.gethostname()})"


@dataclass(frozen=True)
class Allocation:
    key: HostnameKey
    number: int
    name: str
    cas_retries: int = 0


class InvalidName(Exception):
    """The format makes a name that cannot be a hostname; nothing was written."""


class Hostnaming:
    def __init__(
        self,
        kv: KV2,
        *,
        sleep: Callable[[float], None],
        use_cas: bool | None = None,
    ) -> None:
        self.kv = kv
        self._sleep = sleep  # cancellable and bounded by the caller's deadline
        self.use_cas = (os.environ.get(UNSAFE_NO_CAS_ENV) != "1") if use_cas is None else use_cas

    def _cas(self, version: int) -> int | None:
        return version if self.use_cas else None

    def allocate(self, key: HostnameKey, name_format: str, reuse_released: bool) -> Allocation:
        """A number and name no one else holds; retries only CAS conflicts.

        Terraform creates up to -parallelism hostnames of one counter at once.
        Racing each other on the counter would only turn all but one into CAS
        conflicts and backoff, so this process moves a counter one caller at a
        time, and a caller whose turn comes takes numbers for every caller
        waiting behind it in one check-and-set write (the counter goes up by
        that many); the others take theirs from the batch without asking
        Vault. A batch number a caller could not use stays for the next one.
        Numbers are reserved in Vault before they are handed out, so no other
        writer can get them, and check-and-set still guards the counter and
        each number's record against every other writer. Writing a number's
        records needs no turn (they are keyed by the number), so those writes
        overlap."""
        retries = 0
        backoff = 0.01
        while True:
            try:
                with self._turn(key) as counter:
                    if reuse_released:
                        reused = self._claim_released(key, name_format)
                        if reused is not None:
                            return reused
                    number, name = self._next_number(counter, key, name_format)
                if self._claim(key, number, name, 0, name_format):
                    return Allocation(key, number, name, retries)
            except CasConflict:
                pass  # lost a race: read again
            retries += 1
            self._sleep(random.uniform(0, backoff))
            backoff = min(backoff * 2, 0.5)

    @contextlib.contextmanager
    def _turn(self, key: HostnameKey) -> Iterator[_Counter]:
        counter = _counter(self.kv.client.url, self.kv.mount, key)
        with counter.guard:
            counter.waiting += 1
        try:
            while not counter.turn.acquire(timeout=0.05):
                self._sleep(0)  # cancellable: raises once the operation is stopped or late
            try:
                yield counter
            finally:
                counter.turn.release()
        finally:
            with counter.guard:
                counter.waiting -= 1

    def _next_number(
        self, counter: _Counter, key: HostnameKey, name_format: str
    ) -> tuple[int, str]:
        """The lowest number reserved earlier, else a new batch for every waiting caller."""
        if counter.spare:
            number = counter.spare.pop(0)
            name = render(name_format, key, number)
            if problem := hostname_problem(name):
                counter.spare.insert(0, number)  # still good for a shorter format
                raise InvalidName(problem)
            return number, name
        with counter.guard:
            wanted = max(1, counter.waiting) if self.use_cas else 1
        first, name = self._bump_counter(key, name_format, wanted)
        counter.spare.extend(range(first + 1, first + wanted))
        return first, name

    def _bump_counter(self, key: HostnameKey, name_format: str, count: int) -> tuple[int, str]:
        """Move the counter past `count` new numbers; the first of them and its name.
        The name is checked before the counter moves."""
        path = f"counters/{key.path}"
        entry = self.kv.read(path)
        if entry.exists:
            assert entry.data is not None
            last = int(entry.data.get("last", 0))
        else:
            version = entry.version or self.kv.current_version(path)
            # a deleted newest version: recover the last number, never restart at 1
            last = self._recover_last(key, path) if version else 0
            entry = Entry(version, None)
        name = render(name_format, key, last + 1)
        if problem := hostname_problem(name):
            raise InvalidName(problem)
        self.kv.write(path, {"last": last + count}, cas=self._cas(entry.version))
        return last + 1, name

    def _recover_last(self, key: HostnameKey, path: str) -> int:
        last = 0
        for version in sorted(self.kv.versions(path), reverse=True):
            data = self.kv.read_version(path, version)
            if data is not None:
                last = int(data.get("last", 0))
                break
        allocated = [int(n) for n in self.kv.list(f"allocations/{key.path}/") if n.isdigit()]
        return max([last, *allocated])

    def _claim(
        self, key: HostnameKey, number: int, name: str, record_version: int, name_format: str
    ) -> bool:
        """Take number `number` (CAS on its record), then its name; False if the name is
        live elsewhere (a format shared between keys), which burns the number."""
        record = allocation_record(key, number, name, name_format, self.kv.mount)
        self.kv.write(f"allocations/{key.path}/{number}", record, cas=self._cas(record_version))
        if self.use_cas:
            # Almost always the name was never written: try that first (one request).
            try:
                self.kv.write(f"names/{name}", record, cas=0)
                return True
            except CasConflict:
                pass  # written before: live elsewhere, or released
        name_entry = self.kv.read(f"names/{name}")
        if name_entry.exists:
            return False
        try:
            self.kv.write(f"names/{name}", record, cas=self._cas(name_entry.version))
        except CasConflict:
            return False
        return True

    def _claim_released(self, key: HostnameKey, name_format: str) -> Allocation | None:
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
                if self._claim(key, number, name, entry.version, name_format):
                    return Allocation(key, number, name)
            except CasConflict:
                continue  # someone else reclaimed it first
        return None

    def lookup(self, name: str) -> NameLookup:
        """Whether `name` is held (and its record), released, or cannot be told."""
        return lookup_name(self.kv, name)

    def release(self, key: HostnameKey, number: int, name: str) -> None:
        self.kv.delete_latest(f"names/{name}")
        self.kv.delete_latest(f"allocations/{key.path}/{number}")


@dataclass
class _Counter:
    """This process's side of one counter: whose turn it is to move it, how many
    callers wait for a number, and numbers already reserved in Vault for them."""

    turn: threading.Lock = field(default_factory=threading.Lock)
    guard: threading.Lock = field(default_factory=threading.Lock)  # for `waiting`
    waiting: int = 0
    spare: list[int] = field(default_factory=list)  # only the turn's holder touches it


_COUNTERS: dict[tuple[str, str, HostnameKey], _Counter] = {}
_COUNTERS_LOCK = threading.Lock()


def _counter(address: str, mount: str, key: HostnameKey) -> _Counter:
    with _COUNTERS_LOCK:
        return _COUNTERS.setdefault((address, mount, key), _Counter())


def _numeric(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (0, name)
