"""The provider's client for Tarmak, reached through tarmak-connector's Unix socket.

Calls block until Tarmak answers, the operation's deadline passes, or
Terraform is interrupted. The connector may attach late, or go away and come
back: pending requests are kept and re-sent to whichever connector attaches
next. Tarmak de-duplicates by request id, so nothing is lost or done twice,
and a late duplicate answer is ignored here.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from connector.protocol import (
    NEED_DATA,
    PROTOCOL_VERSION,
    Connection,
    ErrorCode,
    Message,
    Method,
    ProtocolError,
    Request,
    Response,
    RpcError,
    decode,
    encode,
)
from connector.unix import SocketSecurityError, connect
from provider import __version__
from provider.framework.context import Context

log = logging.getLogger(__name__)
RECONNECT_DELAY = 0.2


class TarmakError(Exception):
    """Tarmak answered with an error; the message says what failed."""


class TarmakClient:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[bytes, Future[Response]]] = {}
        self._wake = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.last_problem = "no tarmak-connector is attached"

    def call(
        self, method: Method, params: dict[str, Any], ctx: Context, waiting_for: str
    ) -> dict[str, Any]:
        request_id = secrets.token_hex(8)
        payload = Connection().send(Message(0, encode(Request(method, params, request_id))))
        future: Future[Response] = Future()
        with self._lock:
            self._pending[request_id] = (payload, future)
            sock = self._sock
        self._ensure_thread()
        if sock is not None:
            self._send(sock, payload)
        self._wake.set()
        try:
            while True:
                ctx.check(
                    f"{waiting_for} ({self.last_problem})" if self._sock is None else waiting_for
                )
                try:
                    response = future.result(timeout=0.1)
                    break
                except FutureTimeout:
                    continue
        except BaseException:
            self._forget(request_id, cancel=True)
            raise
        if response.error is not None:
            if response.error.code == ErrorCode.VERSION_MISMATCH:
                raise TarmakError(response.error.message)
            raise TarmakError(f"Tarmak could not complete {method}: {response.error.message}")
        return response.result or {}

    # ---- the link to the connector -------------------------------------------

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tarmak-link", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Keep a connection while anything is pending; re-send on every new one."""
        while True:
            with self._lock:
                idle = not self._pending
            if idle:
                self._wake.wait(5)
                self._wake.clear()
                continue
            try:
                sock = connect(self.socket_path)
            except SocketSecurityError as err:
                self.last_problem = str(err)
                log.warning("%s", err)
                self._wake.wait(RECONNECT_DELAY * 5)
                continue
            except OSError:
                self.last_problem = f"no tarmak-connector is listening on {self.socket_path}"
                self._wake.wait(RECONNECT_DELAY)
                self._wake.clear()
                continue
            log.info("connected to tarmak-connector at %s", self.socket_path)
            self._serve(sock)

    def _serve(self, sock: socket.socket) -> None:
        incoming = Connection()
        ping = Request(
            Method.PING, {"provider_version": __version__}, f"ping-{secrets.token_hex(4)}"
        )
        try:
            sock.sendall(incoming.send(Message(0, encode(ping))))
            with self._lock:
                self._sock = sock
                resend = [payload for payload, _ in self._pending.values()]
            for payload in resend:
                sock.sendall(payload)
            while data := sock.recv(256 * 1024):
                incoming.receive_data(data)
                while (event := incoming.next_event()) is not NEED_DATA:
                    if isinstance(event, Message):
                        self._on_message(event.payload)
        except (OSError, ProtocolError) as err:
            log.info("tarmak-connector connection lost: %s", err)
        finally:
            with self._lock:
                self._sock = None
            self.last_problem = "tarmak-connector went away; waiting for it to come back"
            sock.close()

    def _on_message(self, payload: bytes) -> None:
        message = decode(payload)
        if not isinstance(message, Response):
            return
        if message.id.startswith("ping-"):
            self._on_pong(message)
            return
        with self._lock:
            entry = self._pending.pop(message.id, None)
        if entry is not None:  # None: already answered, or given up on
            entry[1].set_result(message)

    def _on_pong(self, message: Response) -> None:
        remote = (message.result or {}).get("protocol_version")
        if message.error is not None or remote != PROTOCOL_VERSION:
            detail = message.error.message if message.error else f"it speaks version {remote}"
            problem = (
                f"protocol version mismatch with Tarmak: we speak {PROTOCOL_VERSION}, {detail}"
            )
            log.error("%s", problem)
            with self._lock:
                pending, self._pending = self._pending, {}
            for _, future in pending.values():
                future.set_result(Response("", error=RpcError(ErrorCode.VERSION_MISMATCH, problem)))

    def _send(self, sock: socket.socket, payload: bytes) -> None:
        with contextlib.suppress(OSError):  # the link thread reconnects and re-sends
            sock.sendall(payload)

    def _forget(self, request_id: str, cancel: bool) -> None:
        with self._lock:
            self._pending.pop(request_id, None)
            sock = self._sock
        if cancel and sock is not None:
            notice = Request(Method.CANCEL, {"id": request_id})
            self._send(sock, Connection().send(Message(0, encode(notice))))
