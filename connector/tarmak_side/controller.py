"""Launch tarmak-connector (locally or through `docker exec -i`) and keep it
running, feeding what it relays to the RequestServer."""

from __future__ import annotations

import contextlib
import logging
import shlex
import subprocess
import threading
from collections.abc import Sequence

from connector.protocol import NEED_DATA, Connection, ProtocolError
from connector.tarmak_side.server import RequestServer

log = logging.getLogger(__name__)


class ConnectorController:
    def __init__(
        self,
        command: str | Sequence[str],
        server: RequestServer,
        *,
        restart_delay: float = 0.5,
        max_restarts: int = 1000,
    ) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        self.server = server
        self.restart_delay = restart_delay
        self.max_restarts = max_restarts
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
            process.terminate()
        if self._thread is not None:
            self._thread.join(10)
        self.server.shutdown()

    def kill_connector(self) -> None:
        """For tests: the connector dies as if `docker exec` broke; we restart it."""
        process = self._process
        if process is not None:
            process.kill()

    def _supervise(self) -> None:
        restarts = 0
        while not self._stop.is_set():
            self.generation += 1
            self._run_once(self.generation)
            if self._stop.is_set():
                return
            restarts += 1
            if restarts > self.max_restarts:
                log.error("tarmak-connector exited %d times; giving up", restarts)
                return
            log.warning("tarmak-connector exited; restarting in %.1fs", self.restart_delay)
            self._stop.wait(self.restart_delay)

    def _run_once(self, generation: int) -> None:
        process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._process = process
        assert process.stdin is not None and process.stdout is not None
        self.server.attach(generation, process.stdin)
        self.attached.set()
        incoming = Connection()
        try:
            while data := process.stdout.read1(256 * 1024):
                incoming.receive_data(data)
                while (event := incoming.next_event()) is not NEED_DATA:
                    self.server.on_event(generation, event)
        except (OSError, ProtocolError) as err:
            log.warning("connector stream broke: %s", err)
        finally:
            self.attached.clear()
            self.server.detach(generation)
            with contextlib.suppress(OSError):
                process.stdin.close()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
