"""An OpenBao file audit device read back: one JSON record a line, from a byte
offset taken earlier (`size`), so a test sees only what happened since."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def size(path: Path) -> int:
    """Where the log ends now (0 before the device has written anything)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def records(path: Path, since: int = 0) -> list[dict[str, Any]]:
    """The request and response records written after byte offset `since`."""
    try:
        with open(path, "rb") as log:
            log.seek(since)
            lines = log.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        if not line.startswith(b"{"):
            continue  # a server log line, not an audit record
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if isinstance(raw, dict) and raw.get("type") in ("request", "response"):
            found.append(raw)
    return found
