"""The registry manifest: which plugin protocol versions the provider speaks."""

from __future__ import annotations

import json
from pathlib import Path

PROTOCOL_VERSIONS = ("6.0", "5.0")


def manifest_name(version: str) -> str:
    return f"terraform-provider-tarmak_{version}_manifest.json"


def write_manifest(version: str, directory: Path) -> Path:
    target = directory / manifest_name(version)
    body = {"version": 1, "metadata": {"protocol_versions": list(PROTOCOL_VERSIONS)}}
    target.write_text(json.dumps(body, indent=2) + "\n")
    return target
