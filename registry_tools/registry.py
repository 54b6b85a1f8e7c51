"""The static registry tree (provider registry protocol v1) and a network mirror.

    .well-known/terraform.json                          service discovery
    v1/providers/<ns>/tarmak/versions                   every published version
    v1/providers/<ns>/tarmak/<version>/download/<os>/<arch>
    store/<ns>/tarmak/<version>/...                     the files, written once
    mirror/<hostname>/<ns>/tarmak/{index.json,<version>.json,*.zip}

Publishing is safe to run twice at once (the Teleport RFD's hazard: two
publishers each rewriting `versions` and losing the other's version): the
read-modify-write of the index happens under an exclusive lock file, and every
file is written to a temporary name and renamed into place. Files under
store/ are write-once: publishing an existing version with different bytes is
refused, since it would break every user's lock file.
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

from registry_tools.archive import h1_hash, sha256_hex, zip_hash
from registry_tools.manifest import PROTOCOL_VERSIONS
from registry_tools.release import Release

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

    def store_dir(self, version: str) -> Path:
        return self.root / "store" / self.namespace / PROVIDER_TYPE / version

    def url(self, path: Path) -> str:
        return f"{self.base_url.rstrip('/')}/{path.relative_to(self.root).as_posix()}"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


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


def _store_once(source: Path, target: Path) -> None:
    if target.exists():
        if sha256_hex(target) != sha256_hex(source):
            raise PublishError(
                f"{target.name} is already published with different contents; "
                "publish a new version instead (changing it would break every lock file)"
            )
        return
    link_or_copy(source, target)


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


def _store_release(release: Release, store: Path) -> None:
    """Store the files once. Re-running the same release is fine: the signature
    differs (GPG signatures carry a timestamp) but signs identical SHA256SUMS, so
    the published one stays."""
    for path in release.files():
        if path == release.signature and (store / path.name).exists():
            continue
        _store_once(path, store / path.name)


def publish(release: Release, tree: RegistryTree) -> None:
    with publishing_lock(tree.root):
        store = tree.store_dir(release.version)
        _store_release(release, store)
        write_atomically(
            tree.root / ".well-known" / "terraform.json",
            _json_bytes({"providers.v1": "/v1/providers/"}),
        )
        key = {
            "key_id": release.key.key_id,
            "ascii_armor": release.key.armored_public_key,
            "trust_signature": "",
            "source": "",
            "source_url": None,
        }
        for target in release.platforms:
            archive = store / release.zip_path(target).name
            document = {
                "protocols": list(PROTOCOL_VERSIONS),
                "os": target.os,
                "arch": target.arch,
                "filename": archive.name,
                "download_url": tree.url(archive),
                "shasums_url": tree.url(store / release.shasums.name),
                "shasums_signature_url": tree.url(store / release.signature.name),
                "shasum": sha256_hex(archive),
                "signing_keys": {"gpg_public_keys": [key]},
            }
            path = tree.provider_dir / release.version / "download" / target.os / target.arch
            write_atomically(path, _json_bytes(document))
        _add_version(tree, release)


def _add_version(tree: RegistryTree, release: Release) -> None:
    index_path = tree.provider_dir / "versions"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"versions": []}
    entries = {entry["version"]: entry for entry in index["versions"]}
    known = entries.get(release.version, {}).get("platforms", [])
    platforms = {(p["os"], p["arch"]) for p in known} | {(t.os, t.arch) for t in release.platforms}
    entries[release.version] = {
        "version": release.version,
        "protocols": list(PROTOCOL_VERSIONS),
        "platforms": [{"os": o, "arch": a} for o, a in sorted(platforms)],
    }
    ordered = sorted(entries.values(), key=lambda e: _version_key(e["version"]))
    document: dict[str, Any] = {"versions": ordered}
    if release.warnings:  # e.g. what the darwin packages need; `terraform init` prints them
        document["warnings"] = list(release.warnings)
    write_atomically(index_path, _json_bytes(document))


def _version_key(version: str) -> tuple[int, ...]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    return tuple(int(part) if part.isdigit() else 0 for part in core.split("."))


def publish_mirror(release: Release, root: Path, hostname: str, namespace: str) -> Path:
    """A network mirror for air-gapped users (provider network mirror protocol)."""
    directory = root / hostname / namespace / PROVIDER_TYPE
    with publishing_lock(root):
        archives = {}
        for target in release.platforms:
            source = release.zip_path(target)
            _store_once(source, directory / source.name)
            archives[target.name] = {
                "url": source.name,
                "hashes": [h1_hash(source), zip_hash(source)],
            }
        write_atomically(directory / f"{release.version}.json", _json_bytes({"archives": archives}))
        index_path = directory / "index.json"
        index = json.loads(index_path.read_text()) if index_path.exists() else {"versions": {}}
        index["versions"][release.version] = {}
        write_atomically(index_path, _json_bytes(index))
    return directory
