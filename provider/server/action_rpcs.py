"""The action RPCs (Terraform 1.14+): validate, plan, and invoke as a stream.

Validate and plan fill in the empty response they are given, like every
unary handler. InvokeAction streams `Progress` events as the action reports
them, then exactly one `Completed` event carrying its diagnostics: a request
that cannot be decoded, an unknown action type or a failure of ours ends
the stream the same way, so Terraform always learns how the action ended.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from provider.framework.action_runner import Completed, Progress
from provider.framework.diagnostics import Diagnostics
from provider.server import from_proto
from provider.server.backend import Backend, Wire
from provider.server.refusals import Undecodable, refusal


def _unknown(type_name: str) -> Diagnostics:
    diags = Diagnostics()
    diags.add_error("Unknown action type", f"This provider has no action {type_name!r}.")
    return diags


def validate_action_config(b: Backend, request: Wire, response: Wire) -> None:
    action = b.runner.actions.get(request.type_name)
    if action is None:
        return b.refuse_unknown(response, "action", request.type_name)
    config = from_proto.dynamic_value(request.config, action.schema.cty_type(), "config")
    response.diagnostics.extend(b.diagnostics(b.actions.validate_config(request.type_name, config)))


def plan_action(b: Backend, request: Wire, response: Wire) -> None:
    action = b.runner.actions.get(request.action_type)
    if action is None:
        return b.refuse_unknown(response, "action", request.action_type)
    config = from_proto.dynamic_value(request.config, action.schema.cty_type(), "config")
    response.diagnostics.extend(b.diagnostics(b.actions.plan(request.action_type, config)))


async def invoke_action(b: Backend, request: Wire) -> AsyncIterator[Wire]:
    event = b.pb.InvokeAction.Event
    try:
        if isinstance(request, Undecodable):
            raise request.malformed("InvokeAction")
        action = b.runner.actions.get(request.action_type)
        if action is None:
            completed = event.Completed(diagnostics=b.diagnostics(_unknown(request.action_type)))
            yield event(completed=completed)
            return
        config = from_proto.dynamic_value(
            request.config, action.schema.cty_type(), "config", required=True, known=True
        )
        async for step in b.actions.invoke(request.action_type, config):
            match step:
                case Progress(message):
                    yield event(progress=event.Progress(message=message))
                case Completed(diagnostics):
                    yield event(completed=event.Completed(diagnostics=b.diagnostics(diagnostics)))
    except Exception as err:  # every failure ends the stream with its diagnostic
        answer = refusal("invoke_action", event.Completed(), b.pb, None, err, ())
        yield event(completed=answer)
