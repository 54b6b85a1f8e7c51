"""go-plugin's own services that every plugin serves beside the provider.

Shutdown and StreamStdio are coroutines on the server's event loop: the
stdio stream stays open for the plugin's whole life, and neither should take
one of the few worker threads nor queue behind them (docs/threads.md). Each
class has the one method of its generated servicer, which it needs not
inherit: the add_*_to_server functions only look the method up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from provider._generated import grpc_controller_pb2, grpc_health_pb2


class Controller:
    """Terraform calls Shutdown when it is done with the plugin."""

    def __init__(self, shutdown: Callable[[], None]) -> None:
        self._shutdown = shutdown

    async def Shutdown(self, request: Any, context: Any) -> Any:
        self._shutdown()
        return grpc_controller_pb2.Empty()


class Stdio:
    """We log straight to stderr, which go-plugin reads; the stream stays empty
    and open until the plugin stops (or the client leaves), as the client expects."""

    def __init__(self, stopping: asyncio.Event) -> None:
        self._stopping = stopping

    async def StreamStdio(self, request: Any, context: Any) -> None:
        await self._stopping.wait()  # grpc.aio cancels this if the client goes away


class Health:
    def Check(self, request: Any, context: Any) -> Any:
        return grpc_health_pb2.HealthCheckResponse(
            status=grpc_health_pb2.HealthCheckResponse.SERVING
        )
