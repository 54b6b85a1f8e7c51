"""Is the wing API server on the bastion up? Checked over SSH, never directly."""

from __future__ import annotations

import threading
import time
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

import requests
import urllib3

from connector.protocol.contract import BastionParams, PollResult, Status
from connector.tarmak_side.config import BastionConfig, path_problem
from connector.tarmak_side.config_schema import PathCheck
from connector.tarmak_side.server import Call, OperationFailed
from connector.tarmak_side.ssh import (
    BastionConnection,
    BastionError,
    BastionRefused,
    SSHSettings,
)
from connector.tarmak_side.ssh_http import session_through


class BastionChecker:
    """Keeps one SSH connection per bastion and reuses it between checks."""

    def __init__(self, config: BastionConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._connections: dict[tuple[str, int, str], BastionConnection] = {}

    def connection(self, hostname: str, username: str) -> BastionConnection:
        c = self.config
        host, user = c.host or hostname, c.username or username
        key = (host, c.port, user)
        with self._lock:
            existing = self._connections.get(key)
            if existing is not None and existing.is_active():
                return existing
            if existing is not None:
                existing.close()
            settings = SSHSettings(host, c.port, user, c.key_path, c.known_hosts_path)
            connection = BastionConnection(settings).connect()
            self._connections[key] = connection
            return connection

    def wing_status(self, hostname: str, username: str) -> tuple[bool, str]:
        """(healthy, what was seen), through the bastion's SSH connection."""
        url = urllib.parse.urlsplit(self.config.wing_url)
        wing_host, wing_port = url.hostname or "127.0.0.1", url.port or 443
        ca = self.config.wing_ca_cert
        problem = ca and path_problem(Path(ca), PathCheck.FILE)
        if problem:
            raise BastionRefused(f"bastion.wing_ca_cert: {problem}")
        connection = self.connection(hostname, username)
        session, base = session_through(connection, wing_host, wing_port, ca)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                response = session.get(f"{base}{url.path or '/'}", timeout=5)
        except requests.RequestException as err:
            return (
                False,
                f"wing API server {self.config.wing_url} on {hostname} is not answering "
                f"({type(err).__name__})",
            )
        finally:
            session.close()
        if response.status_code == 200 and response.text.strip() == "ok":
            return True, "wing API server is running"
        return (
            False,
            f"wing API server {self.config.wing_url} on {hostname} answered {response.status_code}",
        )

    def wait_ready(self, call: Call) -> dict[str, Any]:
        params = BastionParams.from_params(call.params)
        hostname, username = params.hostname, params.username
        waiting, deadline = call.waiting, call.deadline()
        delay = 0.2
        while True:
            try:
                healthy, detail = self.wing_status(hostname, username)
            except BastionRefused as err:
                raise OperationFailed(str(err)) from None  # never retried: a person must check
            except BastionError as err:
                healthy, detail = False, str(err)
            if healthy:
                return PollResult(Status.READY, detail).to_result()
            if not waiting.wait or time.monotonic() + delay > deadline:
                return PollResult(Status.NOT_READY, detail).to_result()
            call.sleep(delay)
            delay = min(delay * 2, 2.0)

    def close(self) -> None:
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()
