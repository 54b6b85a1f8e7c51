"""Settings that resources receive from the provider block. Kept free of heavy
imports: the provider must start fast, and only resources that talk to Vault
load hvac, when they first do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VaultSettings:
    address: str
    token: str
    ca_cert: str | None = None
    namespace: str | None = None
    timeout: float = 10.0
