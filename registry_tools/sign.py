"""Detached GPG signatures with the real `gpg`.

The signature is binary (not armored), as Terraform verifies it. Terraform
1.0.3 cannot verify Ed25519 signatures, so the key must be RSA. The key comes
from the caller's keyring (a key id, optionally with GNUPGHOME) or from an
armored private key file imported into a throwaway keyring.

gpg starts a gpg-agent for each GNUPGHOME it signs or imports secret keys in,
and that daemon outlives the command. Every throwaway keyring made here ends
its daemons (`gpgconf --kill all` with that GNUPGHOME) before its directory
is removed; the caller's own keyring and agent are left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class SigningError(Exception):
    pass


@dataclass(frozen=True)
class SigningKey:
    key_id: str  # long key id (16 hex digits), as the registry documents it
    armored_public_key: str
    fingerprint: str = ""  # 40 hex digits; empty when read from a registry document


def normalise_fingerprint(text: str) -> str:
    """A v4 OpenPGP fingerprint as 40 upper-case hex digits, spaces allowed in `text`."""
    value = "".join(text.split()).upper().removeprefix("0X")
    if len(value) != 40 or any(c not in "0123456789ABCDEF" for c in value):
        raise SigningError(
            f"{text!r} is not a key fingerprint: give all 40 hex digits "
            "(`gpg --fingerprint KEY`), not a key id"
        )
    return value


def _gpg(home: str | None, *args: str, input_bytes: bytes | None = None) -> bytes:
    env = {**os.environ}
    if home:
        env["GNUPGHOME"] = home
    proc = subprocess.run(
        ["gpg", "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", *args],
        input=input_bytes,
        capture_output=True,
        env=env,
    )
    if proc.returncode != 0:
        raise SigningError(f"gpg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def stop_agents(home: str | Path) -> None:
    """End the gpg-agent (and any other gpg daemon) serving this GNUPGHOME."""
    subprocess.run(
        ["gpgconf", "--kill", "all"],
        env={**os.environ, "GNUPGHOME": str(home)},
        capture_output=True,
        check=False,
    )


@contextmanager
def throwaway_home() -> Iterator[str]:
    """A fresh GNUPGHOME, its daemons ended and its directory removed afterwards."""
    scratch = tempfile.mkdtemp(prefix="tarmak-gpg-")
    os.chmod(scratch, 0o700)
    try:
        yield scratch
    finally:
        stop_agents(scratch)
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def keyring(key_file: Path | None, home: str | None) -> Iterator[str | None]:
    """The GNUPGHOME to sign with: a throwaway one holding `key_file`, or `home`."""
    if key_file is None:
        yield home
        return
    if not key_file.is_file():
        raise SigningError(f"signing key file {key_file} does not exist")
    _refuse_if_others_can_change(key_file)
    with throwaway_home() as scratch:
        _gpg(scratch, "--import", str(key_file))
        yield scratch


def _refuse_if_others_can_change(key_file: Path) -> None:
    """Whoever can replace the key file decides what the registry's users trust
    (as OpenSSH refuses such files): it must be ours (or root's), and writable
    by no one else."""
    st = key_file.stat()
    if st.st_uid not in (os.getuid(), 0):
        raise SigningError(
            f"signing key file {key_file} belongs to another user (uid {st.st_uid}); "
            "use a copy of your own"
        )
    if st.st_mode & 0o022:
        raise SigningError(
            f"signing key file {key_file} can be changed by other users "
            f"(mode {st.st_mode & 0o777:o}); run: chmod go-w {key_file}"
        )


def describe_key(home: str | None, key_id: str | None) -> SigningKey:
    """The signing key's long id and armored public key; it must be RSA."""
    listing = _gpg(home, "--with-colons", "--list-secret-keys", *([key_id] if key_id else []))
    lines = [line.split(":") for line in listing.decode().splitlines()]
    for index, fields in enumerate(lines):
        if fields[0] == "sec":
            algorithm, long_id = fields[3], fields[4]
            if algorithm != "1":  # 1 = RSA
                raise SigningError(
                    f"key {long_id} is not RSA (algorithm {algorithm}); "
                    "Terraform 1.0 verifies only RSA signatures"
                )
            # The primary key's fingerprint is the first "fpr" record after "sec".
            fingerprint = next((f[9] for f in lines[index:] if f[0] == "fpr"), "")
            public = _gpg(home, "--armor", "--export", long_id).decode()
            return SigningKey(long_id, public, fingerprint)
    raise SigningError(f"no secret key {key_id or ''} in the keyring".replace("  ", " "))


def detach_sign(path: Path, home: str | None, key_id: str) -> Path:
    signature = path.with_name(path.name + ".sig")
    signature.unlink(missing_ok=True)  # a new file: published trees may hard-link the old one
    _gpg(home, "--local-user", key_id, "--detach-sign", "--output", str(signature), str(path))
    return signature


def verify_detached(data: Path, signature: Path, armored_public_key: str) -> str:
    """Check `signature` over `data` with that public key alone, as Terraform
    does; return the signing key's fingerprint. Raises SigningError otherwise."""
    with throwaway_home() as scratch:
        _gpg(scratch, "--import", input_bytes=armored_public_key.encode())
        env = {**os.environ, "GNUPGHOME": scratch}
        proc = subprocess.run(
            [
                "gpg",
                "--batch",
                "--no-tty",
                "--status-fd",
                "1",
                "--verify",
                str(signature),
                str(data),
            ],
            capture_output=True,
            env=env,
        )
    for line in proc.stdout.decode(errors="replace").splitlines():
        fields = line.split()
        if proc.returncode == 0 and fields[:2] == ["[GNUPG:]", "VALIDSIG"]:
            return fields[-1]  # the primary key's fingerprint
    raise SigningError(
        f"{signature.name} is not a valid signature of {data.name} by the published key"
    )


def generate_key(home: str, name: str, email: str, bits: int = 4096) -> str:
    """A new RSA signing key without a passphrase in `home`; its long key id."""
    params = (
        "%no-protection\n"
        f"Key-Type: RSA\nKey-Length: {bits}\nKey-Usage: sign\n"
        f"Name-Real: {name}\nName-Email: {email}\nExpire-Date: 0\n%commit\n"
    )
    _gpg(home, "--gen-key", input_bytes=params.encode())
    return describe_key(home, email).key_id


def export_secret_key(home: str, key_id: str) -> str:
    return _gpg(home, "--armor", "--export-secret-keys", key_id).decode()
