"""Invariants the runner enforces around resource code."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from provider.cty import STRING, UNKNOWN
from provider.framework import (
    Attribute,
    Block,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResponse,
    ImportRequest,
    ImportResponse,
    Provider,
    ReadRequest,
    ReadResponse,
    Resource,
    Schema,
    UpdateRequest,
    UpdateResponse,
    timeouts_block,
)
from provider.framework.diagnostics import Severity
from provider.framework.identity import IdentityAttribute, IdentitySchema
from provider.framework.list_resource import ListResource
from provider.framework.runner import ProviderRunner


class Broken(Resource):
    type_name = "x_broken"
    schema = Schema(Block({"id": Attribute(STRING, computed=True)}))

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        raise KeyError("boom")

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.diagnostics.add_error("Backend unreachable")


class Silent(Broken):
    type_name = "x_silent"

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        pass


class X(Provider):
    type_name = "x"

    def resources(self) -> list[Resource]:
        return [Broken(), Silent()]


def test_exception_becomes_error_diagnostic() -> None:
    out = asyncio.run(ProviderRunner(X()).apply("x_broken", None, {"id": None}, {"id": None}, b""))
    (diag,) = out.diagnostics
    assert diag.summary == "Unexpected error while creating x_broken"
    assert "KeyError" in diag.detail and "bug in the provider" in diag.detail


def test_missing_state_after_create_is_reported() -> None:
    out = asyncio.run(ProviderRunner(X()).apply("x_silent", None, {"id": None}, {"id": None}, b""))
    assert [d.summary for d in out.diagnostics] == ["Missing state after create"]


def test_failed_read_never_drops_the_object() -> None:
    out = asyncio.run(ProviderRunner(X()).read("x_broken", {"id": "i-1"}, b""))
    assert out.state == {"id": "i-1"}
    assert out.diagnostics.has_error()


def test_stop_cancels_waits() -> None:
    runner = ProviderRunner(X())
    runner.stop()
    ctx = runner._context({}, "create", Broken())
    try:
        ctx.sleep(30, "nothing")
    except Exception as err:
        assert "Cancelled while waiting for nothing" in str(err)
    else:
        raise AssertionError("sleep should have been cancelled")


class Versioned(Resource):
    """Schema version 2 renamed `addr` (version 1) to `address`."""

    type_name = "x_versioned"
    schema = Schema(Block({"address": Attribute(STRING, required=True)}), version=2)

    def upgrade_state(self, version: int, raw: dict) -> dict:  # type: ignore[type-arg]
        assert version == 1
        return {"address": raw["addr"]}


class WithVersioned(Provider):
    type_name = "x"

    def resources(self) -> list[Resource]:
        return [Versioned(), Broken()]


def test_upgrade_state_from_an_older_schema_version() -> None:
    runner = ProviderRunner(WithVersioned())
    out = runner.upgrade_state("x_versioned", 1, b'{"addr": "10.0.0.1"}')
    assert out.state == {"address": "10.0.0.1"} and not out.diagnostics.has_error()
    same = runner.upgrade_state("x_versioned", 2, b'{"address": "a", "gone": 1}')
    assert same.state == {"address": "a"}, "attributes no longer in the schema are dropped"


def test_upgrade_without_upgrader_is_a_clear_error() -> None:
    out = ProviderRunner(WithVersioned()).upgrade_state("x_broken", 3, b"{}")
    assert [d.summary for d in out.diagnostics] == ["State version not supported"]


class Waits(Resource):
    """Waits like the Tarmak resources do: `async def`, through the context."""

    type_name = "x_waits"
    schema = Schema(Block({"id": Attribute(STRING, computed=True)}))
    threads: set[int] = set()

    async def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        Waits.threads.add(threading.get_ident())
        await req.context.wait(30, "the other side")
        resp.state = {"id": "done"}

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        Waits.threads.add(threading.get_ident())
        resp.state = dict(req.state)


class WithWaits(Provider):
    type_name = "x"

    def resources(self) -> list[Resource]:
        return [Waits()]


def test_a_thousand_async_waits_share_one_thread_and_stop_ends_them_at_once() -> None:
    runner = ProviderRunner(WithWaits())

    async def scenario() -> tuple[list[object], float]:
        applies = [
            asyncio.ensure_future(runner.apply("x_waits", None, {"id": None}, {}, b""))
            for _ in range(1000)
        ]
        await asyncio.sleep(0.2)
        assert not any(a.done() for a in applies)
        asked = time.monotonic()
        runner.stop()  # what StopProvider does, from the loop itself
        outcomes = await asyncio.wait_for(asyncio.gather(*applies), 5)
        return outcomes, time.monotonic() - asked

    Waits.threads.clear()
    outcomes, took = asyncio.run(scenario())
    assert len(Waits.threads) == 1, "every wait ran on the event loop's thread"
    assert took < 1.0
    for out in outcomes:
        (diag,) = out.diagnostics  # type: ignore[attr-defined]
        assert diag.summary == "Stopped creating x_waits"
        assert "Cancelled while waiting for the other side" in diag.detail


def test_a_plain_operation_runs_on_a_worker_thread() -> None:
    Waits.threads.clear()
    out = asyncio.run(ProviderRunner(WithWaits()).read("x_waits", {"id": "a"}, b""))
    assert out.state == {"id": "a"}
    assert Waits.threads and threading.get_ident() not in Waits.threads


def test_stop_from_another_thread_wakes_async_waits() -> None:
    runner = ProviderRunner(WithWaits())

    async def scenario() -> object:
        apply = asyncio.ensure_future(runner.apply("x_waits", None, {"id": None}, {}, b""))
        await asyncio.sleep(0.1)
        threading.Timer(0.1, runner.stop).start()
        return await asyncio.wait_for(apply, 5)

    out = asyncio.run(scenario())
    assert [d.summary for d in out.diagnostics] == ["Stopped creating x_waits"]  # type: ignore[attr-defined]


def test_async_wait_times_out_at_the_deadline() -> None:
    from provider.framework.context import Context, OperationTimedOut

    async def scenario() -> float:
        started = time.monotonic()
        try:
            await Context(timeout=0.3).until(asyncio.sleep(30), "the other side")
        except OperationTimedOut as err:
            assert "Timed out after" in str(err) and "the other side" in str(err)
            return time.monotonic() - started
        raise AssertionError("the wait should have timed out")

    assert 0.25 < asyncio.run(scenario()) < 1.0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"~", "invalid JSON"),
        (b"[1]", "not a JSON object"),
        (b"[" * 1000, "nested more than"),
        (b'{"address": {"a": 1}}', "address: expected string"),
        (b'{"address": "a", "n": NaN}', "NaN is not a number"),
        (b"\xff", "invalid JSON"),
        (b'"' + b'\\"' * 20_000 + b"[" * 65, "nested more than"),  # a string never closed
    ],
)
def test_bad_stored_state_is_a_diagnostic_not_a_provider_bug(raw: bytes, reason: str) -> None:
    out = ProviderRunner(WithVersioned()).upgrade_state("x_versioned", 2, raw)
    [diagnostic] = out.diagnostics
    assert diagnostic.summary == "Invalid stored state" and reason in diagnostic.detail
    assert "bug in the provider" not in diagnostic.detail and out.state is None


def test_an_upgrader_that_fails_on_odd_state_is_reported() -> None:
    out = ProviderRunner(WithVersioned()).upgrade_state("x_versioned", 1, b'{"other": 1}')
    assert out.diagnostics.has_error() and out.state is None


# ---- rules the runner applies beside every operation ---------------------------------


class Named(Resource):
    """A resource with an identity and a write-only attribute."""

    type_name = "x_named"
    schema = Schema(
        Block(
            {
                "name": Attribute(STRING, required=True, force_new=True),
                "password_wo": Attribute(STRING, optional=True, write_only=True),
                "id": Attribute(STRING, computed=True),
            }
        )
    )
    identity_schema = IdentitySchema({"name": IdentityAttribute(STRING, required_for_import=True)})
    configured: object = None

    def configure(self, provider_data: object) -> None:
        self.configured = provider_data

    def identity(self, state: dict[str, object]) -> dict[str, object]:
        return {"name": state["name"]}

    def import_id(self, identity: dict[str, object]) -> str:
        return f"id-{identity['name']}"

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        resp.state = {**req.plan, "id": f"id-{req.plan['name']}"}

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = {**req.state, "password_wo": "leaked"}

    def import_state(self, req: ImportRequest, resp: ImportResponse) -> None:
        resp.state = {"name": req.id.removeprefix("id-"), "id": req.id}


class Found(ListResource):
    type_name = "x_named"
    schema = Schema(Block())
    configured: object = None

    def configure(self, provider_data: object) -> None:
        self.configured = provider_data


class WithNamed(Provider):
    type_name = "x"

    def configure(self, req: ConfigureRequest, resp: ConfigureResponse) -> None:
        resp.provider_data = "client"

    def resources(self) -> list[Resource]:
        return [Named()]

    def list_resources(self) -> list[ListResource]:
        return [Found()]


def test_write_only_values_are_in_no_plan_and_no_state() -> None:
    runner = ProviderRunner(WithNamed())
    config = {"name": "a", "password_wo": "secret", "id": None}
    planned = runner.plan("x_named", None, dict(config), config, b"")
    assert planned.plan.planned is not None and planned.plan.planned["password_wo"] is None
    out = asyncio.run(runner.apply("x_named", None, planned.plan.planned, config, b""))
    assert out.state == {"name": "a", "password_wo": None, "id": "id-a"}
    read = asyncio.run(runner.read("x_named", out.state, b""))
    assert read.state is not None and read.state["password_wo"] is None


def test_identity_rides_on_plans_states_and_imports() -> None:
    runner = ProviderRunner(WithNamed())
    assert set(runner.identity_schemas) == {"x_named"}
    prior = {"name": "a", "password_wo": None, "id": "id-a"}
    # An update whose planned state is not yet wholly known keeps its identity.
    unknown = {"name": "a", "password_wo": None, "id": None}
    kept = runner.plan("x_named", prior, unknown | {"id": UNKNOWN}, unknown, b"", {"name": "a"})
    assert kept.identity == {"name": "a"}
    # A replacement does not: the new object's identity is known after apply.
    renamed = {**unknown, "name": "b"}
    replaced = runner.plan("x_named", prior, {**prior, "name": "b"}, renamed, b"", {"name": "a"})
    assert replaced.plan.requires_replace == ["name"] and replaced.identity is None
    known = runner.plan("x_named", None, {**prior, "name": "c"}, {**prior, "name": "c"}, b"")
    assert known.identity == {"name": "c"}
    destroyed = runner.plan("x_named", prior, None, None, b"", {"name": "a"})
    assert destroyed.identity is None
    imported = runner.import_by_identity("x_named", {"name": "a"})
    assert imported.state == prior and imported.identity == {"name": "a"}
    incomplete = runner.import_by_identity("x_named", {"name": None})
    assert [d.summary for d in incomplete.diagnostics] == ["Incomplete identity"]


def test_configure_reaches_every_kind_at_once() -> None:
    runner = ProviderRunner(WithNamed())
    assert not runner.configure({}, "1.11.0").has_error()
    named, found = runner.resources["x_named"], runner.list_resources["x_named"]
    assert isinstance(named, Named) and isinstance(found, Found)
    assert named.configured == "client" and found.configured == "client"


# ---- timeouts in a state or plan, which Terraform does not validate -------------------


class Timed(Resource):
    """A resource with a timeout for each operation, that records which ran."""

    type_name = "x_timed"
    schema = Schema(
        Block(
            {"id": Attribute(STRING, computed=True)},
            blocks={"timeouts": timeouts_block(create="1m", read="1m", update="1m", delete="1m")},
        )
    )
    ran: list[str] = []

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        Timed.ran.append("create")
        resp.state = {**req.plan, "id": "t-1"}

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        Timed.ran.append("read")
        resp.state = dict(req.state)

    def update(self, req: UpdateRequest, resp: UpdateResponse) -> None:
        Timed.ran.append("update")
        resp.state = dict(req.plan)

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        Timed.ran.append(f"delete within {req.context.remaining():.0f} s")


class WithTimed(Provider):
    type_name = "x"

    def resources(self) -> list[Resource]:
        return [Timed()]


BOGUS = {"id": "t-1", "timeouts": dict.fromkeys(("create", "read", "update", "delete"), "bogus")}


def _invalid_duration_at(diagnostics: object, operation: str, stored: bool = False) -> None:
    [diagnostic] = diagnostics  # type: ignore[misc]
    summary = "Invalid duration in the stored state" if stored else "Invalid duration"
    assert diagnostic.summary == summary and str(diagnostic.path) == f"timeouts.{operation}"
    assert diagnostic.severity is (Severity.WARNING if stored else Severity.ERROR)
    assert "'bogus' is not a duration" in diagnostic.detail
    assert "bug in the provider" not in diagnostic.detail


def test_a_bad_timeout_in_state_is_a_warning_and_the_read_uses_the_default() -> None:
    """A state edited by hand must not block every refresh (and so every plan)."""
    Timed.ran.clear()
    out = asyncio.run(ProviderRunner(WithTimed()).read("x_timed", BOGUS, b"private"))
    _invalid_duration_at(out.diagnostics, "read", stored=True)
    assert "The default (1m) is used instead." in next(iter(out.diagnostics)).detail
    assert out.state == BOGUS and Timed.ran == ["read"]


def test_a_bad_timeout_in_state_does_not_block_a_destroy() -> None:
    Timed.ran.clear()
    out = asyncio.run(ProviderRunner(WithTimed()).apply("x_timed", BOGUS, None, None, b""))
    _invalid_duration_at(out.diagnostics, "delete", stored=True)
    assert out.state is None and Timed.ran == ["delete within 60 s"]
    planned = ProviderRunner(WithTimed()).plan("x_timed", BOGUS, None, None, b"")
    assert list(planned.diagnostics) == []


@pytest.mark.parametrize(
    ("prior", "planned", "operation"),
    [(None, BOGUS, "create"), (BOGUS, BOGUS, "update")],
)
def test_a_bad_timeout_in_a_plan_fails_apply_and_keeps_what_exists(
    prior: dict[str, object] | None, planned: dict[str, object] | None, operation: str
) -> None:
    Timed.ran.clear()
    runner = ProviderRunner(WithTimed())
    out = asyncio.run(runner.apply("x_timed", prior, planned, planned, b"private"))
    _invalid_duration_at(out.diagnostics, operation)
    assert out.state == prior and Timed.ran == []
    assert out.private == (b"" if prior is None else b"private")


@pytest.mark.parametrize(
    ("prior", "proposed", "operation"),
    [(None, BOGUS, "create"), (BOGUS, BOGUS, "update")],
)
def test_plan_reports_the_bad_timeout_its_apply_would_use(
    prior: dict[str, object] | None, proposed: dict[str, object] | None, operation: str
) -> None:
    planned = ProviderRunner(WithTimed()).plan("x_timed", prior, proposed, proposed, b"")
    _invalid_duration_at(planned.diagnostics, operation)
    # as validation reports it in configuration
    validated = ProviderRunner(WithTimed()).validate_resource_config("x_timed", BOGUS)
    assert [
        (d.summary, d.path, d.detail) for d in validated if str(d.path) == f"timeouts.{operation}"
    ] == [(d.summary, d.path, d.detail) for d in planned.diagnostics]
