"""Shares encrypted by Vault itself to the operators' OpenPGP keys.

At `sys/init` Vault encrypts share i to `pgp_keys[i]` and the root token to
`root_token_pgp_key`; Tarmak never sees them in the clear until it must
unseal, when the real `gpg` decrypts them with the private keys (agent or
smartcard) in `gnupg_home`. Tarmak never starts an agent of its own
(`--no-autostart`): the operator's agent must be running.
"""

from __future__ import annotations

import base64
import binascii
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.tarmak_side.config import KeyProtectionConfig, path_problem
from connector.tarmak_side.config_schema import PathCheck
from connector.tarmak_side.vault.errors import ProtectionFailed


def check_public_key(path: Path) -> None:
    """Refused, as when the config loaded, if another user could now change it."""
    problem = path_problem(path, PathCheck.FILE)
    if problem:
        raise ProtectionFailed(f"the OpenPGP public key {path}: {problem}")


def dearmor(path: Path) -> bytes:
    """The binary key of an ASCII-armored public key file (what Vault wants, base64'd)."""
    check_public_key(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ProtectionFailed(f"cannot read the OpenPGP public key {path}: {err}") from None
    try:
        start = lines.index("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        end = lines.index("-----END PGP PUBLIC KEY BLOCK-----", start)
        body = lines[start + 1 : end]
        body = body[body.index("") + 1 :] if "" in body else body
        data = "".join(line for line in body if not line.startswith("="))
        return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise ProtectionFailed(f"{path} is not an ASCII-armored OpenPGP public key") from None


@dataclass(frozen=True)
class PgpProtection:
    pgp_keys: tuple[Path, ...]
    root_token_pgp_key: Path
    gnupg_home: Path | None
    kind: str = "pgp"

    @classmethod
    def from_config(cls, settings: KeyProtectionConfig) -> PgpProtection:
        assert settings.root_token_pgp_key is not None
        return cls(settings.pgp_keys, settings.root_token_pgp_key, settings.gnupg_home)

    def _gpg(self, args: list[str], data: bytes, what: str, home: Path | None = None) -> bytes:
        if home is None and self.gnupg_home is not None:
            problem = path_problem(self.gnupg_home, PathCheck.DIRECTORY)
            if problem:
                raise ProtectionFailed(f"vault.key_protection.gnupg_home: {problem}")
        home = home or self.gnupg_home
        argv = ["gpg", "--batch", "--no-tty", "--no-autostart", "--quiet"]
        argv += ["--homedir", str(home)] if home else []
        try:
            done = subprocess.run(argv + args, input=data, capture_output=True, timeout=60)
        except FileNotFoundError:
            raise ProtectionFailed(f"cannot {what}: gpg is not installed") from None
        except subprocess.TimeoutExpired:
            raise ProtectionFailed(f"cannot {what}: gpg did not answer in 60 s") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.decode(errors="replace").split())[:400]
            hint = ""
            if "agent" in said or "secret key" in said.lower():
                hint = (
                    f"; is the gpg agent running for {home or '~/.gnupg'} with the "
                    "private key (or smartcard)?"
                )
            raise ProtectionFailed(f"cannot {what}: gpg failed: {said}{hint}")
        return done.stdout

    def check(self) -> None:
        """Every public key reads and can encrypt (else Vault's sys/init fails half-way)."""
        home = Path(tempfile.mkdtemp(prefix="tkg-"))
        try:
            for path in (*self.pgp_keys, self.root_token_pgp_key):
                listing = self._gpg(
                    ["--with-colons", "--import-options", "show-only", "--import"],
                    dearmor(path),
                    f"read the OpenPGP key {path}",
                    home,
                ).decode()
                records = [line.split(":") for line in listing.splitlines()]
                usable = any(
                    r[0] in ("pub", "sub") and len(r) > 11 and "e" in r[11] and r[1] not in "rei"
                    for r in records
                )
                if not usable:
                    raise ProtectionFailed(
                        f"the OpenPGP key {path} has no valid encryption (sub)key: Vault "
                        "could not encrypt a share to it"
                    )
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def protect(self, secret: bytes) -> str:
        """Encrypt to root_token_pgp_key, as Vault does the root token."""
        check_public_key(self.root_token_pgp_key)
        out = self._gpg(
            [
                "--trust-model",
                "always",
                "--recipient-file",
                str(self.root_token_pgp_key),
                "--encrypt",
            ],
            secret,
            f"encrypt to {self.root_token_pgp_key}",
        )
        return base64.b64encode(out).decode()

    def reveal(self, blob: str) -> bytes:
        try:
            # sys/init gives shares as hex of the OpenPGP message, the root token as base64.
            hexadecimal = len(blob) % 2 == 0 and all(c in "0123456789abcdef" for c in blob)
            message = bytes.fromhex(blob) if hexadecimal else base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            raise ProtectionFailed("a stored value is corrupted (not base64 OpenPGP)") from None
        return self._gpg(["--decrypt"], message, "decrypt a stored Vault secret")

    def prepare(self, count: int) -> None:
        """Nothing to fetch: Vault encrypts the shares and the root token itself."""

    def init_params(self, recovery: bool) -> dict[str, Any]:
        keys = [base64.b64encode(dearmor(p)).decode() for p in self.pgp_keys]
        return {
            "recovery_pgp_keys" if recovery else "pgp_keys": keys,
            "root_token_pgp_key": base64.b64encode(dearmor(self.root_token_pgp_key)).decode(),
        }

    def from_init(self, secrets: list[str]) -> tuple[str, ...]:
        return tuple(secrets)  # Vault encrypted them already
