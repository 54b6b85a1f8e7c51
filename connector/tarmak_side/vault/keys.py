"""Stored keys with the protection that reveals them, revealed only when needed
and only into memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connector.tarmak_side.vault.errors import OperationFailed, ProtectionFailed
from connector.tarmak_side.vault.keystore import StoredKeys
from connector.tarmak_side.vault.protection import KeyProtection


@dataclass(frozen=True)
class ClusterKeys:
    stored: StoredKeys
    protection: KeyProtection
    path: Path

    def token(self) -> str:
        """The token Tarmak works with: its own, or the root token before it has one."""
        blob = self.stored.tarmak_token or self.stored.root_token
        if blob is None:
            raise OperationFailed(
                f"{self.path} holds no token for Vault: run `tarmak-controller replace-token` "
                "(see docs/vault-keys.md)"
            )
        return self._reveal(blob, "the token").decode()

    def root_token(self) -> str:
        if self.stored.root_token is None:
            raise OperationFailed(
                f"{self.path} holds no root token (it was revoked once Tarmak had its own): "
                "make one with `tarmak-controller generate-root`"
            )
        return self.reveal(self.stored.root_token, "the root token")

    def reveal(self, blob: str, what: str) -> str:
        return self._reveal(blob, what).decode()

    def shares(self) -> list[str]:
        """`threshold` shares in the clear; a share that cannot be revealed is skipped
        while enough others can be (pgp: each operator's key may be elsewhere)."""
        found: list[str] = []
        failures: list[str] = []
        for index, blob in enumerate(self.stored.shares):
            try:
                found.append(self._reveal(blob, f"share {index + 1}").decode().strip())
            except ProtectionFailed as err:
                failures.append(str(err))
            if len(found) == self.stored.threshold:
                return found
        raise ProtectionFailed(
            f"only {len(found)} of the {self.stored.threshold} shares needed could be revealed "
            f"from {self.path}: {'; '.join(failures)}"
        )

    def _reveal(self, blob: str, what: str) -> bytes:
        try:
            return self.protection.reveal(blob)
        except ProtectionFailed as err:
            raise ProtectionFailed(f"cannot reveal {what} stored in {self.path}: {err}") from None
