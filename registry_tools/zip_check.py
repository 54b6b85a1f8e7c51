"""What a provider zip may hold before we sign it.

Terraform unpacks the zip into its plugin directory and starts the
executable at its top. Entries that are not plain files or directories, or
whose names leave that directory, are refused or mishandled by some
Terraform versions and are a way to write outside the plugin directory in
others, so a zip with any of them is never signed: symlinks, devices, FIFOs,
absolute names, `..` components, backslashes, NUL bytes, and two entries
with one name (which of them lands depends on the unzip). The executable
`terraform-provider-tarmak_v<VERSION>` must be there, a regular file with
its owner's execute bit, or Terraform cannot start it.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from registry_tools.archive import executable_name

# Creators whose entries carry a Unix mode in the high bits of the external
# attributes: Unix and macOS. Go's archive/zip, which Terraform unzips with,
# reads the mode of both, so both must be checked.
_UNIX_CREATORS = (3, 19)


class ZipContentError(Exception):
    pass


def entry_mode(info: zipfile.ZipInfo) -> int:
    """The Unix mode stored with an entry; 0 when the zip records none."""
    return (info.external_attr >> 16) & 0xFFFF if info.create_system in _UNIX_CREATORS else 0


def entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why this entry must not be in a provider zip, or None."""
    name = info.filename
    if not name or "\0" in name or "\\" in name:
        return f"entry {name!r} has an empty name, a NUL byte or a backslash"
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/"):
        return f"entry {name!r} is an absolute path"
    if ".." in path.parts:
        return f"entry {name!r} climbs out of the plugin directory with '..'"
    kind = stat.S_IFMT(entry_mode(info))
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"entry {name!r} is not a regular file or directory (mode {entry_mode(info):o})"
    return None


def check_provider_zip(archive: Path, version: str) -> None:
    """Raise ZipContentError naming the first problem that makes `archive` unsafe
    or unusable as the package of `version`."""
    try:
        with zipfile.ZipFile(archive) as package:
            entries = package.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise ZipContentError(f"{archive.name} is not a readable zip: {err}") from None
    seen: set[str] = set()
    for info in entries:
        problem = entry_problem(info)
        if problem is None and info.filename.rstrip("/") in seen:
            problem = f"entry {info.filename!r} appears twice"
        if problem is not None:
            raise ZipContentError(f"{archive.name}: {problem}; refusing to sign it")
        seen.add(info.filename.rstrip("/"))
    wanted = executable_name(version)
    found = next((i for i in entries if i.filename == wanted), None)
    if found is None:
        raise ZipContentError(f"{archive.name} has no {wanted} at its top; refusing to sign it")
    mode = entry_mode(found)
    if found.is_dir() or not mode & stat.S_IXUSR:
        raise ZipContentError(
            f"{archive.name}: {wanted} is not an executable file (mode {mode:o}); "
            "Terraform could not start it; refusing to sign it"
        )
