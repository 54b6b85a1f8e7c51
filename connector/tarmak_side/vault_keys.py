"""The root token and unseal key of each Vault cluster, kept so they are never lost.

Vault hands out a cluster's keys exactly once, in the answer to `sys/init`.
So the keys file is written before anything else is done with the cluster,
and made durable (the file and its directory fsync'd) before `save` returns.
A keys file is never replaced: saving different keys under a name that
already has keys is refused with an error naming the file. The file is made
under a temporary name and linked into place, so a crash leaves either no
file or a whole one, and two writers can never both succeed.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


class KeysConflict(Exception):
    """Saving would replace stored keys with different ones."""


@dataclass(frozen=True)
class ClusterKeys:
    root_token: str
    unseal_key: str
    kms_key_id: str | None = None

    def same_keys(self, other: ClusterKeys) -> bool:
        return (self.root_token, self.unseal_key) == (other.root_token, other.unseal_key)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class KeyStore:
    """One `vault-<name>.json` (mode 0600) per cluster in a 0700 directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"vault-{name}.json"

    def load(self, name: str) -> ClusterKeys | None:
        path = self.path(name)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise KeysConflict(f"cannot read the Vault keys file {path}: {err}") from None
        if not isinstance(raw, dict) or not {"root_token", "unseal_key"} <= raw.keys():
            raise KeysConflict(f"the Vault keys file {path} has no root_token and unseal_key")
        return ClusterKeys(raw["root_token"], raw["unseal_key"], raw.get("kms_key_id"))

    def save(self, name: str, keys: ClusterKeys) -> Path:
        """Write `keys` durably; a no-op when the same keys are already stored."""
        path = self.path(name)
        existing = self.load(name)
        if existing is not None:
            if existing.same_keys(keys):
                return path
            raise KeysConflict(
                f"refusing to replace the Vault keys file {path}: it holds different keys "
                f"for cluster {name!r}, and replacing it would lose them"
            )
        created = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if created:
            _fsync_directory(self.directory.parent)
        temporary = self.directory / f".{path.name}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(asdict(keys), out)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)  # fails if a file appeared meanwhile: never clobber
            except FileExistsError:
                stored = self.load(name)
                if stored is None or not stored.same_keys(keys):
                    raise KeysConflict(
                        f"refusing to replace the Vault keys file {path}: another writer "
                        "stored different keys first"
                    ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        _fsync_directory(self.directory)
        return path
