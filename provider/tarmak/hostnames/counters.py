"""A counter of one application/role/environment, moved forward with check-and-set.

When the counter's newest version was deleted, the seed proof of concept kept
writing cas=0 and failed forever. Here the next cas is the metadata's
current_version and the last number is recovered from the newest readable
version and the allocation records: a counter never goes back.

A process that moved a counter remembers what it wrote (`Written`), and moves
it next time by writing against that version without reading it first: one
request instead of two. Check-and-set keeps that safe: if another writer
moved the counter meanwhile, the write is refused and the caller reads again.
"""

from __future__ import annotations

import secrets

from provider.prebuilt_dataclasses import dataclass
from provider.tarmak.hostnames.records import HostnameKey, render
from provider.tarmak.hostnames.rules import hostname_problem
from provider.tarmak.hostnames.store import KVStore
from provider.tarmak.vault_kv import Entry


class InvalidName(Exception):
    """The format makes a name that cannot be a hostname; nothing was written."""


@dataclass(frozen=True)
class Written:
    """What this process last wrote to a counter: its version, and the last number."""

    version: int
    last: int


class CounterStore:
    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    def bump(
        self, key: HostnameKey, name_format: str, count: int, known: Written | None = None
    ) -> tuple[int, str, Written]:
        """Move the counter past `count` new numbers; the first of them, its name, and
        what was written. The name is checked before the counter moves. With `known`
        (this process's last write), the counter is not read first. Raises
        CasConflict when another writer moved it since it was read or written."""
        path = f"counters/{key.path}"
        if known is not None:
            entry, last = Entry(known.version, None), known.last
        else:
            entry, last = self._read(key, path)
        name = render(name_format, key, last + 1)
        if problem := hostname_problem(name):
            raise InvalidName(problem)
        # The token tells this write from another writer's of the same number, should
        # it be tried again after its answer was lost (patience.py).
        version = self.kv.write(
            path, {"last": last + count, "claim": secrets.token_hex(8)}, cas=entry.version
        )
        return last + 1, name, Written(version, last + count)

    def _read(self, key: HostnameKey, path: str) -> tuple[Entry, int]:
        """The counter's newest version and its last number."""
        entry = self.kv.read(path)
        if entry.exists:
            assert entry.data is not None
            return entry, int(entry.data.get("last", 0))
        version = entry.version or self.kv.current_version(path)
        # a deleted newest version: recover the last number, never restart at 1
        last = self._recover_last(key, path) if version else 0
        return Entry(version, None), last

    def _recover_last(self, key: HostnameKey, path: str) -> int:
        last = 0
        for version in sorted(self.kv.versions(path), reverse=True):
            data = self.kv.read_version(path, version)
            if data is not None:
                last = int(data.get("last", 0))
                break
        allocated = [int(n) for n in self.kv.list(f"allocations/{key.path}/") if n.isdigit()]
        return max([last, *allocated])
