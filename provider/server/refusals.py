"""Every request gets a well-formed answer, even one that cannot be decoded.

Anyone who can reach the plugin socket can send any bytes in any field. A
field that does not decode raises `MalformedRequest` (from `from_proto`);
`answering` wraps each RPC handler so that it, and any other failure of the
handler itself, becomes the RPC's own response carrying an error diagnostic,
instead of a gRPC error with a traceback. Where Terraform would keep the
response's state, the request's own state is echoed back unchanged, so a
refused request never makes Terraform forget an object.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from provider.framework.diagnostics import Diagnostics
from provider.server import to_proto
from provider.server.from_proto import MalformedRequest

log = logging.getLogger(__name__)

# Response field <- request field that Terraform would otherwise lose.
_ECHOED = {
    "read_resource": (("new_state", "current_state"), ("private", "private")),
    "apply_resource_change": (("new_state", "prior_state"), ("private", "planned_private")),
}


def answering(
    core_name: str, response_cls: Any, pb: Any, handler: Callable[..., Any]
) -> Callable[..., Any]:
    """`handler` (sync or async), answering instead of raising."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def answer_async(request: Any, context: Any) -> Any:
            try:
                return await handler(request, context)
            except Exception as err:  # every failure becomes an answer
                return refusal(core_name, response_cls, pb, request, err)

        return answer_async

    @functools.wraps(handler)
    def answer(request: Any, context: Any) -> Any:
        try:
            return handler(request, context)
        except Exception as err:  # every failure becomes an answer
            return refusal(core_name, response_cls, pb, request, err)

    return answer


def refusal(core_name: str, response_cls: Any, pb: Any, request: Any, err: Exception) -> Any:
    """The response to a request that could not be handled, saying why."""
    diags = Diagnostics()
    if isinstance(err, MalformedRequest):
        log.warning("refused a malformed %s request: %s", core_name, err)
        diags.add_error(err.summary, err.detail, err.path)
    else:  # a bug of ours, not of the request: keep the details in the log
        log.exception("unexpected error while handling %s", core_name)
        diags.add_error(
            "Internal error in the provider",
            f"{type(err).__name__} while handling {core_name}: {err}. This is a bug in the "
            "provider; the provider log (TF_LOG=debug) has the details.",
        )
    response = response_cls()
    fields = response_cls.DESCRIPTOR.fields_by_name
    if "diagnostics" in fields:
        response.diagnostics.extend(to_proto.diagnostics(pb, diags))
    elif "Error" in fields:  # StopProvider answers with a string
        response.Error = "; ".join(f"{d.summary}: {d.detail}" for d in diags)
    for response_field, request_field in _ECHOED.get(core_name, ()):
        value = getattr(request, request_field)
        if isinstance(value, bytes):
            setattr(response, response_field, value)
        else:
            getattr(response, response_field).CopyFrom(value)
    return response
