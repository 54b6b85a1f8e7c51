"""Refuse unsafe ground, as OpenSSH does, before a secret is read or written.

The state directory holds each Vault cluster's root token and unseal key and
the CA that Vault's TLS is checked against. If another user may write to it
(or to a directory above it), they can rename the keys file, delete the CA
file or plant one of their own before the first run: so the directory must
be ours and writable by us alone, and files in it are opened without
following symbolic links. A bastion private key others can read is refused
too (ssh itself refuses such a key), as is a Vault keys file others can read.
Files that decide what is trusted (env.yaml, CA certificates, PGP public keys,
known_hosts, a gnupg home) may be read by anyone, but are refused when someone
other than this user or root could change them or a directory above them.
Every refusal names the path, the mode found and the command that fixes it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path


class UnsafePath(Exception):
    """A path is not safe to keep or read secrets from; the message says why and the fix."""


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def check_ours(
    st: os.stat_result, path: Path, *, owner_fix: str, mode_fix: str, allow_root: bool = False
) -> None:
    """Refuse what another user owns, or what group or others may write: either could
    replace a secret or plant one. What to do about it depends on what `path` holds
    (a keys file must never be removed), so the caller's fixes end the messages.
    `allow_root`: root may own it too (a system CA bundle, /etc/ssh/ssh_known_hosts)."""
    if st.st_uid != os.geteuid() and not (allow_root and st.st_uid == 0):
        also = " or root" if allow_root else ""
        raise UnsafePath(
            f"{path} is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()}){also}: "
            f"{owner_fix}"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePath(f"{path} is mode {_mode(st)}: {mode_fix}")


def _holders(path: Path) -> list[Path]:
    """The directories whose writers could change what `path` leads to: each one above
    its real path, and each one above a symbolic link met on the way (whoever may write
    the directory a link is in may point the link elsewhere). Nearest first."""
    found = dict.fromkeys(Path(os.path.realpath(path)).parents)
    absolute = Path(os.path.abspath(path))
    for step in (absolute, *absolute.parents):
        if step.is_symlink():
            holder = Path(os.path.realpath(step.parent))
            found.update(dict.fromkeys((holder, *holder.parents)))
    return list(found)


def _check_ancestors(path: Path, what: str = "the state directory") -> None:
    """No one else may replace `path`: each directory above it is ours or root's,
    and writable by others only with the sticky bit (as /tmp is)."""
    for parent in _holders(path):
        try:
            st = os.stat(parent)
        except FileNotFoundError:
            continue  # made later, by us
        if st.st_uid not in (0, os.geteuid()):
            raise UnsafePath(
                f"{parent} (above {path}) is owned by uid {st.st_uid}, who could replace "
                f"{path}: keep {what} under directories you or root own"
            )
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            raise UnsafePath(
                f"{parent} (above {path}) is mode {_mode(st)}: others may rename "
                f"{path}; run `chmod go-w {parent}` or move {what}"
            )


def check_trusted(path: Path) -> os.stat_result:
    """Check a file or directory that decides what Tarmak trusts (env.yaml, a CA, a PGP
    public key, known_hosts, a gnupg home), and return its status (through a link).

    Anyone may read it: it holds nothing secret. But whoever may change it, or a
    directory above it, redirects Tarmak (to their KMS, their bastion, their PGP key),
    so it must be owned by this user or root and writable by no one else.
    """
    st = os.stat(path)
    check_ours(
        st,
        path,
        allow_root=True,
        owner_fix="whoever owns it decides what Tarmak trusts; use a copy of your own "
        f"(or, as root, `chown {os.geteuid()} {path}`)",
        mode_fix="group or others may change it, and with it what Tarmak trusts; "
        f"run `chmod go-w {path}`",
    )
    _check_ancestors(path, "it")
    return st


def check_private_directory(path: Path, *, follow_symlink: bool = False) -> bool:
    """Check the directory secrets are kept in; False when it does not exist yet.

    It must be a directory (a symbolic link only when `follow_symlink`), owned by
    this user and writable by no one else.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        _check_ancestors(path)
        return False
    if stat.S_ISLNK(st.st_mode):
        if not follow_symlink:
            raise UnsafePath(
                f"{path} is a symbolic link (to {os.readlink(path)}); use the directory's "
                "real path, or set follow_state_dir_symlink: true if the link is yours"
            )
        st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{path} is not a directory")
    check_ours(
        st,
        path,
        owner_fix=f"run `chown {os.geteuid()} {path}` or choose a directory of your own",
        mode_fix=f"others may add, rename or delete files in it; run `chmod 700 {path}`",
    )
    _check_ancestors(path)
    return True


def ensure_private_directory(path: Path, *, follow_symlink: bool = False) -> Path:
    """The checked directory, made with mode 0700 if it did not exist."""
    if not check_private_directory(path, follow_symlink=follow_symlink):
        with contextlib.suppress(FileExistsError):
            path.mkdir(parents=True, mode=0o700)
        check_private_directory(path, follow_symlink=follow_symlink)
    return path


def _check_open_file(fd: int, path: Path) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path} is not a regular file")
    check_ours(
        st,
        path,
        owner_fix=f"remove it (`rm {path}`) and let Tarmak write it again",
        mode_fix=f"others may write it; run `chmod 600 {path}`",
    )


def read_private_file(path: Path) -> bytes | None:
    """The content of a file in a checked directory (None if absent), never through a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as err:
        if os.path.islink(path):
            raise UnsafePath(f"{path} is a symbolic link: remove it (`rm {path}`)") from None
        raise UnsafePath(f"cannot open {path}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        _check_open_file(handle.fileno(), path)
        return handle.read()


def write_private_file(path: Path, content: bytes) -> None:
    """Put `content` at `path` (mode 0600) atomically; the temporary name is never followed."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def private_copy(
    directory: Path, name: str, content: bytes, *, follow_symlink: bool = False
) -> Path:
    """A file holding exactly `content` in the checked directory: an existing file with
    other content (planted, or left half-written) is replaced, one that is not ours
    or is writable by others is refused."""
    ensure_private_directory(directory, follow_symlink=follow_symlink)
    path = directory / name
    if read_private_file(path) != content:
        write_private_file(path, content)
    return path


SECRET_FILE_REASON = "only its owner may read a secret, as ssh requires of a key"


def check_unreadable(st: os.stat_result, path: Path, why: str) -> None:
    """Refuse a secret group or others have any permission on (as OpenSSH refuses an
    UNPROTECTED PRIVATE KEY FILE); `why` says what is at stake."""
    if st.st_mode & 0o077:
        raise UnsafePath(
            f"{path} is mode {_mode(st)}, open to others ({why}): run `chmod 600 {path}`"
        )


def check_secret_file(path: Path) -> None:
    """A private key or a token must be a file others cannot read (ssh refuses any
    other key). The reason names no one use: the same check guards both."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path} is not a file")
    check_unreadable(st, path, SECRET_FILE_REASON)
