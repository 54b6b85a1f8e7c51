"""A counter of one application/role/environment, moved forward with check-and-set.

When the counter's newest version was deleted, the seed proof of concept kept
writing cas=0 and failed forever. Here the next cas is the metadata's
current_version and the last number is recovered from the newest readable
version and the allocation records: a counter never goes back.
"""

from __future__ import annotations

import secrets

from provider.tarmak.hostnames.records import HostnameKey, render
from provider.tarmak.hostnames.rules import hostname_problem
from provider.tarmak.hostnames.store import KVStore
from provider.tarmak.vault_kv import Entry


class InvalidName(Exception):
    """The format makes a name that cannot be a hostname; nothing was written."""


class CounterStore:
    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    def bump(self, key: HostnameKey, name_format: str, count: int) -> tuple[int, str]:
        """Move the counter past `count` new numbers; the first of them and its name.
        The name is checked before the counter moves. Raises CasConflict when another
        writer moved it since it was read."""
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
        # The token tells this write from another writer's of the same number, should
        # it be tried again after its answer was lost (patience.py).
        self.kv.write(
            path, {"last": last + count, "claim": secrets.token_hex(8)}, cas=entry.version
        )
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
