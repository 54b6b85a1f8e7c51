"""Taking a number and its name for good, and giving them back.

The allocation record is written with cas=0 (or the version of a released
record, when reusing) and the name index with cas=0 or the version of a
released name, so a number or a name is never held twice. Release soft-deletes
both: the history stays, and the counter never goes back.
"""

from __future__ import annotations

from provider.tarmak.hostnames.records import HostnameKey, allocation_record, render
from provider.tarmak.hostnames.store import KVStore
from provider.tarmak.vault_kv import CasConflict


class Claims:
    def __init__(self, kv: KVStore) -> None:
        self.kv = kv

    def claim(
        self, key: HostnameKey, number: int, name: str, record_version: int, name_format: str
    ) -> bool:
        """Take number `number` (CAS on its record), then its name; False if the name is
        live elsewhere (a format shared between keys), which burns the number."""
        record = allocation_record(key, number, name, name_format, self.kv.mount)
        self.kv.write(f"allocations/{key.path}/{number}", record, cas=record_version)
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
            self.kv.write(f"names/{name}", record, cas=name_entry.version)
        except CasConflict:
            return False
        return True

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
