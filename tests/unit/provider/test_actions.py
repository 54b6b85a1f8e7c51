"""The action RPCs called the way grpc.aio calls them: the action's schema and
metadata are advertised, and InvokeAction streams one progress event per
node and then a completed event whose diagnostics name a node that failed."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import msgpack
import pytest

from connector.methods import Method
from connector.protocol.contract import NodeUnsealResult, UnsealOutcome
from provider.actions.vault_unseal import VaultUnseal
from provider.framework.context import Context
from provider.framework.runner import ProviderRunner
from provider.server.adapter import method_handlers
from provider.server.backend import Backend
from provider.server.rpc_table import BY_NAME, AwaitsStream
from provider.tarmak.client import TarmakError
from provider.tarmak.provider import TarmakProvider
from provider.tarmak.settings import ProviderSettings

NODES = ["vault-1:8200", "vault-2:8200", "vault-3:8200"]


class FakeContext:
    def abort(self, code: object, details: str) -> None:
        raise AssertionError(f"aborted: {code}: {details}")


class FakeTarmak:
    """Answers VAULT_NODE_UNSEAL as the Tarmak side would; `failing` nodes fail."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.failing = failing
        self.asked: list[dict[str, Any]] = []

    async def call(
        self, method: Method, params: dict[str, Any], ctx: Context, waiting_for: str
    ) -> dict[str, Any]:
        assert method is Method.VAULT_NODE_UNSEAL
        self.asked.append(params)
        node = params["node"]
        if node in self.failing:
            raise TarmakError(f"Tarmak could not complete {method}: Vault {node}: not answering")
        outcome = UnsealOutcome.UNSEALED if node == NODES[1] else UnsealOutcome.ALREADY_UNSEALED
        return NodeUnsealResult(node, outcome).to_result()


def backend(version: int, tarmak: FakeTarmak | None = None) -> tuple[Backend, ModuleType]:
    pb = importlib.import_module(f"provider._generated.tfplugin{version}_pb2")
    runner = ProviderRunner(TarmakProvider())
    if tarmak is not None:
        settings = ProviderSettings(None, "", "/nonexistent.sock")
        settings.__dict__["tarmak"] = tarmak  # the cached client, made on first use
        runner.actions["tarmak_vault_unseal"].configure(settings)
    return Backend(pb, version, runner.catalog), pb


def config(pb: ModuleType, **values: Any) -> Any:
    plain = {
        "internal_fqdns": NODES,
        "vault_ca": "-----BEGIN CERTIFICATE-----",
        "vault_kms_key_id": "k",
        "vault_unseal_key_name": None,
        "timeouts": None,
        **values,
    }
    return pb.DynamicValue(msgpack=msgpack.packb(plain))


def unary(b: Backend, method: str, request: Any) -> Any:
    answer = method_handlers(b)[method].unary_unary(request, FakeContext())
    return asyncio.run(answer) if inspect.isawaitable(answer) else answer


def invoke(b: Backend, request: Any) -> list[Any]:
    handler = method_handlers(b)["InvokeAction"]
    assert inspect.isasyncgenfunction(handler.unary_stream), "streamed on the event loop"

    async def collect() -> list[Any]:
        return [event async for event in handler.unary_stream(request, FakeContext())]

    return asyncio.run(collect())


@pytest.mark.parametrize("version", [5, 6])
def test_schema_and_metadata_advertise_the_action(version: int) -> None:
    b, pb = backend(version)
    meta = unary(b, "GetMetadata", pb.GetMetadata.Request())
    assert [a.type_name for a in meta.actions] == ["tarmak_vault_unseal"]
    schema = unary(
        b, "GetProviderSchema" if version == 6 else "GetSchema", pb.GetProviderSchema.Request()
    )
    block = schema.action_schemas["tarmak_vault_unseal"].schema.block
    attributes = {a.name: a for a in block.attributes}
    assert attributes["internal_fqdns"].required and attributes["vault_ca"].required
    assert attributes["vault_kms_key_id"].optional
    assert attributes["vault_unseal_key_name"].optional
    assert [t.type_name for t in block.block_types] == ["timeouts"]


