"""Every provider RPC we serve, declared once.

A row names the RPC (as logs and tests call it), its method in protocol 5
and in protocol 6, its handler, where the handler runs (docs/threads.md), and
which request fields a refusal echoes back so that Terraform never forgets an
object because its request was refused. The gRPC adapter (adapter.py) builds
both protocols' services from this table alone; a Provider method of the
generated service that is not here answers UNIMPLEMENTED.

Adding an RPC is one handler and one row.

Only the schema RPCs' handlers (schema_rpcs.py) are imported with the table;
every other row names its handler with `Later`, which imports the handler's
module on the first call. Terraform starts a provider several times per run
and some starts only read the schema: those never import the codecs, the
runner and the planning rules that the other handlers need
(docs/benchmarks.md, "A start that only reports the schema").
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeAlias

from provider.prebuilt_dataclasses import dataclass
from provider.server import schema_rpcs
from provider.server.backend import Backend, Wire
from provider.server.refusals import Echo

# A handler fills in the empty response it is given (from `Backend`, the request).
Handler: TypeAlias = Callable[[Backend, Wire, Wire], None]
AsyncHandler: TypeAlias = Callable[[Backend, Wire, Wire], Awaitable[None]]
StreamHandler: TypeAlias = Callable[[Backend, Wire], Iterator[Wire]]
AsyncStreamHandler: TypeAlias = Callable[[Backend, Wire], AsyncIterator[Wire]]


@dataclass(frozen=True)
class Awaits:
    """A coroutine, run on the event loop: it may wait without holding a thread."""

    handler: AsyncHandler


@dataclass(frozen=True)
class Quick:
    """Plain code that only computes (no I/O, by the framework's contract),
    run on the event loop itself to spare a hop to a worker thread and back."""

    handler: Handler


@dataclass(frozen=True)
class Blocks:
    """Plain code that may block on remote APIs, run on a worker thread."""

    handler: Handler


@dataclass(frozen=True)
class Streams:
    """A server stream, produced on a worker thread."""

    handler: StreamHandler


@dataclass(frozen=True)
class AwaitsStream:
    """A server stream produced by an async generator on the event loop: it may
    wait between events without holding a thread. The handler answers every
    request itself, a failure included, with its last event."""

    handler: AsyncStreamHandler


Runs: TypeAlias = Awaits | Quick | Blocks | Streams | AwaitsStream


@dataclass(frozen=True)
class Rpc:
    name: str
    v5: str
    v6: str
    runs: Runs
    echoed: Echo = ()

    def method(self, version: int) -> str:
        """The method's name in protocol `version`."""
        return self.v6 if version == 6 else self.v5

    @property
    def on_loop(self) -> bool:
        return isinstance(self.runs, Awaits | Quick | AwaitsStream)


class Later:
    """The handler `name` of `provider.server.<module>`, imported by its first
    call (tests/unit/provider/test_rpc_table.py checks that every one exists
    and is the kind of callable its row says)."""

    __slots__ = ("_found", "module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._found: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        if self._found is None:
            module = importlib.import_module(f"provider.server.{self.module}")
            self._found = getattr(module, self.name)
        return self._found

    def __call__(self, *args: Any) -> Any:
        return self.resolve()(*args)


def _same(name: str, method: str, runs: Runs, echoed: Echo = ()) -> Rpc:
    """An RPC both protocols call by one name."""
    return Rpc(name, method, method, runs, echoed)


RPCS: tuple[Rpc, ...] = (
    # ---- the provider ----
    _same("get_metadata", "GetMetadata", Quick(schema_rpcs.get_metadata)),
    Rpc(
        "get_provider_schema",
        "GetSchema",
        "GetProviderSchema",
        Quick(schema_rpcs.get_provider_schema),
    ),
    Rpc(
        "validate_provider_config",
        "PrepareProviderConfig",
        "ValidateProviderConfig",
        Quick(Later("provider_rpcs", "validate_provider_config")),
    ),
    Rpc("configure", "Configure", "ConfigureProvider", Blocks(Later("provider_rpcs", "configure"))),
    Rpc("stop", "Stop", "StopProvider", Awaits(Later("provider_rpcs", "stop"))),
    _same("get_functions", "GetFunctions", Blocks(schema_rpcs.get_functions)),
    _same("call_function", "CallFunction", Blocks(Later("provider_rpcs", "call_function"))),
    # ---- managed resources ----
    Rpc(
        "validate_resource_config",
        "ValidateResourceTypeConfig",
        "ValidateResourceConfig",
        Quick(Later("resource_rpcs", "validate_resource_config")),
    ),
    _same(
        "upgrade_resource_state",
        "UpgradeResourceState",
        Quick(Later("resource_rpcs", "upgrade_resource_state")),
    ),
    _same(
        "read_resource",
        "ReadResource",
        Awaits(Later("resource_rpcs", "read_resource")),
        echoed=(("new_state", "current_state"), ("private", "private")),
    ),
    _same(
        "plan_resource_change",
        "PlanResourceChange",
        Quick(Later("resource_rpcs", "plan_resource_change")),
    ),
    _same(
        "apply_resource_change",
        "ApplyResourceChange",
        Awaits(Later("resource_rpcs", "apply_resource_change")),
        echoed=(("new_state", "prior_state"), ("private", "planned_private")),
    ),
    _same(
        "import_resource_state",
        "ImportResourceState",
        Blocks(Later("resource_rpcs", "import_resource_state")),
    ),
    _same(
        "get_resource_identity_schemas",
        "GetResourceIdentitySchemas",
        Quick(schema_rpcs.get_resource_identity_schemas),
    ),
    _same(
        "upgrade_resource_identity",
        "UpgradeResourceIdentity",
        Quick(Later("resource_rpcs", "upgrade_resource_identity")),
    ),
    # ---- data sources ----
    Rpc(
        "validate_data_source_config",
        "ValidateDataSourceConfig",
        "ValidateDataResourceConfig",
        Quick(Later("kind_rpcs", "validate_data_source_config")),
    ),
    _same("read_data_source", "ReadDataSource", Blocks(Later("kind_rpcs", "read_data_source"))),
    # ---- ephemeral resources ----
    _same(
        "validate_ephemeral_resource_config",
        "ValidateEphemeralResourceConfig",
        Quick(Later("kind_rpcs", "validate_ephemeral_resource_config")),
    ),
    _same(
        "open_ephemeral_resource",
        "OpenEphemeralResource",
        Awaits(Later("kind_rpcs", "open_ephemeral_resource")),
    ),
    _same(
        "renew_ephemeral_resource",
        "RenewEphemeralResource",
        Blocks(Later("kind_rpcs", "renew_ephemeral_resource")),
    ),
    _same(
        "close_ephemeral_resource",
        "CloseEphemeralResource",
        Blocks(Later("kind_rpcs", "close_ephemeral_resource")),
    ),
    # ---- list resources ----
    _same(
        "validate_list_resource_config",
        "ValidateListResourceConfig",
        Quick(Later("kind_rpcs", "validate_list_resource_config")),
    ),
    _same("list_resource", "ListResource", Streams(Later("kind_rpcs", "list_resource"))),
    # ---- actions (Terraform 1.14+) ----
    _same(
        "validate_action_config",
        "ValidateActionConfig",
        Quick(Later("action_rpcs", "validate_action_config")),
    ),
    _same("plan_action", "PlanAction", Quick(Later("action_rpcs", "plan_action"))),
    _same("invoke_action", "InvokeAction", AwaitsStream(Later("action_rpcs", "invoke_action"))),
)

BY_NAME = {rpc.name: rpc for rpc in RPCS}
