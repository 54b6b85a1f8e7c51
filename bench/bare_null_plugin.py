"""The least a Python provider on grpcio-tools code can be and still serve a
`null_resource`: the measured floor for `make bench`'s apply and plan rows.

No framework, no schema model, no validation, no diagnostics: the generated
tfplugin6 messages filled in by hand, msgpack passed through, a threaded
grpc server (the cheapest to start), AutoMTLS as go-plugin wants it. Its one
resource, `barenull_resource`, is the Go null provider's (a computed `id`,
a `triggers` map that replaces it). Whatever this costs in `terraform apply`
and `plan` against the Go provider, any provider built on grpcio and
protobuf pays at least that on this machine; what ours costs above it is
ours to cut.

BARE_SERVER=aio serves the same handlers from grpc.aio's server instead, each
run on its event loop as a coroutine, as ours runs its quick calls: what the
asyncio server that lets waits hold no thread costs any provider, measured
apart from what a framework costs.

Bench-only: never packaged, never a template for resources.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc
import msgpack

from provider._generated import (
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    tfplugin6_pb2_grpc,
)
from provider._generated import (
    tfplugin6_pb2 as pb,
)
from provider.server import handshake
from provider.server.tls import generate_certificate

RESOURCE = "barenull_resource"
UNKNOWN = msgpack.ExtType(0, b"\x00")


def _schema() -> pb.Schema:
    return pb.Schema(
        block=pb.Schema.Block(
            attributes=[
                pb.Schema.Attribute(name="id", type=b'"string"', computed=True),
                pb.Schema.Attribute(name="triggers", type=b'["map","string"]', optional=True),
            ]
        )
    )


def _load(value: pb.DynamicValue) -> Any:
    return msgpack.unpackb(value.msgpack, ext_hook=lambda code, data: UNKNOWN)


def _dump(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=msgpack.packb(value))


class BareNull(tfplugin6_pb2_grpc.ProviderServicer):
    def GetMetadata(self, request: Any, context: Any) -> Any:
        return pb.GetMetadata.Response(
            resources=[pb.GetMetadata.ResourceMetadata(type_name=RESOURCE)]
        )

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        return pb.GetProviderSchema.Response(
            provider=pb.Schema(block=pb.Schema.Block()), resource_schemas={RESOURCE: _schema()}
        )

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        return pb.ConfigureProvider.Response()

    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        state = json.loads(request.raw_state.json)
        return pb.UpgradeResourceState.Response(upgraded_state=_dump(state))

    def ReadResource(self, request: Any, context: Any) -> Any:
        return pb.ReadResource.Response(new_state=request.current_state)

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        proposed = _load(request.proposed_new_state)
        prior = _load(request.prior_state)
        if proposed is None:  # destroy
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        replace = []
        if prior is None or prior.get("triggers") != proposed.get("triggers"):
            proposed["id"] = UNKNOWN
            if prior is not None:
                replace = [
                    pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name="triggers")])
                ]
        return pb.PlanResourceChange.Response(
            planned_state=_dump(proposed), requires_replace=replace
        )

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        planned = _load(request.planned_state)
        if planned is not None and planned.get("id") == UNKNOWN:
            planned["id"] = str(secrets.randbits(63))
        return pb.ApplyResourceChange.Response(new_state=_dump(planned))

    def StopProvider(self, request: Any, context: Any) -> Any:
        return pb.StopProvider.Response()


class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    def __init__(self, done: threading.Event) -> None:
        self.done = done

    def Shutdown(self, request: Any, context: Any) -> Any:
        self.done.set()
        return grpc_controller_pb2.Empty()


def on_the_loop(servicer: BareNull) -> tfplugin6_pb2_grpc.ProviderServicer:
    """The servicer's methods as coroutines, for grpc.aio to run on its loop."""

    class OnTheLoop(tfplugin6_pb2_grpc.ProviderServicer):
        pass

    for name, method in vars(BareNull).items():
        if callable(method) and not name.startswith("_"):

            async def call(self: Any, request: Any, context: Any, method: Any = method) -> Any:
                return method(servicer, request, context)

            setattr(OnTheLoop, name, call)
    return OnTheLoop()


async def serve_aio() -> None:
    place = handshake.private_socket(os.environ)
    server = grpc.aio.server()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    class Stopping(threading.Event):
        def set(self) -> None:
            loop.call_soon_threadsafe(stopping.set)

    tfplugin6_pb2_grpc.add_ProviderServicer_to_server(on_the_loop(BareNull()), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(Stopping()), server)
    certificate = generate_certificate()
    credentials = grpc.ssl_server_credentials([(certificate.key_pem, certificate.cert_pem)])
    server.add_secure_port(f"unix:{place.path}", credentials)
    await server.start()
    sys.stdout.write(handshake.handshake_line(6, place.path, certificate.handshake_field))
    sys.stdout.flush()
    await stopping.wait()
    await server.stop(grace=0.5)
    place.remove()
    os._exit(0)


def main(servicer: BareNull | None = None) -> None:
    """Serve `servicer` (barenull_resource by default) until Terraform says Shutdown."""
    if os.environ.get("BARE_SERVER") == "aio":
        asyncio.run(serve_aio())
        return
    place = handshake.private_socket(os.environ)
    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    done = threading.Event()
    tfplugin6_pb2_grpc.add_ProviderServicer_to_server(servicer or BareNull(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(done), server)
    certificate = generate_certificate()
    # As ours does: TLS with the certificate from the handshake line.
    credentials = grpc.ssl_server_credentials([(certificate.key_pem, certificate.cert_pem)])
    server.add_secure_port(f"unix:{place.path}", credentials)
    server.start()
    sys.stdout.write(handshake.handshake_line(6, place.path, certificate.handshake_field))
    sys.stdout.flush()
    done.wait()
    server.stop(grace=0.5).wait()
    place.remove()
    os._exit(0)


if __name__ == "__main__":
    main()
