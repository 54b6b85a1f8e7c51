"""The provider's actions (Terraform 1.14+), one module each, named after the
Terraform type: imperative steps an operator invokes by name; the resources
stay the declarative path on every Terraform (docs/actions.md)."""

from __future__ import annotations

from provider.framework.action import Action


def all_actions() -> list[Action]:
    from provider.actions.vault_unseal import VaultUnseal

    return [VaultUnseal()]
