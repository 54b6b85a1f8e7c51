"""Planning rules shared by every resource.

Terraform hands us the prior state, its proposed new state (the configuration
merged with prior computed values) and the configuration. We must return a
plan that Terraform accepts: configured values unchanged, computed values
either known or unknown. The rules, in order:

1. Optional+computed attributes with a default take it when unconfigured.
2. On create, unconfigured computed attributes become unknown.
3. A change to a force-new attribute (or block) requires replacement; then
   all unconfigured computed attributes become unknown.
4. On update, unconfigured computed attributes keep their prior value when
   nothing else changed, and become unknown when something did (unless the
   attribute is marked stable). Changes to `timeouts` alone do not count.
"""

from __future__ import annotations

from typing import Any

from provider.cty import UNKNOWN, values_equal
from provider.framework.resource import State
from provider.framework.schema import Schema
from provider.prebuilt_dataclasses import dataclass, field

_IGNORED_FOR_CHANGES = frozenset({"timeouts"})


@dataclass
class Plan:
    planned: State | None
    requires_replace: list[str] = field(default_factory=list)


def plan_change(
    schema: Schema, prior: State | None, proposed: State | None, config: State | None
) -> Plan:
    if proposed is None:
        return Plan(None)  # destroy
    config = config or {}
    planned: dict[str, Any] = dict(proposed)
    attributes = schema.block.attributes
    unconfigured_computed = [
        name for name, attr in attributes.items() if attr.computed and config.get(name) is None
    ]

    for name in unconfigured_computed:
        default = attributes[name].default
        if default is not None:
            planned[name] = default
        elif prior is None:
            planned[name] = UNKNOWN

    if prior is None:
        return Plan(planned)

    requires_replace = [
        name
        for name, attr in attributes.items()
        if attr.force_new and not values_equal(prior.get(name), planned.get(name), attr.type)
    ]
    requires_replace += [
        name
        for name, block in schema.block.blocks.items()
        if block.force_new
        and not values_equal(prior.get(name), planned.get(name), block.cty_type())
    ]
    changed = (
        requires_replace
        or any(
            not values_equal(prior.get(name), planned.get(name), attr.type)
            for name, attr in attributes.items()
            if name not in _IGNORED_FOR_CHANGES and not (attr.computed and config.get(name) is None)
        )
        or any(
            not values_equal(prior.get(name), planned.get(name), block.cty_type())
            for name, block in schema.block.blocks.items()
            if name not in _IGNORED_FOR_CHANGES
        )
    )
    if changed:
        for name in unconfigured_computed:
            attr = attributes[name]
            if attr.default is None and (requires_replace or not attr.stable):
                planned[name] = UNKNOWN
    return Plan(planned, requires_replace)
