"""bench/bare_hostname_plugin.py, the hostname row's framework-free floor, serves
tarmak_hostname's own schema and plans and applies it as the provider does, so
that the row compares the same work for Terraform."""

from __future__ import annotations

from typing import Any

import msgpack

from bench.bare_hostname_plugin import (
    COMPUTED,
    DEFAULTS,
    FORCES_NEW,
    MOUNT,
    UNKNOWN,
    BareHostname,
    _dump,
    _load,
    pb,
)
from provider.resources.hostname import Hostname
from provider.server import to_proto
from tests.unit.provider.test_tarmak_hostname import CONFIG


def bare() -> BareHostname:
    return BareHostname(to_proto.schema(pb, Hostname.schema).SerializeToString())


def plan(servicer: BareHostname, proposed: Any, prior: Any = None) -> Any:
    return servicer.PlanResourceChange(
        pb.PlanResourceChange.Request(
            type_name="tarmak_hostname",
            proposed_new_state=_dump(proposed),
            prior_state=_dump(prior),
        ),
        None,
    )


def test_it_serves_the_providers_schema() -> None:
    schema = bare().GetProviderSchema(pb.GetProviderSchema.Request(), None)
    assert list(schema.resource_schemas) == ["tarmak_hostname"]
    assert schema.resource_schemas["tarmak_hostname"] == to_proto.schema(pb, Hostname.schema)


def test_its_plan_rules_are_the_providers() -> None:
    """The floor spells the resource's defaults, forced replacements and computed
    values by hand (it loads nothing of ours): they must not drift from the schema."""
    attributes = Hostname.schema.block.attributes
    assert {n: a.default for n, a in attributes.items() if a.default is not None} == DEFAULTS
    assert set(FORCES_NEW) == {n for n, a in attributes.items() if a.force_new}
    assert set(COMPUTED) == {n for n, a in attributes.items() if a.computed and not a.optional}
    assert attributes["kv_mount"].default == MOUNT


def test_a_create_plans_the_defaults_and_applies_a_numbered_name() -> None:
    servicer = bare()
    planned = plan(servicer, dict(CONFIG))
    values = _load(planned.planned_state)
    assert values["format"] == "{application}-{role}-{environment}-vm{number}"
    assert values["kv_mount"] == "hostnaming"
    assert values["reuse_released_numbers"] is False
    assert values["name"] == values["number"] == values["id"] == UNKNOWN
    names = []
    for _ in range(2):
        applied = servicer.ApplyResourceChange(
            pb.ApplyResourceChange.Request(
                type_name="tarmak_hostname", planned_state=planned.planned_state
            ),
            None,
        )
        state = msgpack.unpackb(applied.new_state.msgpack)
        assert state["id"] == state["name"]
        names.append((state["name"], state["number"]))
    assert names == [("web-frontend-prod-vm1", 1), ("web-frontend-prod-vm2", 2)]


def test_a_changed_key_forces_a_new_resource_and_keeps_the_computed_values() -> None:
    prior = {
        **CONFIG,
        "format": "{application}-{role}-{environment}-vm{number}",
        "kv_mount": "hostnaming",
        "reuse_released_numbers": False,
        "name": "web-frontend-prod-vm1",
        "number": 1,
        "id": "web-frontend-prod-vm1",
    }
    same = plan(bare(), {**CONFIG, "format": prior["format"]}, prior)
    assert list(same.requires_replace) == []
    assert _load(same.planned_state)["name"] == "web-frontend-prod-vm1"
    moved = plan(bare(), {**CONFIG, "environment": "staging"}, prior)
    assert [p.steps[0].attribute_name for p in moved.requires_replace] == ["environment"]
