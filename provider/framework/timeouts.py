"""The standard `timeouts { create = "30m" }` block, as Terraform users know it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provider.cty import STRING
from provider.framework.diagnostics import Diagnostics
from provider.framework.duration import parse_duration
from provider.framework.path import Path
from provider.framework.schema import Attribute, Block, NestedBlock, Nesting, Schema
from provider.framework.validators import duration
from provider.prebuilt_dataclasses import dataclass, field

# open: ephemeral resources; invoke: actions
OPERATIONS = ("create", "read", "update", "delete", "open", "invoke")


@dataclass(frozen=True)
class TimeoutsBlock(NestedBlock):
    """The `timeouts` block, which also knows each operation's default."""

    defaults: Mapping[str, str] = field(default_factory=dict)


def timeouts_block(**defaults: str) -> TimeoutsBlock:
    """A `timeouts` block with one optional attribute per named operation.

    Keyword arguments give each operation's default, e.g. create="30m".
    """
    unknown = set(defaults) - set(OPERATIONS)
    if unknown:
        raise ValueError(f"unknown timeout operations: {sorted(unknown)}")
    attributes = {
        op: Attribute(
            STRING,
            optional=True,
            description=f"How long {op} may take (default {default}).",
            validators=(duration,),
        )
        for op, default in defaults.items()
    }
    block = Block(attributes, description="Limits for long operations.")
    return TimeoutsBlock(block, Nesting.SINGLE, defaults=dict(defaults))


def default_timeouts(schema: Schema) -> Mapping[str, str]:
    """The defaults declared by the schema's `timeouts` block (none without one)."""
    block = schema.block.blocks.get("timeouts")
    return block.defaults if isinstance(block, TimeoutsBlock) else {}


def timeout_for(value: dict[str, Any] | None, operation: str, default: str | None) -> float | None:
    """Seconds allowed for `operation`: the configured value, else the default.

    Raises DurationError for a configured value that is not a duration;
    `timeout_errors` says where, as diagnostics."""
    configured = _configured(value, operation)
    if isinstance(configured, str):
        return parse_duration(configured)
    return parse_duration(default) if default else None


def timeout_errors(value: dict[str, Any] | None, operation: str) -> Diagnostics:
    """The "Invalid duration" error at timeouts.<operation>, as validation reports
    it, when `value` sets that timeout to something that is not a duration.

    Terraform validates configuration, but a stored state or a plan reaches the
    provider as it is (written by another version, or edited by hand)."""
    diags = Diagnostics()
    configured = _configured(value, operation)
    if isinstance(configured, str):
        duration(configured, Path.root("timeouts").at_name(operation), diags)
    return diags


def _configured(value: dict[str, Any] | None, operation: str) -> Any:
    block = (value or {}).get("timeouts")
    return block.get(operation) if isinstance(block, dict) else None
