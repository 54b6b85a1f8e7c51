"""The planning rules every resource gets from the framework."""

from __future__ import annotations

from provider.cty import NUMBER, STRING, UNKNOWN
from provider.framework import Attribute, Block, Schema, timeouts_block
from provider.framework.planning import plan_change

SCHEMA = Schema(
    Block(
        attributes={
            "name": Attribute(STRING, required=True, force_new=True),
            "value": Attribute(STRING, optional=True),
            "size": Attribute(NUMBER, optional=True, computed=True, default=1),
            "id": Attribute(STRING, computed=True, stable=True),
            "revision": Attribute(NUMBER, computed=True),
        },
        blocks={"timeouts": timeouts_block(create="1m")},
    )
)

PRIOR = {"name": "a", "value": "x", "size": 1, "id": "i-1", "revision": 3, "timeouts": None}
CONFIG = {"name": "a", "value": "x", "size": None, "id": None, "revision": None, "timeouts": None}


def test_create_marks_computed_unknown_and_applies_defaults() -> None:
    plan = plan_change(SCHEMA, None, dict(CONFIG), CONFIG)
    assert plan.planned == {**CONFIG, "size": 1, "id": UNKNOWN, "revision": UNKNOWN}
    assert plan.requires_replace == []


def test_no_change_keeps_prior_computed_values() -> None:
    plan = plan_change(SCHEMA, PRIOR, dict(PRIOR), CONFIG)
    assert plan.planned == PRIOR


def test_update_recomputes_unstable_computed_values() -> None:
    proposed = {**PRIOR, "value": "y"}
    plan = plan_change(SCHEMA, PRIOR, proposed, {**CONFIG, "value": "y"})
    assert plan.planned == {**proposed, "revision": UNKNOWN}
    assert plan.requires_replace == []


def test_timeouts_changes_alone_do_not_recompute() -> None:
    proposed = {**PRIOR, "timeouts": {"create": "5m"}}
    plan = plan_change(SCHEMA, PRIOR, proposed, {**CONFIG, "timeouts": {"create": "5m"}})
    assert plan.planned == proposed


def test_force_new_requires_replace_and_unknowns_everything_computed() -> None:
    proposed = {**PRIOR, "name": "b"}
    plan = plan_change(SCHEMA, PRIOR, proposed, {**CONFIG, "name": "b"})
    assert plan.requires_replace == ["name"]
    assert plan.planned["id"] is UNKNOWN and plan.planned["revision"] is UNKNOWN


def test_unknown_force_new_value_requires_replace() -> None:
    plan = plan_change(SCHEMA, PRIOR, {**PRIOR, "name": UNKNOWN}, {**CONFIG, "name": UNKNOWN})
    assert plan.requires_replace == ["name"]


def test_destroy_plans_null() -> None:
    assert plan_change(SCHEMA, PRIOR, None, None).planned is None


def test_configured_computed_value_is_kept() -> None:
    plan = plan_change(SCHEMA, None, {**CONFIG, "size": 5}, {**CONFIG, "size": 5})
    assert plan.planned["size"] == 5
