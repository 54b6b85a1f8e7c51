"""Hostile bytes over the real gRPC boundary (issue 12, item 1).

The real provider process is started as go-plugin starts it (AutoMTLS, the
handshake line), once per protocol, against the real OpenBao -dev. Every
request must get its RPC's own response, never a gRPC error, within a
second, with an error diagnostic whenever it is malformed, and leave Vault
and the state Terraform holds exactly as they were. The provider's stderr
(at debug level) must never show a traceback.

`make test` runs TARMAK_FUZZ_CASES (default 2,000) seeded cases;
`make fuzz` runs many more. A failing case prints its seed and number.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hvac
import msgpack
import pytest

from devenv.environment import LocalEnvironment
from devenv.vault import VaultEndpoint, external_vault
from provider.cty import msgpack_codec
from provider.tarmak.provider import TarmakProvider
from tests.fuzz.cases import Case, CaseMaker, Dynamic
from tests.fuzz.client import DEADLINE, problems, send, send_raw, vault_snapshot
from tests.fuzz.plugin import RunningPlugin, start_plugin

pytestmark = [pytest.mark.e2e, pytest.mark.vault]

FUZZ_CASES = int(os.environ.get("TARMAK_FUZZ_CASES", "2000"))
FUZZ_SEED = int(os.environ.get("TARMAK_FUZZ_SEED", "12"))
HOSTNAME_TYPE = TarmakProvider().resources()[-1].schema.cty_type()


@pytest.fixture(scope="module")
def vault_dev(local_env: LocalEnvironment) -> VaultEndpoint:
    return external_vault() or local_env.vault_dev.endpoint


@pytest.fixture(scope="module")
def mount(vault_dev: VaultEndpoint) -> Iterator[str]:
    client = hvac.Client(url=vault_dev.address, token=vault_dev.token)
    name = f"hostile-{secrets.token_hex(4)}"
    client.sys.enable_secrets_engine("kv", path=name, options={"version": "2"})
    yield name
    client.sys.disable_secrets_engine(name)


@pytest.fixture(scope="module")
def plugins(
    vault_dev: VaultEndpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, RunningPlugin]]:
    directory = tmp_path_factory.mktemp("hostile")
    env = {
        **vault_dev.env(),
        "TARMAK_CONNECTOR_SOCKET": str(directory / "nobody-here.sock"),
    }
    running = {p: start_plugin(p, directory / f"p{p}", env) for p in (5, 6)}
    try:
        for plugin in running.values():
            configure = plugin.pb.ConfigureProvider if plugin.protocol == 6 else plugin.pb.Configure
            rpc = plugin.stub.ConfigureProvider if plugin.protocol == 6 else plugin.stub.Configure
            request = configure.Request(terraform_version="1.11.4")
            request.config.msgpack = msgpack.packb(
                {k: None for k in TarmakProvider.schema.block.attributes}
            )
            assert not rpc(request, timeout=10).diagnostics
        yield running
    finally:
        for plugin in running.values():
            plugin.stop()
        for plugin in running.values():
            assert_clean_log(plugin)


def assert_clean_log(plugin: RunningPlugin) -> None:
    log = plugin.stderr()
    for marker in ("Traceback", "Exception calling application", "Exception iterating"):
        assert marker not in log, f"proto{plugin.protocol} log:\n{log[-4000:]}"


@pytest.fixture(scope="module")
def allocated(plugins: dict[int, RunningPlugin], mount: str) -> bytes:
    """A real hostname allocation (a valid create), as the state Terraform would hold."""
    plugin = plugins[6]
    planned = {k: None for k, _ in HOSTNAME_TYPE.attributes}
    planned.update(
        application="web",
        role="frontend",
        environment="prod",
        format="{application}-{role}-{environment}-vm{number}",
        kv_mount=mount,
        reuse_released_numbers=False,
    )
    request = plugin.pb.ApplyResourceChange.Request(type_name="tarmak_hostname")
    request.planned_state.msgpack = msgpack_codec.encode(planned, HOSTNAME_TYPE)
    request.config.msgpack = request.planned_state.msgpack
    response = plugin.stub.ApplyResourceChange(request, timeout=30)
    assert not response.diagnostics, response.diagnostics
    state = msgpack_codec.decode(response.new_state.msgpack, HOSTNAME_TYPE)
    assert state["name"] == "web-frontend-prod-vm1"
    return response.new_state.msgpack


def read_back(plugin: RunningPlugin, state: bytes) -> bytes:
    """A valid refresh of `state`: the allocation must still be there, unchanged."""
    request = plugin.pb.ReadResource.Request(type_name="tarmak_hostname")
    request.current_state.msgpack = state
    response = plugin.stub.ReadResource(request, timeout=10)
    assert not response.diagnostics, response.diagnostics
    return response.new_state.msgpack


class Liveness:
    """Meanwhile, other calls keep being answered within the deadline."""

    def __init__(self, plugins: dict[int, RunningPlugin]) -> None:
        self.plugins = plugins
        self.slowest = 0.0
        self.calls = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Liveness:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self.failures, self.failures[:5]
        assert self.calls > 0

    def _run(self) -> None:
        # Call first, then pause: hostile calls that all finish within one pause
        # must still have had a call of ours in flight beside them.
        while True:
            for plugin in self.plugins.values():
                rpc = (
                    plugin.stub.GetProviderSchema if plugin.protocol == 6 else plugin.stub.GetSchema
                )
                started = time.monotonic()
                try:
                    rpc(plugin.pb.GetProviderSchema.Request(), timeout=DEADLINE)
                except Exception as err:  # a timeout or any gRPC failure
                    self.failures.append(f"proto{plugin.protocol}: {err!r:.200}")
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.calls += 1
            if self._stop.wait(0.02):
                return


# ---- the seeded fuzz --------------------------------------------------------------


def raw_mutation(case: Case, rng: random.Random) -> Callable[[bytes], bytes]:
    """Break a serialised request. A case that must be refused gets a corrupt tail
    (a varint that never ends), so it stays refused; a harmless one may get bit
    flips or a cut that leaves a valid message, which then must simply be answered."""
    if case.must_refuse or rng.random() < 0.3:
        case.must_refuse = True
        return lambda data: data + b"\xff"
    kind = rng.choice(["flip", "cut", "random", "bad utf-8 type_name"])
    if kind == "bad utf-8 type_name":
        case.must_refuse = case.rpc != "get_provider_schema"  # field 1 is type_name elsewhere
        return lambda data: data + b"\x0a\x02\xff\xfe"
    if kind == "random":
        body = rng.randbytes(rng.randint(0, 64))
        return lambda data: body
    if kind == "cut":
        keep = rng.random()
        return lambda data: data[: int(len(data) * keep)]
    flips = [(rng.random(), 1 << rng.randrange(8)) for _ in range(rng.randint(1, 4))]

    def flip(data: bytes) -> bytes:
        out = bytearray(data)
        for where, bit in flips:
            if out:
                out[int(where * len(out)) % len(out)] ^= bit
        return bytes(out)

    return flip


def test_fuzz_every_rpc_of_both_protocols(
    plugins: dict[int, RunningPlugin],
    vault_dev: VaultEndpoint,
    allocated: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    provider = TarmakProvider()
    maker = CaseMaker(
        FUZZ_SEED, provider.schema, {r.type_name: r.schema for r in provider.resources()}
    )
    cases = maker.cases(FUZZ_CASES)
    before = vault_snapshot(vault_dev.address, vault_dev.token or "")
    found: list[str] = []
    refused = raw = 0
    rng = random.Random(FUZZ_SEED)
    started = time.monotonic()
    with Liveness(plugins) as liveness:
        for case in cases:
            plugin = plugins[5 if case.number % 2 else 6]
            if case.number % 5 == 0:  # the request's own bytes broken, not just a field
                answer = send_raw(plugin, case, raw_mutation(case, rng))
                raw += 1
            else:
                answer = send(plugin, case)
            found.extend(problems(answer))
            refused += bool(answer.errors)
    elapsed = time.monotonic() - started
    assert not found, f"seed {FUZZ_SEED}: {len(found)} problems, e.g.\n" + "\n".join(found[:20])
    assert vault_snapshot(vault_dev.address, vault_dev.token or "") == before
    for plugin in plugins.values():
        assert read_back(plugin, allocated) == allocated
    must = sum(c.must_refuse for c in cases)
    with capsys.disabled():
        print(
            f"\nfuzz: {len(cases)} cases (seed {FUZZ_SEED}), {must} malformed, {raw} with broken "
            f"protobuf bytes, {refused} refused, "
            f"{elapsed:.1f}s; slowest concurrent call {liveness.slowest * 1000:.0f} ms"
        )
    assert must >= len(cases) // 2  # most cases are hostile


# ---- the examples, by name ------------------------------------------------


def call(plugin: RunningPlugin, rpc: str, fields: dict[str, Any], refuse: bool = True) -> Any:
    answer = send(plugin, Case(0, rpc, fields, must_refuse=refuse, label=f"{rpc} {fields}"))
    assert not problems(answer), problems(answer)
    return answer


@pytest.fixture(params=[5, 6], ids=["proto5", "proto6"])
def plugin(request: pytest.FixtureRequest, plugins: dict[int, RunningPlugin]) -> RunningPlugin:
    return plugins[request.param]


@pytest.fixture
def unchanged(plugin: RunningPlugin, vault_dev: VaultEndpoint, allocated: bytes) -> Iterator[None]:
    """Vault and the allocation Terraform holds are the same after the test's requests."""
    before = vault_snapshot(vault_dev.address, vault_dev.token or "")
    yield
    assert vault_snapshot(vault_dev.address, vault_dev.token or "") == before
    assert read_back(plugin, allocated) == allocated
    assert_clean_log(plugin)


