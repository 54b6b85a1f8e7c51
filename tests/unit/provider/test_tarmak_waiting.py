"""poll(): one wait loop for every waiting resource, the ephemeral one included."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from connector.methods import Method
from connector.protocol.contract import BastionParams, Status
from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.resources import waiting
from provider.resources.waiting import Poll, poll


@dataclass
class ScriptedClient:
    answers: list[dict[str, Any]]
    socket_path: str = "/tmp/nobody.sock"
    connected: bool = True
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def call(
        self, method: Method, params: dict[str, Any], ctx: Context, what: str
    ) -> dict[str, Any]:
        self.calls.append(params)
        return self.answers.pop(0)


@dataclass
class Settings:
    tarmak: ScriptedClient


WAIT = Poll(Method.BASTION_INSTANCE_STATUS, BastionParams("10.0.0.1", "centos"), "the bastion")


def _poll(client: ScriptedClient) -> Any:
    return asyncio.run(poll(Settings(client), WAIT, Context(timeout=10), Diagnostics()))  # type: ignore[arg-type]


def test_answers_given_at_once_are_not_asked_again_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(waiting, "PAUSE_SECONDS", 0.2)
    client = ScriptedClient(
        [{"status": "gone"}, {"status": "not-ready", "detail": "no keys"}, {"status": "ready"}]
    )
    started = time.monotonic()
    result = _poll(client)
    assert result.status is Status.READY and len(client.calls) == 3
    assert time.monotonic() - started >= 0.4, "paused after each"


def test_every_call_carries_the_wait_and_the_typed_params() -> None:
    client = ScriptedClient([{"status": "ready", "detail": "up"}])
    assert _poll(client).detail == "up"
    (params,) = client.calls
    assert params["hostname"] == "10.0.0.1" and params["wait"] is True
    assert 0.2 <= params["wait_seconds"] <= waiting.CALL_WAIT_SECONDS


def test_the_connector_wait_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    client = ScriptedClient([{"status": "ready"}], connected=False)
    with caplog.at_level("INFO", logger="provider.resources.waiting"):
        _poll(client)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["waiting for tarmak-connector on /tmp/nobody.sock… (for the bastion)"]
