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

import grpc

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
    for response_field, request_field in _ECHOED.get(core_name, ()) if request else ():
        value = getattr(request, request_field)
        if isinstance(value, bytes):
            setattr(response, response_field, value)
        else:
            getattr(response, response_field).CopyFrom(value)
    return response


# ---- requests that are not even a protobuf message ------------------------------------
#
# grpc decodes each request before any handler runs; bytes that are not the
# request message (a corrupt wire format, a string field with bad UTF-8) would
# end as a gRPC INTERNAL error with a traceback in the log. These interceptors
# give such a request its RPC's response with an error diagnostic instead.


class _Undecodable:
    """Stands in for a request whose bytes did not parse."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _tolerant(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as err:  # the protobuf runtime's DecodeError, or worse
            return _Undecodable(str(err) or type(err).__name__)

    return parse


def _undecodable_answer(method: str, pb: Any, reason: str) -> Any:
    rpc = method.rsplit("/", 1)[-1]
    response_cls = getattr(pb, "GetProviderSchema" if rpc == "GetSchema" else rpc).Response
    err = MalformedRequest("request", f"its bytes are not a {rpc} request message ({reason})")
    return refusal(rpc, response_cls, pb, None, err)


def _provider_pb(method: str) -> Any | None:
    """The generated messages of a tfplugin5/6 Provider method (None for other services)."""
    service = method.lstrip("/").split("/", 1)[0]
    if service not in ("tfplugin5.Provider", "tfplugin6.Provider"):
        return None
    import importlib

    return importlib.import_module(f"provider._generated.{service.split('.')[0]}_pb2")


class UndecodableRequests(grpc.ServerInterceptor):
    """For grpc.server: unparseable Provider requests get a diagnostic answer."""

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        pb = _provider_pb(method)
        if handler is None or pb is None or handler.unary_unary is None:
            return handler
        behavior = handler.unary_unary

        def answer(request: Any, context: Any) -> Any:
            if isinstance(request, _Undecodable):
                return _undecodable_answer(method, pb, request.reason)
            return behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            answer, _tolerant(handler.request_deserializer), handler.response_serializer
        )


class AsyncUndecodableRequests(grpc.aio.ServerInterceptor):
    """The same for grpc.aio.server (handlers may be coroutines)."""

    async def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        pb = _provider_pb(method)
        if handler is None or pb is None or handler.unary_unary is None:
            return handler
        behavior = handler.unary_unary

        async def answer(request: Any, context: Any) -> Any:
            if isinstance(request, _Undecodable):
                return _undecodable_answer(method, pb, request.reason)
            result = behavior(request, context)
            return await result if inspect.isawaitable(result) else result

        return grpc.unary_unary_rpc_method_handler(
            answer, _tolerant(handler.request_deserializer), handler.response_serializer
        )
