"""The provider zip, exactly as Terraform expects it.

The executable `terraform-provider-tarmak_v<VERSION>` at the top level (and,
for the self-contained package, the `runtime/` tree beside it), each file's
mode recorded with the Unix creator (Terraform's unzip restores it, so the
executables stay executable), and no directory entries (a directory entry
changes Terraform's `h1:` hash and breaks mirror checks). Fixed timestamps
and sorted names make the zip reproducible for the same files.
"""

from __future__ import annotations

import base64
import hashlib
import stat
import zipfile
from pathlib import Path

_UNIX = 3
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def executable_name(version: str) -> str:
    return f"terraform-provider-tarmak_v{version}"


def zip_name(version: str, platform: str) -> str:
    return f"terraform-provider-tarmak_{version}_{platform}.zip"


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.create_system = _UNIX
    info.external_attr = ((stat.S_IFREG | mode) & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_provider_zip(executable: Path, version: str, platform: str, directory: Path) -> Path:
    """A package that is one executable file (the pex for darwin)."""
    target = directory / zip_name(version, platform)
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(_entry(executable_name(version), 0o755), executable.read_bytes())
    return target


def write_tree_zip(tree: Path, version: str, platform: str, directory: Path) -> Path:
    """A package that is a directory tree: the launcher and what it runs.

    Modes are normalised to 0755 (anything executable) or 0644, so the zip
    depends only on the files' contents."""
    if not (tree / executable_name(version)).is_file():
        raise FileNotFoundError(f"{tree} has no {executable_name(version)}")
    target = directory / zip_name(version, platform)
    files = sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    with zipfile.ZipFile(target, "w", compresslevel=9) as archive:
        for path in files:
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            with open(path, "rb") as handle:
                archive.writestr(_entry(path.relative_to(tree).as_posix(), mode), handle.read())
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
