"""Each cluster's keys file: written once, never replaced, never lost.

Vault hands out a cluster's keys exactly once, in the answer to `sys/init`,
so the file's place is reserved first: a file of its own made exclusively
in the state directory, given room (`posix_fallocate`) and fsync'd with its
directory. Only then is Vault initialised; the answer is written into that
reserved file, fsync'd, and linked to its final name, which fails if any
file is there, so a crash leaves either no keys file or a whole one and two
writers can never both succeed. The directory and files are opened without
following symlinks and refused if another user owns them or could write
them (safe_paths.check_ours, on what was opened); a keys file is refused too
when group or others may read it, since it can hold a plaintext root token and
unseal key (`kind: file`, or the format from before protection). A state
directory others may read (0755) is accepted, as ~/.ssh is by OpenSSH and by
safe_paths.check_private_directory: its files are each kept from others.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from connector.tarmak_side.safe_paths import (
    UnsafePath,
    check_ours,
    check_unreadable,
    ensure_private_directory,
)
from connector.tarmak_side.vault.errors import OperationFailed

FORMAT = 2
RESERVED_BYTES = 64 * 1024  # far more than any keys file needs


class KeysConflict(OperationFailed):
    """Saving would replace stored keys, or the stored keys cannot be read."""


@dataclass(frozen=True)
class StoredKeys:
    """What the keys file holds. Shares and tokens are blobs of `protection`."""

    protection: str  # transit | pgp | file
    # The shares and tokens (and a step under way, which may hold new shares or
    # a retired token) are left out of repr: a log line or an error that shows
    # what is stored must not show them, protected or not.
    shares: tuple[str, ...] = field(repr=False)
    threshold: int
    root_token: str | None = field(repr=False)  # None once revoked for a Tarmak token
    recovery: bool = False  # shares are recovery keys: the cluster auto-unseals
    kms_key_id: str | None = None
    tarmak_token: str | None = field(default=None, repr=False)
    # A step under way (rekey, replace-token): what the next run needs to finish it.
    pending: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    version: int = field(default=FORMAT)
    generation: int = field(default=0, compare=False)  # from the file name, not stored

    def pending_step(self, name: str) -> Any:
        """What the step `name` under way recorded for its next run (None: none)."""
        return (self.pending or {}).get(name)

    def with_step(self, name: str, record: Any) -> StoredKeys:
        """These keys with the step `name` under way, beside any other step."""
        return replace(self, pending={**(self.pending or {}), name: record})

    def without_step(self, name: str) -> StoredKeys:
        """These keys with the step `name` done; any other step stays to be finished."""
        rest = {k: v for k, v in (self.pending or {}).items() if k != name}
        return replace(self, pending=rest or None)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["shares"] = list(self.shares)
        del data["generation"]
        return json.dumps(data, indent=1).encode()

    @classmethod
    def from_json(cls, raw: Any, path: Path) -> StoredKeys:
        if isinstance(raw, dict) and raw.get("version") is None and "unseal_key" in raw:
            # Written before key protection existed: one plaintext share.
            return cls(
                "file",
                (raw["unseal_key"],),
                1,
                raw.get("root_token"),
                False,
                raw.get("kms_key_id"),
                version=1,
            )
        try:
            return cls(
                protection=str(raw["protection"]),
                shares=tuple(str(s) for s in raw["shares"]),
                threshold=int(raw["threshold"]),
                root_token=raw.get("root_token"),
                recovery=bool(raw.get("recovery", False)),
                kms_key_id=raw.get("kms_key_id"),
                tarmak_token=raw.get("tarmak_token"),
                pending=raw.get("pending"),
                version=int(raw["version"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise KeysConflict(f"the Vault keys file {path} is not a keys file ({err})") from None


def _fsync_directory(fd: int) -> None:
    os.fsync(fd)


class KeyStore:
    """One `vault-<name>.json` (mode 0600) per cluster in a 0700 directory.

    A change (a token of Tarmak's own, new shares, rewrapped blobs) is a new
    generation `vault-<name>.g<N>.json`, written the same way; the highest
    generation is the current one. Files are only ever added, and older ones
    removed (`prune`) once a newer one is durable and in use: a run stopped at
    any point leaves whole files, and the next run carries on from the newest.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str, generation: int = 0) -> Path:
        suffix = f".g{generation}" if generation else ""
        return self.directory / f"vault-{name}{suffix}.json"

    def _generations(self, directory: int, name: str) -> list[int]:
        pattern = re.compile(rf"vault-{re.escape(name)}(?:\.g([1-9][0-9]*))?\.json")
        found = (pattern.fullmatch(entry) for entry in os.listdir(directory))
        return sorted(int(m.group(1) or 0) for m in found if m)

    @contextlib.contextmanager
    def _directory(self, create: bool) -> Iterator[int | None]:
        """The state directory, opened without following a symlink and checked."""
        if create and not self.directory.exists():
            try:
                ensure_private_directory(self.directory)
            except UnsafePath as err:
                raise OperationFailed(str(err)) from None
            parent = os.open(self.directory.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                _fsync_directory(parent)
            finally:
                os.close(parent)
        try:
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if create:
                raise
            yield None
            return
        except OSError as err:
            raise OperationFailed(
                f"cannot open the state directory {self.directory} ({err.strerror}); it must "
                "be a directory, not a symlink"
            ) from None
        try:
            _check_ours(fd, self.directory, "chmod 700")
            yield fd
        finally:
            os.close(fd)

    def load(self, name: str) -> StoredKeys | None:
        """The current (newest) generation, or None when no keys are stored."""
        with self._directory(create=False) as directory:
            if directory is None:
                return None
            generations = self._generations(directory, name)
            if not generations:
                return None
            path = self.path(name, generations[-1])
            try:
                fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
            except FileNotFoundError:
                return None
            except OSError as err:
                raise KeysConflict(f"cannot open the Vault keys file {path}: {err}") from None
            with os.fdopen(fd, "rb") as handle:
                _check_ours(fd, path, "chmod 600", keys_file=True)
                text = handle.read()
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise KeysConflict(f"cannot read the Vault keys file {path}: {err}") from None
        return replace(StoredKeys.from_json(raw, path), generation=generations[-1])

    def reserve(self, name: str, generation: int = 0) -> Reservation:
        """Show the keys can be kept, before there are any to keep."""
        path = self.path(name, generation)
        current = self.load(name)
        if current is not None and current.generation >= generation:
            raise KeysConflict(
                f"the Vault keys file {self.path(name, current.generation)} already exists"
            )
        spare = f".{path.name}.reserved"
        try:
            with self._directory(create=True) as directory:
                assert directory is not None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(spare, dir_fd=directory)  # left by a run that died before init
                flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                fd = os.open(spare, flags, 0o600, dir_fd=directory)
                try:
                    os.posix_fallocate(fd, 0, RESERVED_BYTES)
                    os.fsync(fd)
                    _fsync_directory(directory)
                except BaseException:
                    os.close(fd)
                    os.unlink(spare, dir_fd=directory)
                    raise
        except OSError as err:
            raise OperationFailed(
                f"cannot reserve the Vault keys file {path} ({err.strerror or err}): the "
                f"state directory {self.directory} must be writable, with free space, "
                "before Tarmak initialises Vault; it was not initialised"
            ) from None
        return Reservation(self, name, generation, fd, spare)

    def advance(self, name: str, keys: StoredKeys) -> StoredKeys:
        """Store `keys` as the next generation (durable on return)."""
        current = self.load(name)
        generation = current.generation + 1 if current is not None else 0
        self.reserve(name, generation).commit(keys)
        return replace(keys, generation=generation)

    def prune(self, name: str, below: int) -> None:
        """Remove generations older than `below` (once `below` is durable and in use)."""
        with self._directory(create=False) as directory:
            if directory is None:
                return
            for generation in self._generations(directory, name):
                if generation < below:
                    os.unlink(self.path(name, generation).name, dir_fd=directory)
            _fsync_directory(directory)

    def save(self, name: str, keys: StoredKeys) -> Path:
        """Write `keys` durably; a no-op when the same keys are already stored."""
        existing = self.load(name)
        if existing is not None:
            if existing == keys:
                return self.path(name)
            raise self._conflict(name, "it holds different keys")
        return self.reserve(name).commit(keys)

    def _conflict(self, name: str, why: str) -> KeysConflict:
        return KeysConflict(
            f"refusing to replace the Vault keys file {self.path(name)}: {why} for cluster "
            f"{name!r}, and replacing it would lose them"
        )


@dataclass
class Reservation:
    """A reserved, writable place for one cluster's keys (see KeyStore.reserve)."""

    store: KeyStore
    name: str
    generation: int
    fd: int
    spare: str

    def commit(self, keys: StoredKeys) -> Path:
        store, path = self.store, self.store.path(self.name, self.generation)
        data = keys.to_json()
        try:
            os.pwrite(self.fd, data, 0)  # into the space reserved: needs no new blocks
            os.ftruncate(self.fd, len(data))
            os.fsync(self.fd)
            with store._directory(create=False) as directory:
                assert directory is not None
                try:
                    os.link(
                        self.spare,
                        path.name,
                        src_dir_fd=directory,
                        dst_dir_fd=directory,
                        follow_symlinks=False,
                    )
                except FileExistsError:
                    if store.load(self.name) != keys:
                        raise store._conflict(
                            self.name, "another writer stored different keys"
                        ) from None
                _fsync_directory(directory)
        finally:
            self.release()
        return path

    def release(self) -> None:
        """Give the place up (nothing was stored, or it is linked already)."""
        if self.fd < 0:
            return
        os.close(self.fd)
        self.fd = -1
        with contextlib.suppress(OSError), self.store._directory(create=False) as directory:
            if directory is not None:
                os.unlink(self.spare, dir_fd=directory)
                _fsync_directory(directory)


def _check_ours(fd: int, path: Path, fix: str, *, keys_file: bool = False) -> None:
    """The directory or keys file as opened (not as its name leads now) is ours alone;
    a keys file is readable by its owner alone too: it may hold Vault's root token and
    unseal key in plaintext, and secrets are never readable by others."""
    st = os.fstat(fd)
    try:
        check_ours(
            st,
            path,
            owner_fix=f"Tarmak keeps Vault keys only in files of its own (chown it, then "
            f"{fix} {path})",
            mode_fix=f"group or others may write it, so Vault keys are not kept there; run "
            f"`{fix} {path}`",
        )
        if keys_file:
            check_unreadable(
                st, path, "a Vault keys file holds the cluster's unseal keys and root token"
            )
    except UnsafePath as err:
        raise OperationFailed(str(err)) from None
