"""The gRPC face of the RPC table: one protocol version's Provider service.

For each method of the generated service, the handler its row in rpc_table
declares, placed where the row says (a coroutine for grpc.aio to run on the
event loop, or a plain function for its worker threads; docs/threads.md),
with undecodable requests and failures answered as refusals. Protocols 5
and 6 differ only in method and message names, which the table and the
generated service descriptor supply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc

from provider.prebuilt_dataclasses import dataclass
from provider.server.backend import Backend, Wire
from provider.server.refusals import Undecodable, refusal, tolerant
from provider.server.rpc_table import (
    RPCS,
    AsyncHandler,
    Awaits,
    AwaitsStream,
    Blocks,
    Handler,
    Quick,
    Rpc,
    Streams,
)

# What grpc hands a handler beside the request (its ServicerContext).
GrpcContext = Any


def service_name(version: int) -> str:
    return f"tfplugin{version}.Provider"


def method_handlers(backend: Backend) -> dict[str, grpc.RpcMethodHandler]:
    """Every Provider method of the negotiated protocol, by name."""
    service = backend.pb.DESCRIPTOR.services_by_name["Provider"]
    table = {rpc.method(backend.version): rpc for rpc in RPCS}
    missing = set(table) - set(service.methods_by_name)
    if missing:
        raise LookupError(f"{service_name(backend.version)} has no method {sorted(missing)}")
    handlers = {}
    for method in service.methods:
        rpc = table.get(method.name)
        if rpc is None:
            handlers[method.name] = _unimplemented(method)
            continue
        request_cls = _message_class(backend, method.input_type)
        response_cls = _message_class(backend, method.output_type)
        handlers[method.name] = _handler(backend, rpc, method.name, request_cls, response_cls)
    return handlers


def add_provider_service(backend: Backend, server: grpc.aio.Server) -> None:
    handlers = method_handlers(backend)
    name = service_name(backend.version)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    server.add_registered_method_handlers(name, handlers)


def _message_class(backend: Backend, descriptor: Any) -> Any:
    """The generated class of a message, e.g. tfplugin6.ReadResource.Request."""
    found: Any = backend.pb
    for part in descriptor.full_name.split(".")[1:]:
        found = getattr(found, part)
    return found


def _handler(
    backend: Backend, rpc: Rpc, method: str, request_cls: Any, response_cls: Any
) -> grpc.RpcMethodHandler:
    answers = _Answers(backend, rpc, method, response_cls)
    behaviour: Any
    match rpc.runs:
        case Streams(stream):

            def produce(request: Wire, context: GrpcContext) -> Iterator[Wire]:
                return stream(backend, request)

            return grpc.unary_stream_rpc_method_handler(
                produce, request_cls.FromString, response_cls.SerializeToString
            )
        case AwaitsStream(awaiting_stream):
            # grpc.aio runs an async generator function on its loop (a plain
            # function returning one would go to a worker thread).
            async def produce_on_loop(request: Wire, context: GrpcContext) -> AsyncIterator[Wire]:
                async for event in awaiting_stream(backend, request):
                    yield event

            return grpc.unary_stream_rpc_method_handler(
                produce_on_loop, tolerant(request_cls.FromString), response_cls.SerializeToString
            )
        case Awaits(handler):
            behaviour = answers.awaiting(handler)
        case Quick(handler):
            behaviour = answers.on_the_loop(answers.calling(handler))
        case Blocks(handler):
            behaviour = answers.calling(handler)
    return grpc.unary_unary_rpc_method_handler(
        behaviour, tolerant(request_cls.FromString), response_cls.SerializeToString
    )


@dataclass(frozen=True)
class _Answers:
    """Wraps one RPC's handler so that every request gets its response."""

    backend: Backend
    rpc: Rpc
    method: str
    response_cls: Any

    def _refused(self, request: Wire, err: Exception) -> Wire:
        if isinstance(request, Undecodable):
            request, err = None, request.malformed(self.method)
        echoed = self.rpc.echoed if request is not None else ()
        return refusal(self.rpc.name, self.response_cls(), self.backend.pb, request, err, echoed)

    def awaiting(self, handler: AsyncHandler) -> Callable[[Wire, GrpcContext], Awaitable[Wire]]:
        async def answer(request: Wire, context: GrpcContext) -> Wire:
            response = self.response_cls()
            try:
                if isinstance(request, Undecodable):
                    raise request.malformed(self.method)
                await handler(self.backend, request, response)
            except Exception as err:  # every failure becomes an answer
                return self._refused(request, err)
            return response

        return answer

    def calling(self, handler: Handler) -> Callable[[Wire, GrpcContext], Wire]:
        def answer(request: Wire, context: GrpcContext) -> Wire:
            response = self.response_cls()
            try:
                if isinstance(request, Undecodable):
                    raise request.malformed(self.method)
                handler(self.backend, request, response)
            except Exception as err:  # every failure becomes an answer
                return self._refused(request, err)
            return response

        return answer

    @staticmethod
    def on_the_loop(
        answer: Callable[[Wire, GrpcContext], Wire],
    ) -> Callable[[Wire, GrpcContext], Awaitable[Wire]]:
        """`answer` as a coroutine, which grpc.aio runs on its event loop."""

        async def on_the_loop(request: Wire, context: GrpcContext) -> Wire:
            return answer(request, context)

        return on_the_loop


def _unimplemented(method: Any) -> grpc.RpcMethodHandler:
    name = method.name

    def refuse(request: Wire, context: GrpcContext) -> None:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not implemented")

    if method.client_streaming and method.server_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if method.client_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if method.server_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)
