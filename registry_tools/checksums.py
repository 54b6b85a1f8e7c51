"""`terraform-provider-tarmak_<VERSION>_SHA256SUMS` in sha256sum's text format."""

from __future__ import annotations

from pathlib import Path

from registry_tools.archive import sha256_hex


def shasums_name(version: str) -> str:
    return f"terraform-provider-tarmak_{version}_SHA256SUMS"


def write_shasums(files: list[Path], version: str, directory: Path) -> Path:
    """Two spaces between hash and name, no `*` (text mode), sorted by name."""
    lines = [f"{sha256_hex(path)}  {path.name}\n" for path in sorted(files, key=lambda p: p.name)]
    target = directory / shasums_name(version)
    target.unlink(missing_ok=True)  # a new file: published trees may hard-link the old one
    target.write_text("".join(lines))
    return target


def parse_shasums(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        entries[name] = digest
    return entries
