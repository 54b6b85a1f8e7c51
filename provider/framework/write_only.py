"""Write-only attributes (Terraform 1.11+) reach apply through the configuration
alone: Terraform keeps them in no plan and no state, so the framework nulls
them in every plan and state it hands back, and plans as if they were absent
(they never count as a change)."""

from __future__ import annotations

from provider.framework.resource import State
from provider.framework.schema import Schema


def nulled(schema: Schema, value: State | None) -> State | None:
    """`value` with the schema's write-only attributes null."""
    names = [name for name, attr in schema.block.attributes.items() if attr.write_only]
    if not names or not isinstance(value, dict):
        return value
    if all(value.get(name) is None for name in names):
        return value
    return {**value, **dict.fromkeys(names)}
