"""What the allocator needs of Vault's KV v2 engine, as a type it can be given.

The allocator takes any `KVStore`; the provider gives it a `KV2`, whose writes
check-and-set. Tests that must show what check-and-set prevents give it a
store that drops the check, instead of a switch in shipped code.
"""

from __future__ import annotations

from typing import Any, Protocol

from provider.tarmak.vault_kv import Entry


class KVStore(Protocol):
    @property
    def mount(self) -> str: ...

    @property
    def address(self) -> str: ...

    def read(self, path: str) -> Entry: ...

    def read_on_active(self, path: str) -> Entry | None: ...

    def current_version(self, path: str) -> int: ...

    def versions(self, path: str) -> dict[int, dict[str, Any]]: ...

    def read_version(self, path: str, version: int) -> dict[str, Any] | None: ...

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int: ...

    def delete_latest(self, path: str) -> None: ...

    def list(self, path: str) -> list[str]: ...
