"""The provider's Tarmak client: a connector speaking another protocol version
gets a clear error, and a missing connector a clear timeout."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.protocol import (
    NEED_DATA,
    PROTOCOL_VERSION,
    Connection,
    Message,
    Method,
    Request,
    Response,
    decode,
    encode,
)
from provider.framework.context import Context, OperationCancelled, OperationTimedOut
from provider.tarmak.client import TarmakClient, TarmakError


def fake_connector(path: str, protocol_version: int) -> threading.Thread:
    """Answers Ping claiming `protocol_version`; ignores everything else."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        frames = Connection()
        while data := conn.recv(65536):
            frames.receive_data(data)
            while (event := frames.next_event()) is not NEED_DATA:
                assert isinstance(event, Message)
                request = decode(event.payload)
                if isinstance(request, Request) and request.method == Method.PING:
                    assert request.id is not None
                    pong = Response(request.id, result={"protocol_version": protocol_version})
                    conn.sendall(frames.send(Message(0, encode(pong))))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_version_mismatch_fails_the_call_with_both_versions(short_dir: Path) -> None:
    path = str(short_dir / "c.sock")
    fake_connector(path, PROTOCOL_VERSION + 1)
    client = TarmakClient(path)
    with pytest.raises(TarmakError) as err:
        asyncio.run(
            client.call(Method.BASTION_INSTANCE_STATUS, {}, Context(timeout=10), "the bastion")
        )
    message = str(err.value)
    assert f"we speak {PROTOCOL_VERSION}" in message
    assert f"it speaks version {PROTOCOL_VERSION + 1}" in message


def test_no_connector_times_out_naming_the_socket(short_dir: Path) -> None:
    path = str(short_dir / "absent.sock")
    client = TarmakClient(path)
    with pytest.raises(OperationTimedOut) as err:
        asyncio.run(client.call(Method.PING, {}, Context(timeout=0.5), "Tarmak"))
    assert f"no tarmak-connector is listening on {path}" in str(err.value)


class ScriptedConnector:
    """A connector stand-in: answers Ping, records every request, and answers
    the others only when told, on whichever connection is current."""

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(4)
        self.requests: list[Request] = []
        self.connections = 0
        self.conn: socket.socket | None = None
        self.frames = Connection()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.conn, frames = conn, Connection()
            while data := _recv(conn):
                frames.receive_data(data)
                while (event := frames.next_event()) is not NEED_DATA:
                    assert isinstance(event, Message)
                    request = decode(event.payload)
                    assert isinstance(request, Request)
                    if request.method == Method.PING:
                        assert request.id is not None
                        pong = Response(request.id, result={"protocol_version": PROTOCOL_VERSION})
                        conn.sendall(frames.send(Message(0, encode(pong))))
                    else:
                        self.requests.append(request)

    def answer(self, request: Request, result: dict[str, str]) -> None:
        assert self.conn is not None and request.id is not None
        self.conn.sendall(self.frames.send(Message(0, encode(Response(request.id, result)))))

    def answer_raw(self, payload: bytes) -> None:
        """Send `payload` as one message, however broken its JSON-RPC."""
        assert self.conn is not None
        self.conn.sendall(self.frames.send(Message(0, payload)))

    def drop(self) -> None:
        assert self.conn is not None
        self.conn.shutdown(socket.SHUT_RDWR)
        self.conn.close()

    def close(self) -> None:
        self.listener.close()


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


async def _until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_pending_calls_are_re_sent_to_the_connector_that_comes_back(short_dir: Path) -> None:
    path = str(short_dir / "c.sock")
    client = TarmakClient(path)

    async def scenario() -> dict[str, str]:
        call = asyncio.ensure_future(
            client.call(Method.BASTION_INSTANCE_STATUS, {"n": 1}, Context(timeout=20), "b")
        )
        await asyncio.sleep(0.3)  # nobody listens yet: the connector attaches late
        connector = ScriptedConnector(path)
        await _until(lambda: len(connector.requests) == 1)
        connector.drop()  # gone before answering
        await _until(lambda: connector.connections == 2 and len(connector.requests) == 2)
        first, again = connector.requests
        assert first.id == again.id, "the same request, so Tarmak does it once"
        connector.answer(again, {"status": "ready"})
        result = await call
        connector.close()
        return result

    assert asyncio.run(scenario()) == {"status": "ready"}


