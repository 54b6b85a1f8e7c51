"""How stored key shares and tokens are protected: one small interface.

`protect(secret) -> blob` and `reveal(blob) -> secret`, where a blob is the
text kept in the keys file. `check()` proves, before Vault is initialised,
that protecting will work (so keys are never handed out with nowhere safe to
keep them). `init_params` lets a protection have Vault itself encrypt the
shares at `sys/init` (pgp); `from_init` turns what `sys/init` returned into
blobs. Every failure is a `ProtectionFailed` naming what failed.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.vault.errors import OperationFailed
from connector.tarmak_side.vault.pgp import PgpProtection
from connector.tarmak_side.vault.transit import TransitProtection

log = logging.getLogger(__name__)


class KeyProtection(Protocol):
    @property
    def kind(self) -> str: ...

    def check(self) -> None: ...

    def prepare(self, count: int) -> None: ...

    def protect(self, secret: bytes) -> str: ...

    def reveal(self, blob: str) -> bytes: ...

    def init_params(self, recovery: bool) -> dict[str, Any]: ...

    def from_init(self, secrets: list[str]) -> tuple[str, ...]: ...


class PlaintextFile:
    """Today's plaintext keys file (0600): only when env.yaml names it."""

    kind = "file"

    def __init__(self, source: str) -> None:
        log.warning(
            "Vault keys are kept in plaintext (vault.key_protection.kind: file in %s); "
            "anyone who can read the state directory can unseal Vault and use its token",
            source,
        )

    def check(self) -> None:
        pass

    def prepare(self, count: int) -> None:
        pass

    def protect(self, secret: bytes) -> str:
        return secret.decode()

    def reveal(self, blob: str) -> bytes:
        return blob.encode()

    def init_params(self, recovery: bool) -> dict[str, Any]:
        return {}

    def from_init(self, secrets: list[str]) -> tuple[str, ...]:
        return tuple(secrets)


def protection_for(
    config: EnvironmentConfig, kms_key_id: str | None, cluster: str, kind: str | None = None
) -> KeyProtection:
    """The protection env.yaml names (or, for reading stored keys, the one they record)."""
    settings = config.vault.key_protection
    wanted = kind or (settings.kind if settings else None)
    if wanted == "file":
        return PlaintextFile(config.source)
    if settings is None or settings.kind != wanted:
        raise OperationFailed(
            f"{config.source} names no vault.key_protection"
            + (
                f" of kind {wanted} (the stored keys of cluster {cluster!r} are {wanted})"
                if wanted
                else ""
            )
            + ": choose transit, pgp or file (see docs/vault-keys.md)"
        )
    if settings.kind == "transit":
        if not kms_key_id:
            raise OperationFailed(
                "vault_kms_key_id must name the KMS transit key that protects the keys "
                f"(vault.key_protection.kind is transit in {config.source})"
            )
        return TransitProtection.from_config(settings, kms_key_id, cluster)
    return PgpProtection.from_config(settings)
