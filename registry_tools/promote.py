"""Promote a version from the staging tree to production: the exact bytes tested.

The Teleport RFD re-packaged the original artifact at promotion because it
could not be sure the staging files were the ones built and tested. We can:
promotion copies the staging files into a scratch directory, verifies the
copies, and publishes those very copies, re-signed with production's key.

Trust comes from outside the staging tree. Whoever can write staging can
rewrite every file in it, its download documents and `signing-keys.json`
included, so a key read from there proves nothing: the staging key's
fingerprint is production's configuration (`--staging-fingerprint` or
TARMAK_STAGING_FINGERPRINT), and a SHA256SUMS not signed by exactly that key
is refused, naming the fingerprint that did sign it. The staging documents'
key is only used to read the signature; the pinned fingerprint decides.

Then every zip and the manifest are checked against SHA256SUMS and the
download documents, each zip's entries as for signing (registry_tools.
zip_check), the protocols against the signed manifest. Production refuses,
before writing anything, when it already holds different bytes for that
version.

Production always signs with its own key, given explicitly, and never with
the staging key: a new production tree would otherwise adopt whatever key
its first promotion used. SHA256SUMS lists the hashes of the zips, so
re-signing it changes no byte of any zip or of SHA256SUMS, and the `h1:`/
`zh:` hashes in users' lock files stay the same.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from registry_tools.archive import sha256_hex, zip_name
from registry_tools.checksums import parse_shasums, shasums_name
from registry_tools.manifest import manifest_name, manifest_protocols
from registry_tools.platforms import Target, parse_target
from registry_tools.provenance import provenance_name
from registry_tools.registry import PublishError, RegistryTree, publish, signing_keys
from registry_tools.release import Release
from registry_tools.sign import (
    SigningError,
    SigningKey,
    describe_key,
    detach_sign,
    normalise_fingerprint,
    verify_detached,
)
from registry_tools.versions import VersionError, parse_version
from registry_tools.zip_check import ZipContentError, check_provider_zip


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


def _staged_target(version: str, platform: Any) -> Target:
    """A platform staging's versions document names, only if it is one we build: its
    names become paths in both trees."""
    try:
        return parse_target(f"{platform['os']}_{platform['arch']}")
    except (KeyError, TypeError, ValueError):
        raise PromotionError(
            f"staging {version}: the versions document names an unknown platform {platform!r}"
        ) from None


def read_staged(tree: RegistryTree, version: str) -> Staged:
    entry = tree.version_entry(version)
    if entry is None:
        raise PromotionError(f"{version} is not published in {tree.root}")
    platforms, keys, shasums = [], set(), {}
    for platform in entry["platforms"]:
        target = _staged_target(version, platform)
        path = tree.download_path(version, target.os, target.arch)
        document: dict[str, Any] = json.loads(path.read_text())
        if document["filename"] != zip_name(version, target.name):
            # The name becomes a path on this machine before anything is verified.
            raise PromotionError(f"{path}: unexpected file name {document['filename']!r}")
        if tuple(document["protocols"]) != tuple(entry["protocols"]):
            raise PromotionError(f"{path}: protocols differ from the versions document")
        if _basename(document["shasums_url"]) != shasums_name(version):
            raise PromotionError(f"{path}: unexpected SHA256SUMS URL {document['shasums_url']}")
        if _basename(document["shasums_signature_url"]) != shasums_name(version) + ".sig":
            raise PromotionError(f"{path}: unexpected signature URL")
        for key in document["signing_keys"]["gpg_public_keys"]:
            keys.add(SigningKey(key["key_id"], key["ascii_armor"]))
        shasums[document["filename"]] = document["shasum"]
        platforms.append(target)
    if len(keys) != 1:
        raise PromotionError(f"{version}: the download documents name {len(keys)} signing keys")
    return Staged(version, tuple(platforms), tuple(entry["protocols"]), keys.pop(), shasums)


def verify_copy(staged: Staged, directory: Path, staging_fingerprint: str) -> None:
    """Everything Terraform checks at install, that the set is complete, and that
    the pinned staging key (not the one staging names) signed it."""
    sums_path = directory / shasums_name(staged.version)
    try:
        found = verify_detached(
            sums_path, sums_path.with_name(sums_path.name + ".sig"), staged.key.armored_public_key
        )
    except SigningError as err:
        raise PromotionError(f"staging {staged.version}: {err}") from None
    if normalise_fingerprint(found) != staging_fingerprint:
        raise PromotionError(
            f"staging {staged.version} is signed by key {found}, not by the staging key "
            f"{staging_fingerprint} that production trusts; refusing to promote it"
        )
    listed = parse_shasums(sums_path.read_text())
    manifest = manifest_name(staged.version)
    optional = {provenance_name(staged.version)}
    if set(listed) - optional != {*staged.shasums, manifest}:
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
    for name in staged.shasums:
        try:
            check_provider_zip(directory / name, staged.version)
        except ZipContentError as err:
            raise PromotionError(f"staging {staged.version}: {err}") from None
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
    staging_fingerprint: str,
    gnupg_home: str | None,
    key_id: str | None,
) -> Promotion:
    """Copy `version` from staging to production, verified and byte-identical.

    `staging_fingerprint` is the staging key production trusts; SHA256SUMS is
    signed anew with the production key from `gnupg_home`/`key_id`."""
    try:
        parse_version(version)
        pinned = normalise_fingerprint(staging_fingerprint)
    except (VersionError, SigningError) as err:
        raise PromotionError(str(err)) from None
    key = describe_key(gnupg_home, key_id)
    if key.fingerprint == pinned:
        raise PromotionError(
            f"the production signing key {key.key_id} is the staging key; production must "
            "sign with a key of its own (registry-tools new-key)"
        )
    staged = read_staged(staging, version)
    with tempfile.TemporaryDirectory(prefix="tarmak-promote-") as scratch:
        directory = Path(scratch)
        store = staging.store_dir(version)
        sums = shasums_name(version)
        names = [*staged.shasums, manifest_name(version), sums, sums + ".sig"]
        for name in names:
            if not (store / name).is_file():
                raise PromotionError(f"staging {version}: {name} is missing from {store}")
            shutil.copyfile(store / name, directory / name)
        provenance = provenance_name(version)
        if provenance in parse_shasums((directory / sums).read_text()):
            if not (store / provenance).is_file():
                raise PromotionError(f"staging {version}: {provenance} is missing from {store}")
            shutil.copyfile(store / provenance, directory / provenance)
        verify_copy(staged, directory, pinned)
        detach_sign(directory / sums, gnupg_home, key.key_id)
        record = signing_keys(production)
        new_here = production.version_entry(version) is None
        if new_here and record is not None and record["current"] != key.key_id:
            raise PromotionError(
                f"{production.root} signs new versions with key {record['current']}, and "
                f"{version} would be signed by {key.key_id}"
            )
        release = Release(version, directory, staged.platforms, key, staged.protocols)
        try:
            publish(release, production)
        except PublishError as err:
            raise PromotionError(f"production refuses {version}: {err}") from None
    return Promotion(version, production.store_dir(version), key.key_id, new_here)