def test_an_interrupted_call_tells_tarmak_to_stop(short_dir: Path) -> None:
    path = str(short_dir / "c.sock")
    connector = ScriptedConnector(path)
    client = TarmakClient(path)
    ctx = Context(timeout=20)

    async def scenario() -> None:
        call = asyncio.ensure_future(client.call(Method.BASTION_INSTANCE_STATUS, {}, ctx, "b"))
        await _until(lambda: len(connector.requests) == 1)
        ctx.stop.set()
        with pytest.raises(OperationCancelled):
            await call
        await _until(lambda: len(connector.requests) == 2)

    asyncio.run(scenario())
    waited, notice = connector.requests
    assert notice.method == Method.CANCEL and notice.params == {"id": waited.id}
    connector.close()


def test_a_thousand_waiting_calls_share_one_connection_and_no_thread(short_dir: Path) -> None:
    path = str(short_dir / "c.sock")
    connector = ScriptedConnector(path)
    client = TarmakClient(path)

    async def scenario() -> list[dict[str, str]]:
        threads = threading.active_count()
        calls = [
            asyncio.ensure_future(
                client.call(Method.BASTION_INSTANCE_STATUS, {"n": n}, Context(timeout=30), "b")
            )
            for n in range(1000)
        ]
        await _until(lambda: len(connector.requests) == 1000)
        assert threading.active_count() == threads
        # Answered from another thread: a blocking send here would stall the reading loop.
        answers = threading.Thread(
            target=lambda: [connector.answer(r, {"status": "ready"}) for r in connector.requests]
        )
        answers.start()
        results = await asyncio.gather(*calls)
        answers.join()
        return results

    assert asyncio.run(scenario()) == [{"status": "ready"}] * 1000
    assert connector.connections == 1
    connector.close()


def test_a_malformed_answer_fails_its_call_alone_and_the_link_lives_on(short_dir: Path) -> None:
    """A broken answer is no reason to drop the connection: the call it answers
    fails saying why, garbage is skipped, and later answers still arrive."""
    path = str(short_dir / "c.sock")
    connector = ScriptedConnector(path)
    client = TarmakClient(path)

    def answer(request: Request, body: bytes) -> bytes:
        return b'{"jsonrpc":"2.0","tarmak_protocol":1,"id":"%s",%s}' % (
            str(request.id).encode(),
            body,
        )

    async def scenario() -> list[object]:
        calls = [
            asyncio.ensure_future(
                client.call(Method.BASTION_INSTANCE_STATUS, {"n": n}, Context(timeout=10), "b")
            )
            for n in range(4)
        ]
        await _until(lambda: len(connector.requests) == 4)
        by_n = {r.params["n"]: r for r in connector.requests}
        connector.answer_raw(answer(by_n[0], b'"error":5'))
        connector.answer_raw(b"[" * 5000)  # unreadable, and nobody's answer
        connector.answer_raw(answer(by_n[1], b'"result":[1]'))
        connector.answer_raw(answer(by_n[2], b'"error":{"code":"x","message":"m"}'))
        connector.answer(by_n[3], {"status": "ready"})
        return await asyncio.gather(*calls, return_exceptions=True)

    bad_error, bad_result, bad_code, good = asyncio.run(scenario())
    connector.close()
    assert isinstance(bad_error, TarmakError)
    assert str(bad_error) == (
        f"Tarmak sent a malformed answer to {Method.BASTION_INSTANCE_STATUS}: "
        "error is a number, not an object"
    )
    assert isinstance(bad_result, TarmakError) and "not a JSON object" in str(bad_result)
    assert isinstance(bad_code, TarmakError) and "error code is a string" in str(bad_code)
    assert good == {"status": "ready"}
    assert connector.connections == 1, "the link was never dropped"
