"""GetProviderSchema answered from the snapshot `make` writes: the same answer
the provider builds, without importing the provider or the framework's schema,
and never once a source it was built from has changed."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from devenv.mirror import PROVIDERS
from provider.framework.catalog import Catalog
from provider.server import schema_rpcs, schema_snapshot
from provider.server.backend import Backend
from provider.tarmak import ENTRY as TARMAK
from provider.tarmak.provider import TarmakProvider
from tests.e2e.testing_provider import TestingProvider
from tests.unit.provider.test_rpc_table import SCHEMA_ONLY_START, in_a_fresh_interpreter

ROOT = Path(__file__).resolve().parents[3]
TESTING = "tests.e2e.testing_provider:TestingProvider"


def messages(protocol: int) -> Any:
    return importlib.import_module(f"provider._generated.tfplugin{protocol}_pb2")


def built(provider: object, protocol: int) -> Any:
    """The answer the provider builds itself (what a start without a snapshot sends)."""
    pb = messages(protocol)
    response = pb.GetProviderSchema.Response()
    schema_rpcs.get_provider_schema(Backend(pb, protocol, Catalog.of(provider)), None, response)
    return response


def parsed(answer: bytes | None, protocol: int) -> Any:
    """A serialized answer as a message: maps serialize in no fixed order."""
    assert answer is not None
    return messages(protocol).GetProviderSchema.Response.FromString(answer)


@pytest.mark.parametrize("protocol", [5, 6])
@pytest.mark.parametrize(
    ("entry", "provider"), [(TARMAK, TarmakProvider), (TESTING, TestingProvider)]
)
def test_make_wrote_a_current_snapshot_that_is_the_built_answer(
    entry: str, provider: type, protocol: int
) -> None:
    assert parsed(schema_snapshot.prebuilt(entry, protocol), protocol) == built(
        provider(), protocol
    )


def test_the_makefile_and_the_package_name_the_provider_as_main_serves_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    entries = re.search(r"^SCHEMA_ENTRIES := (.*)$", makefile, re.M)
    assert entries is not None
    assert entries.group(1).split() == [TARMAK, TESTING]
    assert "serve_and_exit(ENTRY, ADDRESS)" in (ROOT / "provider" / "main.py").read_text()
    assert repr(TESTING) in PROVIDERS["testing"][2]  # the testing provider's launcher


def test_a_start_answers_the_schema_without_importing_the_provider() -> None:
    seen = in_a_fresh_interpreter(SCHEMA_ONLY_START)
    assert not seen["snapshots_before_schema"]  # looked up by the schema's RPC, not at start
    assert seen["prebuilt"]
    assert parsed(bytes.fromhex(seen["schema"]), 6) == built(TestingProvider(), 6)
    assert seen["declaring_after_schema"] == []
    # The first RPC that needs the provider imports it, and works.
    assert seen["diagnostics"] == []
    assert "tests.e2e.testing_provider" in seen["declaring_after_validate"]


def test_a_provider_given_itself_builds_its_answer() -> None:
    from provider.server.serve import backend_for

    backend = backend_for(TestingProvider(), 6)
    assert backend.prebuilt_schema is None
    response = backend.pb.GetProviderSchema.Response()
    schema_rpcs.get_provider_schema(backend, None, response)
    assert response == built(TestingProvider(), 6)


def fake_snapshots(
    monkeypatch: pytest.MonkeyPatch, sources: list[tuple[str, int, int]], checked: bool
) -> None:
    module = types.ModuleType(schema_snapshot.SNAPSHOTS_MODULE)
    module.CHECKED = checked  # type: ignore[attr-defined]
    module.SNAPSHOTS = {  # type: ignore[attr-defined]
        "somewhere:Provider": {"sources": tuple(sources), "responses": {6: b"answer"}}
    }
    monkeypatch.setitem(sys.modules, schema_snapshot.SNAPSHOTS_MODULE, module)


def recorded(path: Path) -> tuple[str, int, int]:
    found = path.stat()
    return (os.path.relpath(path, schema_snapshot.ROOT), found.st_mtime_ns, found.st_size)


def test_a_snapshot_whose_source_changed_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = tmp_path / "resource.py"
    source.write_text("schema = 1\n")
    fake_snapshots(monkeypatch, [recorded(source)], checked=True)
    assert schema_snapshot.prebuilt("somewhere:Provider", 6) == b"answer"
    assert schema_snapshot.prebuilt("somewhere:Provider", 5) is None  # not written
    assert schema_snapshot.prebuilt("elsewhere:Provider", 6) is None

    then = source.stat().st_mtime_ns
    source.write_text("schema = 2\n")  # same size, edited
    os.utime(source, ns=(then + 1_000_000, then + 1_000_000))
    assert schema_snapshot.prebuilt("somewhere:Provider", 6) is None
    source.unlink()
    assert schema_snapshot.prebuilt("somewhere:Provider", 6) is None


def test_an_unchecked_snapshot_is_used_whatever_the_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_snapshots(monkeypatch, [(*recorded(tmp_path)[:1], 0, 0)], checked=False)
    assert schema_snapshot.prebuilt("somewhere:Provider", 6) == b"answer"


def test_no_snapshots_module_means_no_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, schema_snapshot.SNAPSHOTS_MODULE, None)
    assert schema_snapshot.prebuilt(TESTING, 6) is None


@pytest.mark.parametrize(
    "snapshots",
    [
        {},  # no SNAPSHOTS at all
        {"CHECKED": True, "SNAPSHOTS": {TESTING: {"responses": {6: b"x"}}}},  # no sources
        {"CHECKED": False, "SNAPSHOTS": {TESTING: {"responses": {6: "not bytes"}}}},
        {"CHECKED": False, "SNAPSHOTS": {TESTING: ["another", "shape"]}},
    ],
)
def test_a_snapshot_in_another_shape_is_no_snapshot(
    monkeypatch: pytest.MonkeyPatch, snapshots: dict[str, Any]
) -> None:
    """As a checkout may hold one an older `make` wrote: the provider starts anyway."""
    module = types.ModuleType(schema_snapshot.SNAPSHOTS_MODULE)
    module.__dict__.update(snapshots)
    monkeypatch.setitem(sys.modules, schema_snapshot.SNAPSHOTS_MODULE, module)
    assert schema_snapshot.prebuilt(TESTING, 6) is None


def test_a_prebuilt_answer_that_does_not_parse_is_built_instead() -> None:
    from provider.server.serve import backend_for

    backend = backend_for(TestingProvider(), 6)
    backend.prebuilt_schema = lambda: b"\xff\xff not a message"
    response = backend.pb.GetProviderSchema.Response()
    schema_rpcs.get_provider_schema(backend, None, response)
    assert response == built(TestingProvider(), 6)


@pytest.mark.parametrize("checked", [True, False])
def test_write_records_the_answers_and_the_sources_they_need(tmp_path: Path, checked: bool) -> None:
    out = tmp_path / "snapshots.py"
    schema_snapshot.write(out, [TESTING], checked=checked)
    spec = importlib.util.spec_from_file_location("written_snapshots", out)
    assert spec is not None and spec.loader is not None
    written = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(written)
    assert written.CHECKED is checked
    snapshot = written.SNAPSHOTS[TESTING]
    assert sorted(snapshot["responses"]) == [5, 6]
    for protocol, answer in snapshot["responses"].items():
        assert parsed(answer, protocol) == built(TestingProvider(), protocol)
    sources = {relative for relative, _mtime, _size in snapshot["sources"]}
    if not checked:
        assert sources == set()
        return
    assert {"tests/e2e/testing_provider.py", "provider/framework/schema.py"} <= sources
    # Only this project's files, and only what the testing provider needs.
    assert not any(s.startswith(".") or "site-packages" in s for s in sources)
    assert "provider/tarmak/provider.py" not in sources