@pytest.mark.usefixtures("unchanged")
def test_truncated_map_in_validate_config(plugin: RunningPlugin) -> None:
    answer = call(
        plugin,
        "validate_resource_config",
        {"type_name": "tarmak_hostname", "config": Dynamic("msgpack", b"\x85\xa3")},
    )
    assert "Invalid configuration in the request" in answer.errors[0]


@pytest.mark.usefixtures("unchanged")
def test_state_that_is_not_a_map_is_refused_and_handed_back(plugin: RunningPlugin) -> None:
    answer = call(
        plugin,
        "read_resource",
        {"type_name": "tarmak_hostname", "current_state": Dynamic("msgpack", b"~")},
    )
    assert "expected map, got int" in answer.errors[0]
    assert answer.response.new_state.msgpack == b"~"


@pytest.mark.usefixtures("unchanged")
def test_json_nested_a_thousand_deep(plugin: RunningPlugin) -> None:
    answer = call(
        plugin,
        "validate_resource_config",
        {"type_name": "tarmak_hostname", "config": Dynamic("json", b"[" * 1000)},
    )
    assert "nested more than" in answer.errors[0]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("number", ["Infinity", "sNaN", "NaN", float("nan"), "1e9999999"])
def test_numbers_cty_does_not_have(
    plugin: RunningPlugin, allocated: bytes, number: str | float
) -> None:
    state = msgpack.unpackb(allocated)
    state["number"] = number
    answer = call(
        plugin,
        "read_resource",
        {"type_name": "tarmak_hostname", "current_state": Dynamic("msgpack", msgpack.packb(state))},
    )
    diagnostic = answer.response.diagnostics[0]
    assert [s.attribute_name for s in diagnostic.attribute.steps] == ["number"]


