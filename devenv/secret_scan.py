"""Find secrets where they must not be: in files, in any of the forms a program
could have written them.

A secret counts as found when the bytes of one of its *forms* occur in a file:
the text itself; JSON-escaped (as inside a JSON string); base64 and base64url of
it, at each of the three alignments it can have inside a longer base64 stream
(with or without padding); and, for a key share, the other spelling of the
same bytes (Vault gives each share as hex and as base64). Forms shorter than
`MIN_FORM` bytes are not looked for: they would match by chance.

    leaks = scan([state_dir, log_file], {"root token": token, "share 1": share})
    assert not leaks, describe(leaks)

Secrets can also be collected from a raw audit log (`log_raw = "true"`), which
records every token and key share a request carried or a response returned.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_FORM = 8
# Fields of Vault requests and responses whose values are secrets.
SECRET_FIELDS = frozenset(
    {
        "client_token",
        "root_token",
        "key",
        "keys",
        "keys_base64",
        "recovery_keys",
        "recovery_keys_base64",
        "encoded_token",
        "encoded_root_token",
        "otp",
        "token",
    }
)
_HEX = re.compile(r"^(?:[0-9a-f]{2})+$")


@dataclass(frozen=True)
class Leak:
    secret: str  # the secret's name, never its value
    form: str  # which form was found
    path: Path
    offset: int

    def __str__(self) -> str:
        return f"{self.secret} ({self.form}) in {self.path} at byte {self.offset}"


def _base64_forms(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The base64 characters that depend on `data` alone, at each alignment."""
    for prefix in range(3):
        encoded = base64.b64encode(bytes(prefix) + data)
        # Characters mixing prefix bits, and the last group mixing what follows, vary.
        start = (0, 2, 3)[prefix]
        end = 4 * ((prefix + len(data)) // 3)
        middle = encoded[start:end]
        yield f"base64 (offset {prefix})", middle
        yield f"base64url (offset {prefix})", middle.replace(b"+", b"-").replace(b"/", b"_")
    yield "base64", base64.b64encode(data)


def _other_spellings(secret: str) -> Iterator[tuple[str, bytes]]:
    """The raw bytes a hex or base64 key share spells, and their other spelling."""
    text = secret.strip()
    raw: bytes | None = None
    if _HEX.match(text):
        raw = bytes.fromhex(text)
        yield "as base64 (a hex share)", base64.b64encode(raw)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
        if raw is not None and len(raw) >= 16:
            yield "as hex (a base64 share)", raw.hex().encode()
            yield "as HEX (a base64 share)", raw.hex().upper().encode()
        else:
            raw = None
    if raw is not None and len(raw) >= 16:
        yield "raw bytes (decoded)", raw


def forms(secret: str) -> dict[str, bytes]:
    """Every form of `secret` that is worth looking for, by name."""
    text = secret.encode()
    found: dict[str, bytes] = {"plain": text}
    escaped = json.dumps(secret)[1:-1].encode()
    found["JSON-escaped"] = escaped
    found["JSON-escaped, ASCII only"] = json.dumps(secret, ensure_ascii=True)[1:-1].encode()
    found["JSON-escaped twice"] = json.dumps(json.dumps(secret))[1:-1][2:-2].encode()
    for name, value in _base64_forms(text):
        found[name] = value
    for name, value in _other_spellings(secret):
        found[name] = value
        if name != "raw bytes (decoded)":
            for inner, encoded in _base64_forms(value):
                found[f"{name}, {inner}"] = encoded
        else:
            for inner, encoded in _base64_forms(value):
                found[f"decoded, {inner}"] = encoded
    return {name: value for name, value in found.items() if len(value) >= MIN_FORM}


def files_under(paths: Iterable[Path]) -> Iterator[Path]:
    """Every regular file at or under `paths` (symlinks are not followed)."""
    for path in paths:
        if path.is_symlink():
            continue
        if path.is_file():
            yield path
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not child.is_symlink():
                    yield child


def scan(paths: Iterable[Path], secrets: Mapping[str, str]) -> list[Leak]:
    """Where any form of any secret occurs in the files at or under `paths`
    (one leak per secret and file: the first form found)."""
    wanted = {name: forms(secret) for name, secret in secrets.items() if secret}
    leaks = []
    for path in files_under(paths):
        try:
            content = path.read_bytes()
        except OSError:
            continue  # removed meanwhile (a socket's directory, a lock)
        for name, spellings in wanted.items():
            for form, value in spellings.items():
                offset = content.find(value)
                if offset >= 0:
                    leaks.append(Leak(name, form, path, offset))
                    break
    return leaks


def describe(leaks: Iterable[Leak]) -> str:
    return "secrets found:\n  " + "\n  ".join(str(leak) for leak in leaks)


def secrets_in_audit_log(paths: Iterable[Path]) -> dict[str, str]:
    """Every secret value a raw audit log (`log_raw = "true"`) recorded, named by
    where it was seen: the tokens requests carried and responses handed out, and
    the key shares requests sent and responses returned."""
    found: dict[str, str] = {}
    for path in paths:
        try:
            lines = path.read_bytes().splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines):
            if not line.startswith(b"{"):
                continue  # a server log line
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            for where, value in _secret_values(entry, ""):
                if value not in found.values() and not value.startswith("hmac-"):
                    found[f"{path.parent.name}:{number}:{where}"] = value
    return found


def _secret_values(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            inner = f"{where}.{key}" if where else str(key)
            if key in SECRET_FIELDS:
                yield from _strings(value, inner)
            else:
                yield from _secret_values(value, inner)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_values(value, f"{where}[{index}]")


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str) and node:
        yield where, node
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{where}[{index}]")
