"""Detached GPG signatures with the real `gpg`.

The signature is binary (not armored), as Terraform verifies it. Terraform
1.0.3 cannot verify Ed25519 signatures, so the key must be RSA. The key comes
from the caller's keyring (a key id, optionally with GNUPGHOME) or from an
armored private key file imported into a throwaway keyring.
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


@contextmanager
def keyring(key_file: Path | None, home: str | None) -> Iterator[str | None]:
    """The GNUPGHOME to sign with: a throwaway one holding `key_file`, or `home`."""
    if key_file is None:
        yield home
        return
    scratch = tempfile.mkdtemp(prefix="tarmak-gpg-")
    os.chmod(scratch, 0o700)
    try:
        _gpg(scratch, "--import", str(key_file))
        yield scratch
    finally:
        # Signing started a gpg-agent for this keyring: end it with the keyring.
        subprocess.run(
            ["gpgconf", "--kill", "gpg-agent"],
            env={**os.environ, "GNUPGHOME": scratch},
            capture_output=True,
        )
        shutil.rmtree(scratch, ignore_errors=True)


def describe_key(home: str | None, key_id: str | None) -> SigningKey:
    """The signing key's long id and armored public key; it must be RSA."""
    listing = _gpg(home, "--with-colons", "--list-secret-keys", *([key_id] if key_id else []))
    for line in listing.decode().splitlines():
        fields = line.split(":")
        if fields[0] == "sec":
            algorithm, long_id = fields[3], fields[4]
            if algorithm != "1":  # 1 = RSA
                raise SigningError(
                    f"key {long_id} is not RSA (algorithm {algorithm}); "
                    "Terraform 1.0 verifies only RSA signatures"
                )
            public = _gpg(home, "--armor", "--export", long_id).decode()
            return SigningKey(long_id, public)
    raise SigningError(f"no secret key {key_id or ''} in the keyring".replace("  ", " "))


def detach_sign(path: Path, home: str | None, key_id: str) -> Path:
    signature = path.with_name(path.name + ".sig")
    _gpg(home, "--local-user", key_id, "--detach-sign", "--output", str(signature), str(path))
    return signature
