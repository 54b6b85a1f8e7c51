"""The registry manifest: which plugin protocol versions a release speaks.

Written into every release as `_manifest.json` (the scaffolding's format),
with the protocols read from the built provider (registry_tools.protocols).
The repository root keeps the scaffolding's `terraform-registry-manifest.json`
too; a test checks it against what the provider offers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

ROOT_MANIFEST = Path(__file__).resolve().parents[1] / "terraform-registry-manifest.json"


def manifest_name(version: str) -> str:
    return f"terraform-provider-tarmak_{version}_manifest.json"


def manifest_body(protocols: Sequence[str]) -> dict[str, object]:
    return {"version": 1, "metadata": {"protocol_versions": list(protocols)}}


def write_manifest(version: str, directory: Path, protocols: Sequence[str]) -> Path:
    target = directory / manifest_name(version)
    target.write_text(json.dumps(manifest_body(protocols), indent=2) + "\n")
    return target


def manifest_protocols(path: Path) -> tuple[str, ...]:
    body = json.loads(path.read_text())
    return tuple(body["metadata"]["protocol_versions"])