@pytest.mark.parametrize("version", [5, 6])
def test_invoke_reports_each_node_then_completes(version: int) -> None:
    tarmak = FakeTarmak()
    b, pb = backend(version, tarmak)
    events = invoke(
        b, pb.InvokeAction.Request(action_type="tarmak_vault_unseal", config=config(pb))
    )
    assert [e.WhichOneof("type") for e in events] == ["progress"] * 3 + ["completed"]
    assert [e.progress.message for e in events[:3]] == [
        "vault-1:8200: already unsealed",
        "vault-2:8200: unsealed",
        "vault-3:8200: already unsealed",
    ]
    assert list(events[-1].completed.diagnostics) == []
    assert [p["node"] for p in tarmak.asked] == NODES, "one call per node, in order"
    assert all(p["vault_kms_key_id"] == "k" for p in tarmak.asked)


def test_a_failing_node_is_named_and_the_others_still_tried() -> None:
    tarmak = FakeTarmak(failing=frozenset({NODES[0]}))
    b, pb = backend(6, tarmak)
    events = invoke(
        b, pb.InvokeAction.Request(action_type="tarmak_vault_unseal", config=config(pb))
    )
    assert [e.progress.message for e in events[:3]] == [
        "vault-1:8200: not unsealed",
        "vault-2:8200: unsealed",
        "vault-3:8200: already unsealed",
    ]
    (diagnostic,) = events[-1].completed.diagnostics
    assert diagnostic.severity == pb.Diagnostic.ERROR
    assert diagnostic.summary == "Vault vault-1:8200 was not unsealed"
    assert "not answering" in diagnostic.detail


class BrokenUnseal(VaultUnseal):
    async def invoke(self, req: Any, resp: Any) -> AsyncIterator[str]:
        yield "vault-1:8200: started"
        raise RuntimeError("boom")


def test_an_exception_in_the_action_still_completes_the_stream() -> None:
    b, pb = backend(6)
    b.runner.actions["tarmak_vault_unseal"] = BrokenUnseal()
    events = invoke(
        b, pb.InvokeAction.Request(action_type="tarmak_vault_unseal", config=config(pb))
    )
    assert events[0].progress.message == "vault-1:8200: started"
    (diagnostic,) = events[1].completed.diagnostics
    assert diagnostic.summary == "Unexpected error while invoking tarmak_vault_unseal"
    assert "RuntimeError: boom" in diagnostic.detail


def test_unknown_action_types_and_bad_requests_are_diagnostics() -> None:
    b, pb = backend(6)
    (event,) = invoke(b, pb.InvokeAction.Request(action_type="tarmak_nope", config=config(pb)))
    (diagnostic,) = event.completed.diagnostics
    assert diagnostic.summary == "Unknown action type" and "tarmak_nope" in diagnostic.detail

    planned = unary(b, "PlanAction", pb.PlanAction.Request(action_type="tarmak_nope"))
    assert planned.diagnostics[0].summary == "Unknown action type"
    validated = unary(b, "ValidateActionConfig", pb.ValidateActionConfig.Request(type_name="x"))
    assert validated.diagnostics[0].summary == "Unknown action type"

    (event,) = invoke(b, pb.InvokeAction.Request(action_type="tarmak_vault_unseal"))
    assert event.completed.diagnostics[0].summary == "Invalid configuration in the request"

    handler = method_handlers(b)["InvokeAction"]
    undecodable = handler.request_deserializer(b"\xff\xff\xff")

    async def collect() -> list[Any]:
        return [e async for e in handler.unary_stream(undecodable, FakeContext())]

    (event,) = asyncio.run(collect())
    assert event.completed.diagnostics[0].summary == "Malformed request"


def test_validate_and_plan_check_the_configuration() -> None:
    b, pb = backend(6)
    request = pb.ValidateActionConfig.Request(
        type_name="tarmak_vault_unseal", config=config(pb, internal_fqdns=[])
    )
    (diagnostic,) = unary(b, "ValidateActionConfig", request).diagnostics
    assert diagnostic.attribute.steps[0].attribute_name == "internal_fqdns"
    fine = pb.PlanAction.Request(action_type="tarmak_vault_unseal", config=config(pb))
    assert list(unary(b, "PlanAction", fine).diagnostics) == []


def test_invoke_action_row_streams_on_the_loop() -> None:
    assert isinstance(BY_NAME["invoke_action"].runs, AwaitsStream)
    assert BY_NAME["invoke_action"].on_loop
