"""The RPC table's handlers imported on first call (`Later`), and what a start
that only reports the schema imports: the point of making them later."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from provider.framework.catalog import Catalog
from provider.framework.context import StopSignal
from provider.server.backend import Backend
from provider.server.rpc_table import RPCS, Awaits, AwaitsStream, Later, Rpc, Streams
from provider.tarmak.provider import TarmakProvider
from tests.e2e.testing_provider import TestingProvider

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("rpc", RPCS, ids=lambda rpc: rpc.name)
def test_every_handler_exists_and_is_what_its_row_says(rpc: Rpc) -> None:
    runs = rpc.runs
    handler = runs.handler
    if isinstance(handler, Later):
        handler = handler.resolve()
    assert next(iter(inspect.signature(handler).parameters)) == "b", rpc
    assert inspect.iscoroutinefunction(handler) == isinstance(runs, Awaits), rpc
    assert inspect.isasyncgenfunction(handler) == isinstance(runs, AwaitsStream), rpc
    if isinstance(runs, Streams):
        assert inspect.isgeneratorfunction(handler), rpc


def test_a_later_handler_is_imported_once_and_answers_as_the_handler() -> None:
    later = Later("schema_rpcs", "get_functions")
    from provider.server import schema_rpcs

    assert later.resolve() is schema_rpcs.get_functions
    assert later.resolve() is later.resolve()


def test_a_later_handler_that_does_not_exist_fails_on_its_call() -> None:
    with pytest.raises(AttributeError, match="no_such_handler"):
        Later("schema_rpcs", "no_such_handler")(None, None, None)


# A fresh interpreter, set up as `serve` sets it up for a provider named by its
# entry: what serving the schema imports, then what one validation adds.
SCHEMA_ONLY_START = textwrap.dedent(
    """
    import asyncio, json, sys
    from provider.server.adapter import method_handlers
    from provider.server.serve import backend_for

    OPERATIONS = [
        "provider.framework.runner", "provider.framework.planning",
        "provider.framework.kinds", "provider.framework.action_runner",
        "provider.cty.msgpack_codec", "provider.cty.json_codec", "provider.cty.decoding",
        "provider.server.from_proto", "provider.server.provider_rpcs",
        "provider.server.resource_rpcs", "provider.server.kind_rpcs",
        "provider.server.action_rpcs", "msgpack",
    ]
    # What declares the provider: not needed while the schema is prebuilt.
    DECLARING = [
        "provider.framework.catalog", "provider.framework.resource",
        "provider.framework.schema", "provider.cty.types", "tests.e2e.testing_provider",
    ]
    backend = backend_for("tests.e2e.testing_provider:TestingProvider", 6)
    pb = backend.pb
    handlers = method_handlers(backend)

    def call(method, request):
        return asyncio.run(handlers[method].unary_unary(request, None))

    snapshots_before_schema = "provider._generated.schema_snapshots" in sys.modules
    schema = call("GetProviderSchema", pb.GetProviderSchema.Request())
    after_schema = [m for m in OPERATIONS if m in sys.modules]
    declaring_after_schema = [m for m in DECLARING if m in sys.modules]
    meta = call("GetMetadata", pb.GetMetadata.Request())
    import msgpack
    config = pb.DynamicValue(msgpack=msgpack.packb({"triggers": {"a": "b"}, "id": None}))
    valid = call(
        "ValidateResourceConfig",
        pb.ValidateResourceConfig.Request(type_name="testing_null", config=config),
    )
    print(json.dumps({
        "snapshots_before_schema": snapshots_before_schema,
        "prebuilt": backend.prebuilt_schema() is not None,
        "schema": schema.SerializeToString().hex(),
        "resources": sorted(schema.resource_schemas),
        "metadata": sorted(r.type_name for r in meta.resources),
        "after_schema": after_schema,
        "declaring_after_schema": declaring_after_schema,
        "diagnostics": [d.summary for d in valid.diagnostics],
        "after_validate": [m for m in OPERATIONS if m in sys.modules],
        "declaring_after_validate": [m for m in DECLARING if m in sys.modules],
    }))
    """
)


def in_a_fresh_interpreter(script: str) -> Any:
    """What `script` prints as JSON, run by a new Python in the project root."""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def test_a_schema_only_start_imports_none_of_the_operations() -> None:
    seen = in_a_fresh_interpreter(SCHEMA_ONLY_START)
    assert "testing_null" in seen["resources"]
    assert seen["metadata"] == seen["resources"]
    assert seen["after_schema"] == []
    # ... and the first operation brings in what it needs, and works.
    assert seen["diagnostics"] == []
    assert "provider.framework.runner" in seen["after_validate"]
    assert "provider.server.resource_rpcs" in seen["after_validate"]


# The tarmak provider's schema-only start: its resources declare their schemas
# without loading Vault's client, the hostname allocator or its records.
TARMAK_SCHEMA_ONLY_START = textwrap.dedent(
    """
    import asyncio, importlib, json, sys
    from provider.framework.catalog import Catalog
    from provider.server.adapter import method_handlers
    from provider.server.backend import Backend
    from provider.tarmak.provider import TarmakProvider

    pb = importlib.import_module("provider._generated.tfplugin6_pb2")
    handlers = method_handlers(Backend(pb, 6, Catalog.of(TarmakProvider())))
    schema = asyncio.run(
        handlers["GetProviderSchema"].unary_unary(pb.GetProviderSchema.Request(), None)
    )
    print(json.dumps({
        "resources": sorted(schema.resource_schemas),
        "loaded": sorted(m for m in sys.modules if m.startswith("provider.tarmak")),
    }))
    """
)


def test_the_tarmak_schema_loads_no_vault_client_nor_allocator() -> None:
    seen = in_a_fresh_interpreter(TARMAK_SCHEMA_ONLY_START)
    assert "tarmak_hostname" in seen["resources"]
    for module in (
        "provider.tarmak.hostnames.allocator",
        "provider.tarmak.hostnames.records",
        "provider.tarmak.vault_http",
        "provider.tarmak.vault_nodes",
    ):
        assert module not in seen["loaded"]
    assert "provider.tarmak.hostnames.rules" in seen["loaded"]


def backend() -> Backend:
    pb = importlib.import_module("provider._generated.tfplugin6_pb2")
    return Backend(pb, 6, Catalog.of(TarmakProvider()))


def test_one_runner_however_many_threads_ask_first() -> None:
    b = backend()
    start = threading.Barrier(8)
    seen: list[object] = []

    def ask() -> None:
        start.wait()
        seen.append(b.runner)
        seen.append(b.kinds.base)
        seen.append(b.actions.base)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 24
    assert all(made is b.runner for made in seen)


def test_a_stop_before_any_operation_reaches_the_runner_made_later() -> None:
    b = backend()
    b.stop()
    assert b.runner.stop_event is b.stop_event
    assert b.runner.stop_event.is_set()
    assert b.runner.catalog is b.catalog


def test_the_runner_reads_the_catalog_the_server_reported() -> None:
    catalog = Catalog.of(TestingProvider())
    b = Backend(importlib.import_module("provider._generated.tfplugin5_pb2"), 5, catalog)
    assert b.runner.resources is catalog.resources
    assert isinstance(b.stop_event, StopSignal)
