"""Launch tarmak-connector (locally or through `docker exec -i`) and keep it
running, feeding what it relays to the RequestServer.

A connector that cannot be started or that exits is reported in one line and
started again after a delay that doubles up to a bound, so a container being
recreated is waited for without spinning. After too many failures in a row
the controller gives up and says so, rather than running on with nothing to
serve.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import cast

from connector.protocol import NEED_DATA, Connection, Event, ProtocolError
from connector.tarmak_side.server import RequestServer

log = logging.getLogger(__name__)
# How long a connector has to exit by itself once its input ends, before SIGTERM.
STOP_GRACE_SECONDS = 3.0


def _ended(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


class ConnectorController:
    def __init__(
        self,
        command: str | Sequence[str],
        server: RequestServer,
        *,
        restart_delay: float = 0.5,
        max_restart_delay: float = 30.0,
        max_restarts: int = 1000,
        steady_after: float = 60.0,
        on_give_up: Callable[[str], None] | None = None,
    ) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        self.server = server
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        # Failures in a row; a connector that ran `steady_after` seconds resets the count.
        self.max_restarts = max_restarts
        self.steady_after = steady_after
        self.on_give_up = on_give_up
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self.generation = 0
        self.attached = threading.Event()

    def start(self) -> ConnectorController:
        self._thread = threading.Thread(target=self._supervise, name="connector", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            # The end of its input is the connector's own sign that Tarmak is done:
            # it closes its socket and exits quietly. A signal only if it does not.
            self.server.detach(self.generation)
            with contextlib.suppress(OSError, ValueError):
                cast(io.BufferedWriter, process.stdin).close()
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.terminate()
        if self._thread is not None:
            self._thread.join(10)
        self.server.shutdown()

    def _supervise(self) -> None:
        failures = 0
        delay = self.restart_delay
        while not self._stop.is_set():
            self.generation += 1
            started = time.monotonic()
            what = self._run_once(self.generation)
            if self._stop.is_set():
                return
            if time.monotonic() - started >= self.steady_after:
                failures, delay = 0, self.restart_delay
            failures += 1
            if failures > self.max_restarts:
                message = (
                    f"the connector ({self.argv[0]}) failed {failures} times in a row, "
                    f"last: {what}; giving up"
                )
                log.error("%s", message)
                if self.on_give_up is not None:
                    self.on_give_up(message)
                return
            log.warning(
                "the connector (%s) %s; starting it again in %.1fs", self.argv[0], what, delay
            )
            self._stop.wait(delay)
            delay = min(delay * 2, self.max_restart_delay)

    def _run_once(self, generation: int) -> str:
        """Run one connector until it ends; what happened to it."""
        try:
            process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as err:
            return f"could not be started: {err.strerror or err}"
        self._process = process
        # Popen with PIPE and no text mode gives buffered binary files.
        stdin = cast(io.BufferedWriter, process.stdin)
        stdout = cast(io.BufferedReader, process.stdout)
        self.server.attach(generation, stdin)
        self.attached.set()
        incoming = Connection()
        try:
            while data := stdout.read1(256 * 1024):
                incoming.receive_data(data)
                while (event := incoming.next_event()) is not NEED_DATA:
                    self._deliver(generation, event)
        except (OSError, ProtocolError) as err:
            log.warning("connector stream broke: %s", err)
        finally:
            self.attached.clear()
            self.server.detach(generation)
            with contextlib.suppress(OSError):
                stdin.close()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            stdout.close()
        return _ended(process.returncode)

    def _deliver(self, generation: int, event: Event) -> None:
        """Hand one event to the server. Whatever goes wrong with one message is
        that message's problem: one line (no payload, which may hold a secret),
        and the reader goes on serving the rest."""
        try:
            self.server.on_event(generation, event)
        except Exception as err:
            log.error(
                "a message on channel %d could not be handled: %s",
                event.channel,
                type(err).__name__,
            )
