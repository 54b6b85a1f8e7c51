"""A release: the signed set of files for one version, before it is published.

`sign_release` takes already-built zips (from this machine's build or from
builders elsewhere, e.g. darwin zips built on a Mac), checks each zip's
entries (registry_tools.zip_check) before anything is written, and adds what
makes them a release: the `_manifest.json` with the protocols read from the
built provider, the `_provenance.json` (registry_tools.provenance), the
SHA256SUMS over every zip, the manifest and the provenance, and its detached
signature.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from registry_tools.archive import write_provider_zip, zip_name
from registry_tools.checksums import shasums_name, write_shasums
from registry_tools.manifest import manifest_name, write_manifest
from registry_tools.platforms import Target
from registry_tools.protocols import release_protocols
from registry_tools.provenance import provenance_name, write_provenance
from registry_tools.sign import SigningKey, describe_key, detach_sign
from registry_tools.versions import parse_version
from registry_tools.zip_check import check_provider_zip


@dataclass(frozen=True)
class Release:
    version: str
    directory: Path
    platforms: tuple[Target, ...]
    key: SigningKey
    protocols: tuple[str, ...] = ()  # e.g. ("6.0", "5.0"), from the built provider

    def zip_path(self, target: Target) -> Path:
        return self.directory / zip_name(self.version, target.name)

    @property
    def shasums(self) -> Path:
        return self.directory / shasums_name(self.version)

    @property
    def signature(self) -> Path:
        return self.directory / (shasums_name(self.version) + ".sig")

    @property
    def manifest(self) -> Path:
        return self.directory / manifest_name(self.version)

    @property
    def provenance(self) -> Path:
        return self.directory / provenance_name(self.version)

    def files(self) -> list[Path]:
        """Everything to publish; SHA256SUMS before its signature. The provenance
        is optional: releases made before it existed are promoted without it."""
        zips = [self.zip_path(t) for t in self.platforms]
        extra = [self.provenance] if self.provenance.exists() else []
        return [*zips, self.manifest, *extra, self.shasums, self.signature]


def _checked_copy(source: Path, target: Path, scratch: Path, version: str) -> Path:
    """The zip to sign, checked: the build's own output where it lies, any other
    zip copied first into a file of our own and checked there. Not `source` itself:
    checked, then copied, it could change in between; and not a hard link to it:
    the store and the mirror link to the release's file, so a caller's file
    rewritten in place later (an upload, `cp` over it) would change signed bytes."""
    if source.resolve() == target.resolve():
        copy = source
    else:
        copy = scratch / target.name / source.name  # the error names the caller's file
        copy.parent.mkdir()
        shutil.copyfile(source, copy)
    check_provider_zip(copy, version)
    return copy


def sign_release(
    version: str,
    zips: Mapping[Target, Path],
    directory: Path,
    gnupg_home: str | None,
    key_id: str | None,
) -> Release:
    """Make a signed release of already-built zips (one per platform)."""
    parse_version(version)
    placed = {target: directory / zip_name(version, target.name) for target in zips}
    with tempfile.TemporaryDirectory(prefix="tarmak-release-") as scratch:
        checked = {
            target: _checked_copy(source, placed[target], Path(scratch), version)
            for target, source in zips.items()
        }
        directory.mkdir(parents=True, exist_ok=True)
        key = describe_key(gnupg_home, key_id)
        for target, copy in checked.items():
            if copy != placed[target]:
                placed[target].unlink(missing_ok=True)
                shutil.move(copy, placed[target])
    protocols = release_protocols({(t.os, t.arch): path for t, path in placed.items()})
    manifest = write_manifest(version, directory, protocols)
    provenance = write_provenance(version, placed, directory)
    shasums = write_shasums([*placed.values(), manifest, provenance], version, directory)
    detach_sign(shasums, gnupg_home, key.key_id)
    return Release(version, directory, tuple(zips), key, protocols)


def make_release(
    version: str,
    executables: dict[Target, Path],
    directory: Path,
    gnupg_home: str | None,
    key_id: str | None,
) -> Release:
    """Zip each built executable, then sign them as a release."""
    parse_version(version)
    directory.mkdir(parents=True, exist_ok=True)
    zips = {
        t: write_provider_zip(exe, version, t.name, directory) for t, exe in executables.items()
    }
    return sign_release(version, zips, directory, gnupg_home, key_id)
