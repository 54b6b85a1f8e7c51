"""The records tarmak_hostname keeps in Vault, and what they mean for Terraform state.

One home for the record's fields (written by the allocator), for the state a
record maps to (import and `terraform query` both build it), and for the
question refresh asks: is this name still held, released, or can we not tell?
"""

from __future__ import annotations

import datetime
import os
import secrets
import socket
from enum import Enum
from typing import Any

from provider.prebuilt_dataclasses import dataclass
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT, KEY_ATTRIBUTES
from provider.tarmak.hostnames.store import KVStore

_WHO = f"terraform-provider-tarmak (pid {os.getpid()}, {socket.gethostname()})"


@dataclass(frozen=True)
class HostnameKey:
    application: str
    role: str
    environment: str

    @property
    def path(self) -> str:
        return f"{self.application}/{self.role}/{self.environment}"


def render(name_format: str, key: HostnameKey, number: int) -> str:
    return name_format.format(
        application=key.application, role=key.role, environment=key.environment, number=number
    )


def allocation_record(
    key: HostnameKey, number: int, name: str, name_format: str, mount: str
) -> dict[str, Any]:
    """What is written for an allocation, under its number and under its name.
    `claim` is this allocation's own token: a write tried again after its answer
    was lost tells its own earlier attempt from someone else's (patience.py)."""
    return {
        "application": key.application,
        "role": key.role,
        "environment": key.environment,
        "number": number,
        "name": name,
        "format": name_format,
        "mount": mount,
        "allocated_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "allocated_by": _WHO,
        "claim": secrets.token_hex(8),
    }


def record_number(record: dict[str, Any]) -> int | None:
    number = record.get("number")
    if isinstance(number, bool) or not isinstance(number, int | str):
        return None
    if isinstance(number, str):
        return int(number) if number.isdigit() and len(number) < 20 else None
    return number


def state_from_record(record: dict[str, Any], mount: str, name: str) -> dict[str, Any] | None:
    """The tarmak_hostname state of a live record; None when the record was not
    written by this provider (no application, role, environment or number)."""
    number = record_number(record)
    parts = [record.get(k) for k in KEY_ATTRIBUTES]
    if number is None or not all(isinstance(v, str) for v in parts):
        return None
    name_format = record.get("format")
    return {
        "application": parts[0],
        "role": parts[1],
        "environment": parts[2],
        "format": name_format if isinstance(name_format, str) else DEFAULT_FORMAT,
        "kv_mount": mount,
        "reuse_released_numbers": False,
        "name": name,
        "number": number,
        "id": name,
    }


class NameStatus(Enum):
    LIVE = "live"
    RELEASED = "released"  # proven: the metadata shows the name's newest version deleted
    UNCERTAIN = "uncertain"  # absent on a node that may be behind, and no active node to ask


@dataclass(frozen=True)
class NameLookup:
    status: NameStatus
    record: dict[str, Any] | None = None


def lookup_name(kv: KVStore, name: str) -> NameLookup:
    """Whether `name` is held, released, or unknown. A bare absence is asked again
    of the active node: a standby that is behind answers 404 for a live name."""
    path = f"names/{name}"
    entry = kv.read(path)
    if entry.exists:
        return NameLookup(NameStatus.LIVE, entry.data)
    if entry.released:
        return NameLookup(NameStatus.RELEASED)
    active = kv.read_on_active(path)
    if active is None:
        return NameLookup(NameStatus.UNCERTAIN)
    if active.exists:
        return NameLookup(NameStatus.LIVE, active.data)
    # The active node decides: released, or never written (its metadata removed).
    return NameLookup(NameStatus.RELEASED)
