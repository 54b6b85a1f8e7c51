"""The provider zip, exactly as Terraform expects it.

One file entry at the top level, `terraform-provider-tarmak_v<VERSION>`,
mode 0755 recorded with the Unix creator, and no directory entries (a
directory entry changes Terraform's `h1:` hash and breaks mirror checks).
A fixed timestamp makes the zip reproducible for the same executable.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

_UNIX = 3
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def executable_name(version: str) -> str:
    return f"terraform-provider-tarmak_v{version}"


def zip_name(version: str, platform: str) -> str:
    return f"terraform-provider-tarmak_{version}_{platform}.zip"


def write_provider_zip(executable: Path, version: str, platform: str, directory: Path) -> Path:
    target = directory / zip_name(version, platform)
    info = zipfile.ZipInfo(executable_name(version), date_time=_FIXED_TIME)
    info.create_system = _UNIX
    info.external_attr = (0o100755 & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(info, executable.read_bytes())
    return target


def sha256_hex(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def zip_hash(path: Path) -> str:
    """Terraform's legacy `zh:` hash: the SHA-256 of the zip file itself."""
    return f"zh:{sha256_hex(path)}"


def h1_hash(path: Path) -> str:
    """Terraform's `h1:` hash of a provider package (Go's dirhash Hash1 over the
    zip's file entries): SHA-256 over sorted "<sha256 hex>  <name>" lines."""
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if not n.endswith("/"))
        summary = "".join(
            f"{hashlib.sha256(archive.read(name)).hexdigest()}  {name}\n" for name in names
        )
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
