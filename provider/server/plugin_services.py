"""go-plugin's own services that every plugin serves beside the provider."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from provider._generated import (
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    grpc_health_pb2,
    grpc_health_pb2_grpc,
    grpc_stdio_pb2_grpc,
)


class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    """Terraform calls Shutdown when it is done with the plugin."""

    def __init__(self, shutdown: Callable[[], None]) -> None:
        self._shutdown = shutdown

    def Shutdown(self, request: Any, context: Any) -> Any:
        self._shutdown()
        return grpc_controller_pb2.Empty()


class Stdio(grpc_stdio_pb2_grpc.GRPCStdioServicer):
    """We log straight to stderr, which go-plugin reads; the stream stays empty
    and open until the plugin exits, as the client expects."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping

    def StreamStdio(self, request: Any, context: Any) -> Iterator[Any]:
        while not self._stopping.wait(1.0) and context.is_active():
            pass
        return iter(())


class Health(grpc_health_pb2_grpc.HealthServicer):
    def Check(self, request: Any, context: Any) -> Any:
        return grpc_health_pb2.HealthCheckResponse(
            status=grpc_health_pb2.HealthCheckResponse.SERVING
        )
