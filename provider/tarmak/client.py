"""The provider's client for Tarmak, reached through tarmak-connector's Unix socket.

Calls wait until Tarmak answers, the operation's deadline passes, or
Terraform is interrupted. The connector may attach late, or go away and come
back: pending requests are kept and re-sent to whichever connector attaches
next. Tarmak de-duplicates by request id, so nothing is lost or done twice,
and a late duplicate answer is ignored here.

The client is asyncio: `call` is a coroutine and every pending call is just
a future in `_pending`, so a thousand waiting resources cost a thousand
futures and one connection, not a thousand threads. One task (`_link`)
keeps the connection while anything is pending and reads the answers. The
client must be used from one event loop (the server's); it makes its loop
objects on first use, so it can be built anywhere (configure runs on a
worker thread).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from typing import Any

from connector.protocol import (
    NEED_DATA,
    PROTOCOL_VERSION,
    Connection,
    ErrorCode,
    MalformedResponse,
    Message,
    Method,
    ProtocolError,
    Request,
    Response,
    RpcError,
    decode,
    encode,
)
from connector.unix import SocketSecurityError, check_peer
from provider import __version__
from provider.framework.context import Context

log = logging.getLogger(__name__)
RECONNECT_DELAY = 0.2
CONNECT_TIMEOUT = 2.0
READ_SIZE = 256 * 1024


class TarmakError(Exception):
    """Tarmak answered with an error; the message says what failed."""


class TarmakClient:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._pending: dict[str, tuple[bytes, asyncio.Future[Response]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._link: asyncio.Task[None] | None = None
        self._cancelled: list[str] = []  # notices not yet written
        # Until a connector attaches, a timeout says that none was listening.
        self.last_problem = f"no tarmak-connector is listening on {socket_path}"

    @property
    def connected(self) -> bool:
        """Whether a tarmak-connector is attached now."""
        return self._writer is not None

    async def call(
        self, method: Method, params: dict[str, Any], ctx: Context, waiting_for: str
    ) -> dict[str, Any]:
        request_id = secrets.token_hex(8)
        payload = Connection().send(Message(0, encode(Request(method, params, request_id))))
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (payload, future)
        if self._writer is not None:
            self._writer.write(payload)
        self._ensure_link()

        def describe() -> str:
            return f"{waiting_for} ({self.last_problem})" if self._writer is None else waiting_for

        try:
            response = await ctx.until(future, describe)
        except MalformedResponse as err:  # already out of _pending: nothing to cancel
            raise TarmakError(f"Tarmak sent a malformed answer to {method}: {err.reason}") from None
        except BaseException:
            self._forget(request_id)
            raise
        if response.error is not None:
            if response.error.code == ErrorCode.VERSION_MISMATCH:
                raise TarmakError(response.error.message)
            raise TarmakError(f"Tarmak could not complete {method}: {response.error.message}")
        # JSON-RPC allows any result; every method of ours answers an object.
        if not isinstance(response.result, dict):
            raise TarmakError(f"Tarmak sent a malformed answer to {method}: not a JSON object")
        return response.result

    # ---- the link to the connector -------------------------------------------

    def _ensure_link(self) -> None:
        if self._link is None or self._link.done():
            self._link = asyncio.get_running_loop().create_task(
                self._keep_linked(), name="tarmak-link"
            )

    async def _keep_linked(self) -> None:
        """Keep a connection while anything is pending; re-send on every new one."""
        while self._pending:
            try:
                reader, writer = await self._connect()
            except SocketSecurityError as err:
                self.last_problem = str(err)
                log.warning("%s", err)
                await asyncio.sleep(RECONNECT_DELAY * 5)
                continue
            except OSError:  # TimeoutError included
                self.last_problem = f"no tarmak-connector is listening on {self.socket_path}"
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            log.info("connected to tarmak-connector at %s", self.socket_path)
            await self._serve(reader, writer)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to the connector and make sure it runs as our user."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(loop.sock_connect(sock, self.socket_path), CONNECT_TIMEOUT)
            check_peer(sock, "a connector")
            return await asyncio.open_unix_connection(sock=sock, limit=READ_SIZE)
        except BaseException:
            sock.close()
            raise

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        incoming = Connection()
        ping = Request(
            Method.PING, {"provider_version": __version__}, f"ping-{secrets.token_hex(4)}"
        )
        try:
            writer.write(incoming.send(Message(0, encode(ping))))
            # No await between taking the writer and re-sending: a call made
            # meanwhile is either re-sent here or writes itself.
            self._writer = writer
            for payload, _ in self._pending.values():
                writer.write(payload)
            while data := await reader.read(READ_SIZE):
                incoming.receive_data(data)
                while (event := incoming.next_event()) is not NEED_DATA:
                    if isinstance(event, Message):
                        self._deliver(event.payload)
        except (OSError, ProtocolError) as err:
            log.info("tarmak-connector connection lost: %s", err)
        finally:
            self._writer = None
            self.last_problem = "tarmak-connector went away; waiting for it to come back"
            writer.close()

    def _deliver(self, payload: bytes) -> None:
        """One message's problem stays that message's: the link, and every other
        call waiting on it, goes on (one line, never the payload: it may hold a token)."""
        try:
            self._on_message(payload)
        except Exception as err:
            log.error("could not handle an answer from Tarmak: %s", type(err).__name__)

    def _on_message(self, payload: bytes) -> None:
        try:
            message = decode(payload)
        except MalformedResponse as err:
            self._on_malformed(err)
            return
        except ProtocolError as err:  # framing is intact: skip it, as Tarmak's side does
            log.warning("ignored an unreadable message from tarmak-connector: %s", err)
            return
        if not isinstance(message, Response):
            return
        if message.id.startswith("ping-"):
            self._on_pong(message)
            return
        entry = self._pending.pop(message.id, None)
        if entry is not None and not entry[1].done():  # else answered, or given up on
            entry[1].set_result(message)

    def _on_malformed(self, err: MalformedResponse) -> None:
        """A malformed answer fails the call it answers, and only that one."""
        entry = self._pending.pop(err.response_id, None)
        if entry is not None and not entry[1].done():
            entry[1].set_exception(err)
        elif err.response_id.startswith("ping-"):
            log.warning("tarmak-connector answered Ping with a %s", err)

    def _on_pong(self, message: Response) -> None:
        result = message.result if isinstance(message.result, dict) else {}
        remote = result.get("protocol_version")
        if message.error is not None or remote != PROTOCOL_VERSION:
            detail = message.error.message if message.error else f"it speaks version {remote}"
            problem = (
                f"protocol version mismatch with Tarmak: we speak {PROTOCOL_VERSION}, {detail}"
            )
            log.error("%s", problem)
            pending, self._pending = self._pending, {}
            for _, future in pending.values():
                if not future.done():
                    future.set_result(
                        Response("", error=RpcError(ErrorCode.VERSION_MISMATCH, problem))
                    )

    def _forget(self, request_id: str) -> None:
        """The caller gave up (Ctrl-C, deadline): tell Tarmak, so it stops working on it.

        Ctrl-C gives up every wait in the same moment, so the notices of one
        turn of the loop go out in one write (2,000 writes of one notice each
        were 40% of the provider's share of Ctrl-C with 2,000 waits)."""
        if self._pending.pop(request_id, None) is not None and self._writer is not None:
            self._cancelled.append(request_id)
            if len(self._cancelled) == 1:
                asyncio.get_running_loop().call_soon(self._send_cancel_notices)

    def _send_cancel_notices(self) -> None:
        ids, self._cancelled = self._cancelled, []
        if self._writer is None:
            return  # gone: these calls are never re-sent, and Tarmak's waits end at their deadline
        framing = Connection()
        self._writer.write(
            b"".join(
                framing.send(Message(0, encode(Request(Method.CANCEL, {"id": request_id}))))
                for request_id in ids
            )
        )
