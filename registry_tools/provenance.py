"""The signed record of what a release was built from, so anyone can rebuild it.

`terraform-provider-tarmak_<VERSION>_provenance.json` sits beside the zips
and is listed in SHA256SUMS, so the release signature covers it. It names
the commit of the checkout that made the release (and whether that checkout
had uncommitted changes), and for each zip its sha256 and the inputs the
package records about itself: `runtime/BUILDINFO` of a self-contained
package (Debian package versions, wheel file names and sha256) or the
distributions PEX-INFO lists for a pex. With the same commit, Debian
versions and wheels, `registry-tools package` makes byte-identical zips from
any checkout path (tests/e2e/test_registry.py builds twice to prove it), so
a user can rebuild and compare the sha256.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from registry_tools.archive import sha256_hex
from registry_tools.platforms import Target

ROOT = Path(__file__).resolve().parents[1]
BUILDINFO = "runtime/BUILDINFO"


def provenance_name(version: str) -> str:
    return f"terraform-provider-tarmak_{version}_provenance.json"


def source_commit(project: Path = ROOT) -> dict[str, Any]:
    """{"commit": sha or None, "dirty": bool or None}: None outside a git checkout."""

    def git(*args: str) -> str | None:
        proc = subprocess.run(
            ["git", "-C", str(project), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit.strip() if commit else None,
        "dirty": None if status is None else bool(status.strip()),
    }


def package_inputs(archive: Path) -> dict[str, Any]:
    """What a zip says it was built from: BUILDINFO lines, or a pex's distributions."""
    with zipfile.ZipFile(archive) as package:
        names = set(package.namelist())
        if BUILDINFO in names:
            return {"buildinfo": package.read(BUILDINFO).decode().splitlines()}
        for name in sorted(n for n in names if "/" not in n):
            try:  # a pex is itself a zip, after its sh-boot header
                with zipfile.ZipFile(io.BytesIO(package.read(name))) as pex:
                    info = json.loads(pex.read("PEX-INFO"))
            except (zipfile.BadZipFile, KeyError, ValueError):
                continue
            return {"pex_distributions": dict(sorted(info.get("distributions", {}).items()))}
    return {}


def write_provenance(
    version: str, zips: Mapping[Target, Path], directory: Path, project: Path = ROOT
) -> Path:
    packages = {
        target.name: {"filename": path.name, "sha256": sha256_hex(path), **package_inputs(path)}
        for target, path in sorted(zips.items(), key=lambda item: item[0].name)
    }
    body = {"version": version, "source": source_commit(project), "packages": packages}
    target = directory / provenance_name(version)
    target.unlink(missing_ok=True)  # a new file: published trees may hard-link the old one
    target.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    return target
