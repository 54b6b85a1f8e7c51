"""The protocol 5.10/6.10 feature RPCs, called the way grpc calls them, and
the RPC table's promises about where each handler runs."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import msgpack
import pytest

from provider.framework.catalog import Catalog
from provider.server.adapter import method_handlers
from provider.server.backend import Backend
from provider.server.rpc_table import RPCS, AwaitsStream, Blocks, Streams
from provider.tarmak.provider import TarmakProvider


class AbortCalled(Exception):
    pass


class FakeContext:
    def abort(self, code: object, details: str) -> None:
        raise AbortCalled(f"{code}: {details}")


def call(rpc: Callable[..., Any], request: Any) -> Any:
    """As grpc.aio calls a handler: a coroutine one (the quick RPCs, run on the
    loop) is awaited."""
    answer = rpc(request, FakeContext())
    return asyncio.run(answer) if inspect.isawaitable(answer) else answer


class Adapter:
    """The service's methods by name, as grpc finds them."""

    def __init__(self, version: int, pb: ModuleType) -> None:
        self.handlers = method_handlers(Backend(pb, version, Catalog.of(TarmakProvider())))

    def __getitem__(self, method: str) -> Callable[..., Any]:
        handler = self.handlers[method]
        return handler.unary_unary or handler.unary_stream


def adapter_for(version: int) -> tuple[Adapter, ModuleType]:
    pb = importlib.import_module(f"provider._generated.tfplugin{version}_pb2")
    return Adapter(version, pb), pb


@pytest.mark.parametrize("version", [5, 6])
def test_metadata_and_schema_advertise_what_we_honour(version: int) -> None:
    adapter, pb = adapter_for(version)
    meta = call(adapter["GetMetadata"], pb.GetMetadata.Request())
    assert meta.server_capabilities.plan_destroy
    assert meta.server_capabilities.get_provider_schema_optional
    assert not meta.server_capabilities.move_resource_state
    assert [e.type_name for e in meta.ephemeral_resources] == ["tarmak_vault_instance_role"]
    assert [r.type_name for r in meta.list_resources] == ["tarmak_hostname"]
    assert [f.name for f in meta.functions] == ["parse_hostname"]

    schema_rpc = adapter["GetProviderSchema" if version == 6 else "GetSchema"]
    schema = call(schema_rpc, pb.GetProviderSchema.Request())
    assert schema.server_capabilities.plan_destroy
    assert set(schema.resource_schemas) >= {"tarmak_hostname", "tarmak_vault_cluster"}
    assert "tarmak_vault_instance_role" in schema.ephemeral_resource_schemas
    assert "tarmak_hostname" in schema.list_resource_schemas
    assert "parse_hostname" in schema.functions

    identities = call(
        adapter["GetResourceIdentitySchemas"], pb.GetResourceIdentitySchemas.Request()
    )
    hostname = identities.identity_schemas["tarmak_hostname"]
    assert {a.name: a.required_for_import for a in hostname.identity_attributes} == {
        "kv_mount": False,
        "name": True,
    }


@pytest.mark.parametrize("version", [5, 6])
def test_function_results_and_argument_errors(version: int) -> None:
    adapter, pb = adapter_for(version)
    argument = pb.DynamicValue(msgpack=msgpack.packb("web-frontend-prod-vm7"))
    called = call(
        adapter["CallFunction"],
        pb.CallFunction.Request(name="parse_hostname", arguments=[argument]),
    )
    assert not called.HasField("error")
    assert msgpack.unpackb(called.result.msgpack) == {
        "application": "web",
        "role": "frontend",
        "environment": "prod",
        "number": 7,
    }
    ambiguous = pb.DynamicValue(msgpack=msgpack.packb("web-front-end-prod-vm7"))
    failed = call(
        adapter["CallFunction"],
        pb.CallFunction.Request(name="parse_hostname", arguments=[ambiguous]),
    )
    assert failed.error.function_argument == 0 and "ambiguous" in failed.error.text


def test_unimplemented_rpcs_answer_unimplemented() -> None:
    adapter, pb = adapter_for(6)
    with pytest.raises(AbortCalled, match="UNIMPLEMENTED"):
        adapter["MoveResourceState"](pb.MoveResourceState.Request(), FakeContext())


def test_identity_import_without_a_name_is_a_diagnostic() -> None:
    adapter, pb = adapter_for(6)
    identity = pb.ResourceIdentityData(
        identity_data=pb.DynamicValue(msgpack=msgpack.packb({"kv_mount": "m", "name": None}))
    )
    response = call(
        adapter["ImportResourceState"],
        pb.ImportResourceState.Request(type_name="tarmak_hostname", identity=identity),
    )
    assert not response.imported_resources
    assert response.diagnostics[0].summary == "Incomplete identity"


@pytest.mark.parametrize("version", [5, 6])
def test_each_handler_runs_where_the_table_says(version: int) -> None:
    """grpc.aio runs a coroutine on its event loop and a plain function on a worker thread."""
    adapter, _ = adapter_for(version)
    for rpc in RPCS:
        handler = adapter.handlers[rpc.method(version)]
        if isinstance(rpc.runs, Streams):
            assert not inspect.iscoroutinefunction(handler.unary_stream), rpc.name
            continue
        if isinstance(rpc.runs, AwaitsStream):  # an async generator, run on the loop
            assert inspect.isasyncgenfunction(handler.unary_stream), rpc.name
            continue
        on_loop = inspect.iscoroutinefunction(handler.unary_unary)
        assert on_loop == rpc.on_loop != isinstance(rpc.runs, Blocks), rpc.name
