"""What resources receive from the provider block. Kept free of heavy imports:
the provider must start fast, and only resources that talk to Vault load hvac,
and only waiting resources load the connector client, when they first do.

ProviderSettings lives here, not beside the provider block, so that resources
and the provider block each import it without importing each other.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from provider.prebuilt_dataclasses import dataclass, field

if TYPE_CHECKING:
    from provider.framework.diagnostics import Diagnostics
    from provider.tarmak.client import TarmakClient


@dataclass(frozen=True)
class VaultSettings:
    address: str
    # Left out of repr: a log line or an error that shows the settings must not show it.
    token: str = field(repr=False)
    ca_cert: str | None = None
    namespace: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class ProviderSettings:
    """What resources receive from the provider block (after env fallbacks)."""

    vault: VaultSettings | None
    vault_problem: str
    socket_path: str

    @functools.cached_property
    def tarmak(self) -> TarmakClient:
        """The client for Tarmak, made (and its protocol code loaded) on first use:
        most provider starts never wait for Tarmak, and every start is on the
        critical path of a Terraform run."""
        from provider.tarmak.client import TarmakClient

        return TarmakClient(self.socket_path)


def vault_settings(settings: ProviderSettings | None, diags: Diagnostics) -> VaultSettings | None:
    """The Vault that hostnames live in; None, with the one "not configured" error
    every Vault-backed resource gives, when the provider block names none."""
    if settings is not None and settings.vault is not None:
        return settings.vault
    problem = settings.vault_problem if settings else "provider not configured"
    diags.add_error("Vault is not configured", problem)
    return None
