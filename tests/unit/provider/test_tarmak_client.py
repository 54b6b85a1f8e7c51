"""The provider's Tarmak client: a connector speaking another protocol version
gets a clear error, and a missing connector a clear timeout."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
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
from provider.framework.context import Context, OperationTimedOut
from provider.tarmak_client import TarmakClient, TarmakError


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


def test_version_mismatch_fails_the_call_with_both_versions() -> None:
    path = str(Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp")) / "c.sock")
    fake_connector(path, PROTOCOL_VERSION + 1)
    client = TarmakClient(path)
    with pytest.raises(TarmakError) as err:
        asyncio.run(
            client.call(Method.BASTION_INSTANCE_STATUS, {}, Context(timeout=10), "the bastion")
        )
    message = str(err.value)
    assert f"we speak {PROTOCOL_VERSION}" in message
    assert f"it speaks version {PROTOCOL_VERSION + 1}" in message


def test_no_connector_times_out_naming_the_socket() -> None:
    path = str(Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp")) / "absent.sock")
    client = TarmakClient(path)
    with pytest.raises(OperationTimedOut) as err:
        asyncio.run(client.call(Method.PING, {}, Context(timeout=0.5), "Tarmak"))
    assert f"no tarmak-connector is listening on {path}" in str(err.value)
