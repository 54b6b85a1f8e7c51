"""Envelope encryption with a KMS (a second OpenBao/Vault's transit engine).

Each secret gets a fresh data key from `transit/datakey/plaintext/<key>`;
the secret is sealed locally with AES-256-GCM (the cluster's name as
associated data, so a blob cannot be moved to another cluster) and only the
wrapped data key is kept. Revealing asks the KMS to unwrap the data key and
holds the secret in memory only. Rotating the KMS key rewraps data keys
without ever seeing a secret.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connector.tarmak_side.config import KeyProtectionConfig, path_problem
from connector.tarmak_side.config_schema import PathCheck
from connector.tarmak_side.vault.errors import ProtectionFailed

PREFIX = "transit:"


@dataclass(frozen=True)
class TransitProtection:
    address: str
    mount: str
    key: str
    token_file: Path
    context: str  # the cluster's name
    ca_cert: Path | None = None
    kind: str = "transit"
    # Data keys fetched ahead by prepare() (plaintext, wrapped), used by protect()
    # first. Secrets: never compared or shown.
    _ready: list[tuple[bytes, str]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_config(
        cls, settings: KeyProtectionConfig, key: str, context: str
    ) -> TransitProtection:
        assert settings.address and settings.token_file
        return cls(
            settings.address.rstrip("/"),
            settings.mount,
            key,
            settings.token_file,
            context,
            settings.ca_cert,
        )

    def _token(self) -> str:
        problem = path_problem(Path(self.token_file), PathCheck.SECRET_FILE)
        if problem:
            raise ProtectionFailed(f"vault.key_protection.token_file: {problem}")
        try:
            fd = os.open(self.token_file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as err:
            raise ProtectionFailed(
                f"cannot read the KMS token file {self.token_file}: {err.strerror}"
            ) from None
        with os.fdopen(fd) as handle:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if mode & 0o077:
                raise ProtectionFailed(
                    f"the KMS token file {self.token_file} has mode {mode:04o}: others may "
                    f"read it (chmod 600 {self.token_file})"
                )
            token = handle.read().strip()
        if not token:
            raise ProtectionFailed(f"the KMS token file {self.token_file} is empty")
        return token

    def _kms(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.address}/v1/{self.mount}/{path}"
        problem = self.ca_cert and path_problem(self.ca_cert, PathCheck.FILE)
        if problem:
            raise ProtectionFailed(f"vault.key_protection.ca_cert: {problem}")
        try:
            answer = requests.request(
                "POST" if body is not None else "GET",
                url,
                json=body,
                headers={"X-Vault-Token": self._token()},
                verify=str(self.ca_cert) if self.ca_cert else True,
                timeout=10,
            )
        except requests.exceptions.SSLError:
            raise ProtectionFailed(
                f"KMS {self.address}: TLS verification failed (check vault.key_protection.ca_cert)"
            ) from None
        except requests.RequestException as err:
            raise ProtectionFailed(
                f"KMS {self.address} is not answering ({type(err).__name__}); nothing was "
                "stored or changed"
            ) from None
        if answer.status_code != 200:
            try:
                errors = "; ".join(answer.json().get("errors") or [])
            except ValueError:
                errors = answer.text[:200]
            raise ProtectionFailed(
                f"KMS {self.address} refused {self.mount}/{path.split('/')[0]} with transit "
                f"key {self.key!r}: HTTP {answer.status_code} {errors}"
            )
        data = answer.json().get("data")
        if not isinstance(data, dict):
            raise ProtectionFailed(f"KMS {self.address} answered {path} without data")
        return data

    def check(self) -> None:
        """The key exists and a secret makes the round trip."""
        self._kms(f"keys/{self.key}")
        if self.reveal(self.protect(b"tarmak check")) != b"tarmak check":
            raise ProtectionFailed(f"KMS {self.address}: the round trip changed the secret")

    def prepare(self, count: int) -> None:
        """Fetch `count` data keys now. The sys/init answer exists only in this
        process's memory until it is stored, so protecting it must not wait on N+1
        round trips to the KMS: with the keys fetched first, it is local work."""
        while len(self._ready) < count:
            self._ready.append(self._data_key())

    def _data_key(self) -> tuple[bytes, str]:
        data = self._kms(f"datakey/plaintext/{self.key}", {"bits": 256})
        return base64.b64decode(data["plaintext"]), data["ciphertext"]

    def protect(self, secret: bytes) -> str:
        data_key, wrapped = self._ready.pop() if self._ready else self._data_key()
        nonce = os.urandom(12)
        sealed = AESGCM(data_key).encrypt(nonce, secret, self.context.encode())
        return PREFIX + json.dumps(
            {
                "key": self.key,
                "wrapped": wrapped,
                "nonce": base64.b64encode(nonce).decode(),
                "sealed": base64.b64encode(sealed).decode(),
            }
        )

    def _parse(self, blob: str) -> dict[str, str]:
        try:
            fields = json.loads(blob.removeprefix(PREFIX))
            if not blob.startswith(PREFIX) or not all(
                isinstance(fields.get(k), str) for k in ("key", "wrapped", "nonce", "sealed")
            ):
                raise ValueError("fields missing")
            return dict(fields)
        except (ValueError, AttributeError):
            raise ProtectionFailed(
                "a stored value is corrupted (not a transit-protected blob)"
            ) from None

    def reveal(self, blob: str) -> bytes:
        fields = self._parse(blob)
        data = self._kms(f"decrypt/{fields['key']}", {"ciphertext": fields["wrapped"]})
        try:
            data_key = base64.b64decode(data["plaintext"])
            return AESGCM(data_key).decrypt(
                base64.b64decode(fields["nonce"]),
                base64.b64decode(fields["sealed"]),
                self.context.encode(),
            )
        except (InvalidTag, ValueError, KeyError):
            raise ProtectionFailed(
                f"a stored value for cluster {self.context!r} is corrupted or was protected "
                "for another cluster (its seal does not verify)"
            ) from None

    def rewrap(self, blob: str) -> str:
        """The same secret under the KMS key's newest version; the secret is never seen."""
        fields = self._parse(blob)
        data = self._kms(f"rewrap/{fields['key']}", {"ciphertext": fields["wrapped"]})
        return PREFIX + json.dumps({**fields, "wrapped": data["ciphertext"]})

    def rotate(self) -> None:
        self._kms(f"keys/{self.key}/rotate", {})

    def init_params(self, recovery: bool) -> dict[str, Any]:
        return {}

    def from_init(self, secrets: list[str]) -> tuple[str, ...]:
        return tuple(self.protect(s.encode()) for s in secrets)