@pytest.mark.usefixtures("unchanged")
def test_map_key_that_is_a_map(plugin: RunningPlugin) -> None:
    call(
        plugin,
        "plan_resource_change",
        {
            "type_name": "tarmak_hostname",
            "proposed_new_state": Dynamic("msgpack", b"\x81\x81\xa1a\xa1b\xa1c"),
        },
    )


@pytest.mark.usefixtures("unchanged")
def test_huge_exponent_does_not_freeze_the_provider(
    plugin: RunningPlugin, plugins: dict[int, RunningPlugin], allocated: bytes
) -> None:
    state = msgpack.unpackb(allocated)
    state["number"] = "1e9999999"
    request = Dynamic("msgpack", msgpack.packb(state))
    with Liveness(plugins) as liveness:
        for _ in range(20):
            call(
                plugin, "read_resource", {"type_name": "tarmak_hostname", "current_state": request}
            )
    assert liveness.slowest < DEADLINE


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "raw", [b"~", b"[1]", b"[" * 1000, b'{"number": "1e9999999"}', b'{"name": {"a": 1}}', b"\xff"]
)
def test_upgrade_answers_bad_state_without_blaming_the_provider(
    plugin: RunningPlugin, raw: bytes
) -> None:
    answer = call(
        plugin,
        "upgrade_resource_state",
        {"type_name": "tarmak_hostname", "raw_state": {"json": raw}},
    )
    assert answer.errors[0].startswith("Invalid stored state")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "import_id", ["", "/", "a/b/c", "x" * 5000, "nul\x00", "../../sys/x", "Web_Frontend"]
)
def test_import_answers_bad_ids_without_blaming_the_provider(
    plugin: RunningPlugin, import_id: str
) -> None:
    answer = call(
        plugin, "import_resource_state", {"type_name": "tarmak_hostname", "id": import_id}
    )
    assert answer.errors


@pytest.mark.usefixtures("unchanged")
def test_refused_apply_keeps_the_prior_state(plugin: RunningPlugin, allocated: bytes) -> None:
    """A destroy whose planned state is garbage must not release the allocation."""
    answer = call(
        plugin,
        "apply_resource_change",
        {
            "type_name": "tarmak_hostname",
            "prior_state": Dynamic("msgpack", allocated),
            "planned_state": Dynamic("msgpack", b"\x91" * 5000),
        },
    )
    assert answer.response.new_state.msgpack == allocated


def test_stop_is_answered(tmp_path: Path) -> None:
    for protocol in (5, 6):
        running = start_plugin(protocol, tmp_path / f"p{protocol}")
        try:
            rpc = running.stub.StopProvider if protocol == 6 else running.stub.Stop
            message = running.pb.StopProvider if protocol == 6 else running.pb.Stop
            assert rpc(message.Request(), timeout=DEADLINE).Error == ""
        finally:
            running.stop()
        assert_clean_log(running)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "tail", [b"\xff", b"\x0a\x02\xff\xfe"], ids=["corrupt-wire-format", "bad-utf8-type_name"]
)
def test_bytes_that_are_not_a_request_message_are_answered(
    plugin: RunningPlugin, tail: bytes
) -> None:
    case = Case(0, "read_resource", {"type_name": "tarmak_hostname"}, must_refuse=True)
    answer = send_raw(plugin, case, lambda data: data + tail)
    assert not problems(answer), problems(answer)
    assert answer.errors[0].startswith("Malformed request")
