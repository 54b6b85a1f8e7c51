"""Promote a version from the staging tree to production: the exact bytes tested.

The Teleport RFD re-packaged the original artifact at promotion because it
could not be sure the staging files were the ones built and tested. We can:
promotion copies the staging files into a scratch directory, verifies the
copies (the SHA256SUMS signature with the key the staging documents publish,
every zip and the manifest against SHA256SUMS and the download documents,
the protocols against the signed manifest), and publishes those very copies.
Production then refuses, before writing anything, when it already holds
different bytes for that version.

Staging and production may sign with different keys. SHA256SUMS lists the
hashes of the zips, so re-signing it with the production key changes no byte
of any zip or of SHA256SUMS, and the `h1:`/`zh:` hashes in users' lock files
stay the same. Without a production key the staging signature is kept, which
production accepts only if the staging key is production's current key.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from registry_tools.archive import sha256_hex
from registry_tools.checksums import parse_shasums, shasums_name
from registry_tools.manifest import manifest_name, manifest_protocols
from registry_tools.platforms import Target
from registry_tools.registry import PublishError, RegistryTree, publish, signing_keys
from registry_tools.release import Release
from registry_tools.sign import SigningError, SigningKey, describe_key, detach_sign, verify_detached


class PromotionError(Exception):
    pass


@dataclass(frozen=True)
class Promotion:
    version: str
    store: Path  # where production holds the files
    key_id: str  # the key whose signature production publishes for a new version
    changed: bool  # False: production already held these very bytes


@dataclass(frozen=True)
class Staged:
    """One version as the staging tree publishes it."""

    version: str
    platforms: tuple[Target, ...]
    protocols: tuple[str, ...]
    key: SigningKey
    shasums: dict[str, str]  # zip name -> sha256 the download documents state


def _basename(url: str) -> str:
    return Path(urlsplit(url).path).name


def read_staged(tree: RegistryTree, version: str) -> Staged:
    entry = tree.version_entry(version)
    if entry is None:
        raise PromotionError(f"{version} is not published in {tree.root}")
    platforms, keys, shasums = [], set(), {}
    for platform in entry["platforms"]:
        path = tree.download_path(version, platform["os"], platform["arch"])
        document: dict[str, Any] = json.loads(path.read_text())
        if tuple(document["protocols"]) != tuple(entry["protocols"]):
            raise PromotionError(f"{path}: protocols differ from the versions document")
        if _basename(document["shasums_url"]) != shasums_name(version):
            raise PromotionError(f"{path}: unexpected SHA256SUMS URL {document['shasums_url']}")
        if _basename(document["shasums_signature_url"]) != shasums_name(version) + ".sig":
            raise PromotionError(f"{path}: unexpected signature URL")
        for key in document["signing_keys"]["gpg_public_keys"]:
            keys.add(SigningKey(key["key_id"], key["ascii_armor"]))
        shasums[document["filename"]] = document["shasum"]
        platforms.append(Target(platform["os"], platform["arch"]))
    if len(keys) != 1:
        raise PromotionError(f"{version}: the download documents name {len(keys)} signing keys")
    return Staged(version, tuple(platforms), tuple(entry["protocols"]), keys.pop(), shasums)


def verify_copy(staged: Staged, directory: Path) -> None:
    """Everything Terraform checks at install, and that the set is complete."""
    sums_path = directory / shasums_name(staged.version)
    try:
        verify_detached(
            sums_path, sums_path.with_name(sums_path.name + ".sig"), staged.key.armored_public_key
        )
    except SigningError as err:
        raise PromotionError(f"staging {staged.version}: {err}") from None
    listed = parse_shasums(sums_path.read_text())
    manifest = manifest_name(staged.version)
    if set(listed) != {*staged.shasums, manifest}:
        raise PromotionError(
            f"staging {staged.version}: SHA256SUMS lists {sorted(listed)}, but the registry "
            f"documents {sorted(staged.shasums)} and {manifest}"
        )
    for name, listed_digest in listed.items():
        actual = sha256_hex(directory / name)
        documented = staged.shasums.get(name, listed_digest)
        if not actual == listed_digest == documented:
            raise PromotionError(
                f"staging {staged.version}: {name} has sha256 {actual}, but SHA256SUMS lists "
                f"{listed_digest}; refusing to promote it"
            )
    signed = manifest_protocols(directory / manifest_name(staged.version))
    if signed != staged.protocols:
        raise PromotionError(
            f"staging {staged.version}: the registry documents protocols {staged.protocols}, "
            f"the signed manifest {signed}"
        )


def promote(
    staging: RegistryTree,
    production: RegistryTree,
    version: str,
    gnupg_home: str | None = None,
    key_id: str | None = None,
    resign: bool = False,
) -> Promotion:
    """Copy `version` from staging to production, verified and byte-identical.

    With `resign`, SHA256SUMS is signed anew with the production key from
    `gnupg_home`/`key_id`; otherwise the staging signature is published."""
    staged = read_staged(staging, version)
    with tempfile.TemporaryDirectory(prefix="tarmak-promote-") as scratch:
        directory = Path(scratch)
        store = staging.store_dir(version)
        names = [*staged.shasums, manifest_name(version), shasums_name(version)]
        for name in [*names, shasums_name(version) + ".sig"]:
            if not (store / name).is_file():
                raise PromotionError(f"staging {version}: {name} is missing from {store}")
            shutil.copyfile(store / name, directory / name)
        verify_copy(staged, directory)
        key = staged.key
        if resign:
            key = describe_key(gnupg_home, key_id)
            detach_sign(directory / shasums_name(version), gnupg_home, key.key_id)
        record = signing_keys(production)
        new_here = production.version_entry(version) is None
        if new_here and record is not None and record["current"] != key.key_id:
            hint = "" if resign else "; pass production's signing key to re-sign SHA256SUMS"
            raise PromotionError(
                f"{production.root} signs new versions with key {record['current']}, and "
                f"{version} would be signed by {key.key_id}{hint}"
            )
        release = Release(version, directory, staged.platforms, key, staged.protocols)
        try:
            publish(release, production)
        except PublishError as err:
            raise PromotionError(f"production refuses {version}: {err}") from None
    return Promotion(version, production.store_dir(version), key.key_id, new_here)
