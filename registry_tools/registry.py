"""The static registry tree (provider registry protocol v1) and a network mirror.

    .well-known/terraform.json                          service discovery
    signing-keys.json                                   the key new versions are signed with
    v1/providers/<ns>/tarmak/versions                   every published version
    v1/providers/<ns>/tarmak/<version>/download/<os>/<arch>
    store/<ns>/tarmak/<version>/...                     the files, written once
    mirror/<hostname>/<ns>/tarmak/{index.json,<version>.json,*.zip}

A staging and a production registry are two such trees, each with its own
base URL and signing key (registry_tools.promote copies between them).

Publishing is safe to run twice at once (the Teleport RFD's hazard: two
publishers each rewriting `versions` and losing the other's version): the
read-modify-write of the index happens under an exclusive lock file, and every
file is written to a temporary name and renamed into place. Files under
store/ are write-once: publishing an existing version with different bytes is
refused before anything is written, since it would break every user's lock
file. A version's download documents are written once too, so each version
keeps the key that signed it when the tree's key is rotated.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from registry_tools.archive import h1_hash, sha256_hex, zip_hash
from registry_tools.platforms import Target, package_warnings
from registry_tools.release import Release
from registry_tools.sign import SigningError, SigningKey, normalise_fingerprint, verify_detached
from registry_tools.versions import parse_version, sort_key

PROVIDER_TYPE = "tarmak"


class PublishError(Exception):
    pass


@dataclass(frozen=True)
class RegistryTree:
    root: Path
    namespace: str
    base_url: str  # where `root` is served, e.g. https://registry.example.com

    @property
    def provider_dir(self) -> Path:
        return self.root / "v1" / "providers" / self.namespace / PROVIDER_TYPE

    @property
    def versions_path(self) -> Path:
        return self.provider_dir / "versions"

    @property
    def keys_path(self) -> Path:
        return self.root / "signing-keys.json"

    def store_dir(self, version: str) -> Path:
        return self.root / "store" / self.namespace / PROVIDER_TYPE / version

    def download_path(self, version: str, os_name: str, arch: str) -> Path:
        return self.provider_dir / version / "download" / os_name / arch

    def url(self, path: Path) -> str:
        return f"{self.base_url.rstrip('/')}/{path.relative_to(self.root).as_posix()}"

    def versions(self) -> list[dict[str, Any]]:
        if not self.versions_path.exists():
            return []
        return list(json.loads(self.versions_path.read_text())["versions"])

    def version_entry(self, version: str) -> dict[str, Any] | None:
        return next((v for v in self.versions() if v["version"] == version), None)


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())  # a crash must leave the old document or the new, not none
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


@contextmanager
def publishing_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---- the tree's signing key ------------------------------------------------------


def _key_entry(key: SigningKey) -> dict[str, str]:
    return {"key_id": key.key_id, "ascii_armor": key.armored_public_key}


def signing_keys(tree: RegistryTree) -> dict[str, Any] | None:
    """{"current": key id, "keys": [{key_id, ascii_armor}, ...]}, or None before
    the first publish."""
    if not tree.keys_path.exists():
        return None
    return dict(json.loads(tree.keys_path.read_text()))


def _check_key(tree: RegistryTree, key: SigningKey) -> None:
    """New versions must be signed with the tree's current key (set by the first
    publish, changed only by rotate_key), so a staging key never signs production."""
    record = signing_keys(tree)
    if record is None:
        write_atomically(
            tree.keys_path, _json_bytes({"current": key.key_id, "keys": [_key_entry(key)]})
        )
    elif record["current"] != key.key_id:
        raise PublishError(
            f"{tree.root} signs new versions with key {record['current']}, not {key.key_id}; "
            "sign with that key, or rotate the tree's key first (registry-tools rotate-key)"
        )


def rotate_key(tree: RegistryTree, key: SigningKey, staging_fingerprint: str) -> bool:
    """Sign new versions with `key` from now on; published versions keep theirs.
    Returns False when `key` already is the current key.

    `staging_fingerprint` is the staging key production trusts, given from outside
    any tree as to promote: a tree rotated to it would let whoever holds the staging
    key sign production's versions, so it is refused."""
    if key.fingerprint == normalise_fingerprint(staging_fingerprint):
        raise PublishError(
            f"{key.key_id} is the staging key; refusing to rotate {tree.root} to it: "
            "production must sign with a key of its own (registry-tools new-key)"
        )
    with publishing_lock(tree.root):
        record = signing_keys(tree) or {"current": None, "keys": []}
        if record["current"] == key.key_id:
            return False
        if all(entry["key_id"] != key.key_id for entry in record["keys"]):
            record["keys"].append(_key_entry(key))
        record["current"] = key.key_id
        write_atomically(tree.keys_path, _json_bytes(record))
        return True


# ---- publishing ------------------------------------------------------------------


def _plan_store(release: Release, store: Path) -> list[tuple[Path, Path]]:
    """The files to write, after checking every one already stored is identical.

    Re-running the same release is fine: the signature differs (GPG signatures
    carry a timestamp) but signs identical SHA256SUMS, so the stored one stays."""
    writes = []
    for source in release.files():
        target = store / source.name
        if not target.exists():
            writes.append((source, target))
        elif source != release.signature and sha256_hex(target) != sha256_hex(source):
            raise PublishError(
                f"{release.version}: {target.name} is already published with different "
                "contents; publish a new version instead (changing it would break every "
                "lock file). Nothing was written."
            )
    return writes


