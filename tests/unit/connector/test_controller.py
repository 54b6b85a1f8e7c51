"""The controller never runs on silently without a connector: each failure is one
line, the delay before the next start doubles up to its bound, and after too many
failures in a row it gives up and says why."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import pytest

from connector.protocol import Connection, Event, Message
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer


def run_until_given_up(command: list[str], caplog: pytest.LogCaptureFixture) -> str:
    gave_up: list[str] = []
    done = threading.Event()

    def on_give_up(message: str) -> None:
        gave_up.append(message)
        done.set()

    caplog.set_level(logging.INFO, logger="connector.tarmak_side.controller")
    controller = ConnectorController(
        command,
        RequestServer({}),
        restart_delay=0.1,
        max_restart_delay=0.3,
        max_restarts=4,
        on_give_up=on_give_up,
    ).start()
    try:
        assert done.wait(30), "the controller gave up"
    finally:
        controller.stop()
    return gave_up[0]


def test_a_connector_that_keeps_exiting_is_given_up_on(caplog: pytest.LogCaptureFixture) -> None:
    message = run_until_given_up(["sh", "-c", "exit 3"], caplog)
    assert (
        message == "the connector (sh) failed 5 times in a row, last: exited with code 3; giving up"
    )
    retries = [r.getMessage() for r in caplog.records if "starting it again" in r.getMessage()]
    assert [line.rsplit(" ", 1)[1] for line in retries] == ["0.1s", "0.2s", "0.3s", "0.3s"]
    assert all(line.startswith("the connector (sh) exited with code 3;") for line in retries)


def test_a_connector_that_cannot_be_started_is_given_up_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = run_until_given_up(["/nonexistent/tarmak-connector"], caplog)
    assert message.endswith("last: could not be started: No such file or directory; giving up")


def test_a_connector_killed_by_a_signal_says_which(caplog: pytest.LogCaptureFixture) -> None:
    message = run_until_given_up(["sh", "-c", "kill -KILL $$"], caplog)
    assert "last: was killed by SIGKILL" in message


def test_stopping_ends_the_connector_by_closing_its_input(tmp_path: Path) -> None:
    """The real relay exits quietly on end of input: no signal, no "stopped by" line
    in Tarmak's output; one that ignores its input is still ended, by SIGTERM."""
    from devenv.tarmak import relay_argv

    socket_path = str(tmp_path / "c.sock")
    controller = ConnectorController(relay_argv(socket_path), RequestServer({})).start()
    assert controller.attached.wait(10)
    process = controller._process
    assert process is not None
    controller.stop()
    assert process.returncode == 0
    assert not (tmp_path / "c.sock").exists()

    stubborn = ConnectorController(["sleep", "60"], RequestServer({}))
    stubborn.start()
    assert stubborn.attached.wait(10)
    process = stubborn._process
    assert process is not None
    stubborn.stop()
    assert process.wait(5) == -signal.SIGTERM


class Flaky(RequestServer):
    """A server whose first message raises something it never should."""

    def __init__(self) -> None:
        super().__init__({})
        self.events: list[Event] = []
        self.second = threading.Event()

    def on_event(self, generation: int, event: Event) -> None:
        self.events.append(event)
        if len(self.events) == 1:
            raise RuntimeError("a bug, with hvs.secret in its message")
        self.second.set()


def test_one_message_that_breaks_the_server_does_not_end_the_reader(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="connector.tarmak_side.controller")
    frames = Connection()
    wire = frames.send(Message(1, b"first")) + frames.send(Message(2, b"second"))
    # Writes two messages, then waits for the end of its input, as the relay does.
    script = (
        f"import sys; sys.stdout.buffer.write({wire!r}); sys.stdout.flush(); "
        "sys.stdin.buffer.read()"
    )
    server = Flaky()
    controller = ConnectorController([sys.executable, "-c", script], server).start()
    try:
        assert server.second.wait(10), "the message after the broken one was handled"
    finally:
        controller.stop()
    assert server.events == [Message(1, b"first"), Message(2, b"second")]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "a message on channel 1 could not be handled: RuntimeError"
    ]
    assert all(r.exc_info is None for r in caplog.records)
