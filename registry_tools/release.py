"""A release: the signed set of files for one version, before it is published."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry_tools.archive import write_provider_zip, zip_name
from registry_tools.checksums import shasums_name, write_shasums
from registry_tools.manifest import manifest_name, write_manifest
from registry_tools.platforms import Target
from registry_tools.sign import SigningKey, describe_key, detach_sign


@dataclass(frozen=True)
class Release:
    version: str
    directory: Path
    platforms: tuple[Target, ...]
    key: SigningKey
    # Shown by `terraform init` ("Additional provider information from registry").
    warnings: tuple[str, ...] = ()

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

    def files(self) -> list[Path]:
        """Everything to publish; SHA256SUMS before its signature."""
        zips = [self.zip_path(t) for t in self.platforms]
        return [*zips, self.manifest, self.shasums, self.signature]


def make_release(
    version: str,
    executables: dict[Target, Path],
    directory: Path,
    gnupg_home: str | None,
    key_id: str | None,
) -> Release:
    """Zip each executable, write the manifest and SHA256SUMS, and sign them."""
    directory.mkdir(parents=True, exist_ok=True)
    zips = {
        t: write_provider_zip(exe, version, t.name, directory) for t, exe in executables.items()
    }
    return sign_release(version, zips, directory, gnupg_home, key_id)


def sign_release(
    version: str,
    zips: dict[Target, Path],
    directory: Path,
    gnupg_home: str | None,
    key_id: str | None,
    warnings: tuple[str, ...] = (),
) -> Release:
    """Write the manifest and SHA256SUMS beside built zips (in `directory`) and sign them."""
    key = describe_key(gnupg_home, key_id)
    for target, path in zips.items():
        if path.resolve() != (directory / zip_name(version, target.name)).resolve():
            raise ValueError(f"{path} is not where the release keeps {target.name}'s zip")
    manifest = write_manifest(version, directory)
    shasums = write_shasums([*zips.values(), manifest], version, directory)
    detach_sign(shasums, gnupg_home, key.key_id)
    return Release(version, directory, tuple(zips), key, warnings)