def link_or_copy(source: Path, target: Path) -> None:
    """Publish `source` at `target` as a hard link when both are on one file system, so
    dist/ holds one copy of each zip; build.py replaces zips by rename, never in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".tmp-link-{os.getpid()}-{target.name}")
    try:
        os.link(source, temporary)
    except OSError:
        write_atomically(target, source.read_bytes())
        return
    os.replace(temporary, target)


def _stored_signer(tree: RegistryTree, release: Release, store: Path) -> SigningKey:
    """The key that made the stored signature: the release's, or one the tree knew."""
    record = signing_keys(tree) or {"keys": []}
    candidates = [release.key] + [SigningKey(e["key_id"], e["ascii_armor"]) for e in record["keys"]]
    for key in candidates:
        try:
            verify_detached(
                store / release.shasums.name, store / release.signature.name, key.armored_public_key
            )
        except SigningError:
            continue
        return key
    raise PublishError(f"{release.version}: the stored signature matches no known key")


def _download_document(
    tree: RegistryTree, release: Release, store: Path, target: Target, key: SigningKey
) -> dict[str, Any]:
    archive = store / release.zip_path(target).name
    return {
        "protocols": list(release.protocols),
        "os": target.os,
        "arch": target.arch,
        "filename": archive.name,
        "download_url": tree.url(archive),
        "shasums_url": tree.url(store / release.shasums.name),
        "shasums_signature_url": tree.url(store / release.signature.name),
        "shasum": sha256_hex(archive),
        "signing_keys": {
            "gpg_public_keys": [
                {
                    "key_id": key.key_id,
                    "ascii_armor": key.armored_public_key,
                    "trust_signature": "",
                    "source": "",
                    "source_url": None,
                }
            ]
        },
    }


def publish(release: Release, tree: RegistryTree) -> None:
    """Add `release` to the tree; a no-op if the same bytes are already there."""
    parse_version(release.version)
    if not release.protocols:
        raise PublishError(
            f"{release.version}: no plugin protocol versions (read them from the build)"
        )
    with publishing_lock(tree.root):
        store = tree.store_dir(release.version)
        writes = _plan_store(release, store)
        already = (store / release.shasums.name).exists()
        if not already:
            _check_key(tree, release.key)
        for source, target in writes:
            link_or_copy(source, target)
        write_atomically(
            tree.root / ".well-known" / "terraform.json",
            _json_bytes({"providers.v1": "/v1/providers/"}),
        )
        key = _stored_signer(tree, release, store) if already else release.key
        for platform in release.platforms:
            path = tree.download_path(release.version, platform.os, platform.arch)
            if not path.exists():
                write_atomically(
                    path, _json_bytes(_download_document(tree, release, store, platform, key))
                )
        _add_version(tree, release)


def _add_version(tree: RegistryTree, release: Release) -> None:
    entries = {entry["version"]: entry for entry in tree.versions()}
    known = entries.get(release.version, {}).get("platforms", [])
    platforms = {(p["os"], p["arch"]) for p in known} | {(t.os, t.arch) for t in release.platforms}
    entries[release.version] = {
        "version": release.version,
        "protocols": list(release.protocols),
        "platforms": [{"os": o, "arch": a} for o, a in sorted(platforms)],
    }
    ordered = sorted(entries.values(), key=lambda e: sort_key(e["version"]))
    document: dict[str, Any] = {"versions": ordered}
    # `terraform init` prints these ("Additional provider information from registry").
    # They follow from every version's platforms, so that a version published or
    # promoted without a build, or a later one with linux packages only, keeps them.
    published = (Target(p["os"], p["arch"]) for entry in ordered for p in entry["platforms"])
    if warnings := package_warnings(published):
        document["warnings"] = list(warnings)
    write_atomically(tree.versions_path, _json_bytes(document))


# ---- the network mirror ----------------------------------------------------------


def mirror_hostname(base_url: str, hostname: str | None = None) -> str:
    """The source-address hostname the mirror serves: `hostname`, or the base
    URL's host without its port.

    Terraform asks a network mirror for `<hostname>/<ns>/<type>/index.json`
    relative to the mirror URL, and parses that path as a URL first: with a
    port (`localhost:8443/jetstack/tarmak/index.json`) the hostname becomes a
    URL scheme and Terraform fails with `unsupported protocol scheme
    "localhost"` (1.0.3 to 1.11 alike). So a mirrored provider's source address
    cannot carry a port; the mirror's own URL may."""
    name = hostname or (urlsplit(base_url).hostname or "")
    if ":" in name or not name:
        raise PublishError(
            f"a network mirror cannot serve source addresses whose hostname has a port "
            f"({name!r}): Terraform resolves '{name}/<namespace>/tarmak/index.json' as a URL "
            "whose scheme is the hostname. Mirror it under a hostname without a port "
            "(--hostname); the mirror's URL itself may have one"
        )
    return name


def publish_mirror(release: Release, root: Path, hostname: str, namespace: str) -> Path:
    """A network mirror for air-gapped users (provider network mirror protocol)."""
    hostname = mirror_hostname("", hostname)
    directory = root / hostname / namespace / PROVIDER_TYPE
    with publishing_lock(root):
        archives = {}
        for target in release.platforms:
            source = release.zip_path(target)
            stored = directory / source.name
            if stored.exists() and sha256_hex(stored) != sha256_hex(source):
                raise PublishError(f"{stored.name} is already mirrored with different contents")
            archives[target.name] = {
                "url": source.name,
                "hashes": [h1_hash(source), zip_hash(source)],
            }
        for target in release.platforms:
            source = release.zip_path(target)
            if not (directory / source.name).exists():
                link_or_copy(source, directory / source.name)
        write_atomically(directory / f"{release.version}.json", _json_bytes({"archives": archives}))
        index_path = directory / "index.json"
        index = json.loads(index_path.read_text()) if index_path.exists() else {"versions": {}}
        index["versions"][release.version] = {}
        write_atomically(index_path, _json_bytes(index))
    return directory
