"""Runs a provider's actions on behalf of the protocol server.

Beside ProviderRunner, whose registry of actions, stop signal and configure
step it shares. Validation and planning only compute (they run on the event
loop); invoking streams what the action reports: a `Progress` per message it
yields, then one `Completed` with its diagnostics, always last, also when
the action raised, was stopped (Ctrl-C) or ran out of time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from provider.framework import action as act
from provider.framework.author_code import guard
from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.resource import State, implements
from provider.framework.runner import ProviderRunner
from provider.framework.timeouts import default_timeouts, timeout_for
from provider.framework.validation import validate_block
from provider.prebuilt_dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    message: str


@dataclass(frozen=True)
class Completed:
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


InvokeEvent = Progress | Completed


class ActionRunner:
    def __init__(self, base: ProviderRunner) -> None:
        self.base = base

    @property
    def actions(self) -> dict[str, act.Action]:
        return self.base.actions

    def validate_config(self, type_name: str, config: State | None) -> Diagnostics:
        action = self.actions[type_name]
        diags = validate_block(action.schema.block, config)
        if implements(action, act.ActionWithValidate):
            resp = act.ValidateActionResponse()
            with guard(resp.diagnostics, f"validating {type_name}"):
                action.validate_config(act.ValidateActionRequest(config or {}), resp)
            diags.extend(resp.diagnostics)
        return diags

    def plan(self, type_name: str, config: State | None) -> Diagnostics:
        action = self.actions[type_name]
        resp = act.PlanActionResponse()
        if implements(action, act.ActionWithPlan):
            with guard(resp.diagnostics, f"planning {type_name}"):
                action.plan(act.PlanActionRequest(config or {}), resp)
        return resp.diagnostics

    async def invoke(self, type_name: str, config: State | None) -> AsyncIterator[InvokeEvent]:
        action = self.actions[type_name]
        default = default_timeouts(action.schema).get("invoke")
        ctx = Context(self.base.stop_event, timeout_for(config, "invoke", default))
        resp = act.InvokeActionResponse()
        with guard(resp.diagnostics, f"invoking {type_name}"):
            async for message in action.invoke(act.InvokeActionRequest(config or {}, ctx), resp):
                yield Progress(message)
        yield Completed(resp.diagnostics)
