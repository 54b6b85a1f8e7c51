"""The Tarmak side answers each request once, also across connector restarts."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from connector.protocol import (
    NEED_DATA,
    PROTOCOL_VERSION,
    ChannelClosed,
    Connection,
    ErrorCode,
    Message,
    Method,
    Request,
    Response,
    decode,
    encode,
)
from connector.protocol.contract import BastionParams
from connector.tarmak_side.server import Call, OperationFailed, RequestServer
from connector.tarmak_side.vault.unseal import NodeUnsealer
from tests.unit.connector.vault_servers import clusters


class Output(io.BytesIO):
    def responses(self) -> list[tuple[int, Response]]:
        conn = Connection()
        conn.receive_data(self.getvalue())
        out = []
        while (event := conn.next_event()) is not NEED_DATA:
            assert isinstance(event, Message)
            message = decode(event.payload)
            assert isinstance(message, Response)
            out.append((event.channel, message))
        return out


def request(channel: int, method: str, request_id: str, version: int = PROTOCOL_VERSION) -> Message:
    return Message(channel, encode(Request(method, {}, request_id, version)))


def wait_for(check, limit: float = 5) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_request_re_sent_after_a_restart_runs_once_and_is_answered_once() -> None:
    release = threading.Event()
    runs = []

    def slow(call: Call) -> dict:  # type: ignore[type-arg]
        runs.append(call.id)
        release.wait(5)
        return {"status": "ready"}

    server = RequestServer({Method.BASTION_INSTANCE_STATUS: slow})
    first = Output()
    server.attach(1, first)
    server.on_event(1, request(7, Method.BASTION_INSTANCE_STATUS, "r1"))
    wait_for(lambda: runs == ["r1"])
    server.detach(1)  # the connector died mid-call

    second = Output()
    server.attach(2, second)
    server.on_event(2, request(3, Method.BASTION_INSTANCE_STATUS, "r1"))  # re-sent
    release.set()
    wait_for(lambda: second.responses())
    assert runs == ["r1"], "the work ran once"
    assert [(c, r.id, r.result) for c, r in second.responses()] == [(3, "r1", {"status": "ready"})]
    assert first.responses() == []

    server.on_event(2, request(4, Method.BASTION_INSTANCE_STATUS, "r1"))  # asked again
    wait_for(lambda: len(second.responses()) == 2)
    assert second.responses()[-1][1].result == {"status": "ready"}, "answered from memory"
    assert runs == ["r1"]


def test_closed_channel_gets_no_answer_and_cancel_interrupts() -> None:
    started = threading.Event()

    def waits(call: Call) -> dict:  # type: ignore[type-arg]
        started.set()
        call.sleep(30)
        return {}

    server = RequestServer({Method.VAULT_CLUSTER_CONVERGE: waits})
    out = Output()
    server.attach(1, out)
    server.on_event(1, request(1, Method.VAULT_CLUSTER_CONVERGE, "c1"))
    started.wait(5)
    server.on_event(1, Message(1, encode(Request(Method.CANCEL, {"id": "c1"}))))
    wait_for(lambda: out.responses())
    assert out.responses()[0][1].error.message == "cancelled by the provider"  # type: ignore[union-attr]

    server.on_event(1, request(2, Method.VAULT_CLUSTER_CONVERGE, "c2"))
    server.on_event(1, ChannelClosed(2))
    server.shutdown()


def test_ping_version_mismatch_and_unknown_method() -> None:
    server = RequestServer({})
    out = Output()
    server.attach(1, out)
    server.on_event(1, request(1, Method.PING, "p"))
    server.on_event(1, request(1, Method.PING, "old", version=PROTOCOL_VERSION + 1))
    server.on_event(1, request(1, "Nope", "n"))
    wait_for(lambda: len(out.responses()) == 3)
    (_, pong), (_, mismatch), (_, unknown) = out.responses()
    assert pong.result == {"protocol_version": PROTOCOL_VERSION, "tarmak_version": "0.1.0"}
    assert mismatch.error is not None and mismatch.error.code == ErrorCode.VERSION_MISMATCH
    assert unknown.error is not None and unknown.error.code == ErrorCode.METHOD_NOT_FOUND


def test_a_full_connector_stdin_never_blocks_the_reader() -> None:
    """The connector reads its stdin and writes its stdout on one event loop. If
    the thread reading its stdout waited on a write to its full stdin, each would
    wait for the other for ever (seen with 2,000 cancellations answered at once)."""
    read_end, write_end = os.pipe()
    stdin = os.fdopen(write_end, "wb")
    server = RequestServer({})
    server.attach(1, stdin)
    pings = 5000  # about 400 KiB of answers: several times a pipe's buffer
    reader = threading.Thread(
        target=lambda: [server.on_event(1, request(1, Method.PING, f"p{n}")) for n in range(pings)]
    )
    reader.start()
    reader.join(10)  # nobody reads the pipe meanwhile
    waited_on_the_pipe = reader.is_alive()
    conn, answered = Connection(), 0
    with os.fdopen(read_end, "rb") as out:  # drain it (this also frees a blocked reader)
        while answered < pings and (data := os.read(out.fileno(), 1 << 16)):
            conn.receive_data(data)
            while (event := conn.next_event()) is not NEED_DATA:
                assert isinstance(event, Message)
                assert decode(event.payload).id == f"p{answered}"
                answered += 1
        reader.join(10)
    server.shutdown()
    stdin.close()
    assert not waited_on_the_pipe, "the reader waited on the connector's full stdin"
    assert answered == pings, "every answer arrives, in order, once the pipe drains"


def test_each_request_served_is_one_log_line_without_secrets(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="connector.tarmak_side.server")
    secret = "hvs.the-init-token"

    def role(call: Call) -> dict:  # type: ignore[type-arg]
        return {"status": "ready", "init_token": secret}

    def failing(call: Call) -> dict:  # type: ignore[type-arg]
        raise OperationFailed("Vault 10.0.0.1:8200: sealed")

    server = RequestServer(
        {Method.VAULT_INSTANCE_ROLE: role, Method.VAULT_CLUSTER_CONVERGE: failing}
    )
    out = Output()
    server.attach(1, out)
    params = {
        "vault_cluster_name": "demo",
        "role_name": "work\ner\nVaultInstanceRole forged: ready",  # untrusted: no forged lines
        "vault_ca": "-----BEGIN CERTIFICATE-----",
        "token": secret,
    }
    server.on_event(1, Message(1, encode(Request(Method.VAULT_INSTANCE_ROLE, params, "a"))))
    server.on_event(
        1,
        Message(
            1, encode(Request(Method.VAULT_CLUSTER_CONVERGE, {"internal_fqdns": ["v1", "v2"]}, "b"))
        ),
    )
    wait_for(lambda: len(out.responses()) == 2)
    wait_for(lambda: len([r for r in caplog.records if "(" in r.getMessage()]) >= 2)
    lines = sorted(r.getMessage() for r in caplog.records)
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    assert lines[0].startswith(
        "VaultClusterConverge Vault v1,v2: error: Vault 10.0.0.1:8200: sealed ("
    )
    assert lines[1].startswith(
        "VaultInstanceRole demo/work er VaultInstanceRole forged: ready: ready ("
    )
    assert all(secret not in line and "BEGIN" not in line for line in lines)


def test_a_not_ready_answer_logs_what_is_still_awaited(caplog) -> None:  # type: ignore[no-untyped-def]
    """An operator watching tarmak-controller sees why a wait goes on."""
    caplog.set_level(logging.INFO, logger="connector.tarmak_side.server")

    def waiting(call: Call) -> dict:  # type: ignore[type-arg]
        return {"status": "not-ready", "detail": "Vault v3: standby;\n2 of 3 nodes vote"}

    server = RequestServer({Method.VAULT_CLUSTER_CONVERGE: waiting})
    out = Output()
    server.attach(1, out)
    params = {"internal_fqdns": ["v1", "v2", "v3"]}
    server.on_event(1, Message(1, encode(Request(Method.VAULT_CLUSTER_CONVERGE, params, "a"))))
    wait_for(lambda: len(out.responses()) == 1)
    wait_for(lambda: any("(" in r.getMessage() for r in caplog.records))
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith(
        "VaultClusterConverge Vault v1,v2,v3: not-ready: Vault v3: standby; 2 of 3 nodes vote ("
    )


def test_params_that_break_the_contract_are_invalid_params_without_a_traceback(caplog) -> None:  # type: ignore[no-untyped-def]
    """The caller's mistake, not Tarmak's: -32602 naming the field, one log line."""
    caplog.set_level(logging.INFO, logger="connector.tarmak_side.server")

    def bastion(call: Call) -> dict:  # type: ignore[type-arg]
        BastionParams.from_params(call.params)  # as wing.py reads them
        call.deadline()
        return {"status": "ready"}

    server = RequestServer({Method.BASTION_INSTANCE_STATUS: bastion})
    out = Output()
    server.attach(1, out)
    named = {"hostname": "h", "username": "u"}
    cases = [({}, "'hostname'"), ({**named, "wait_seconds": "x"}, "'wait_seconds'")]
    cases += [({**named, "wait_seconds": None}, "'wait_seconds'")]
    for n, (params, _) in enumerate(cases):
        message = encode(Request(Method.BASTION_INSTANCE_STATUS, params, f"r{n}"))
        server.on_event(1, Message(1, message))
    wait_for(lambda: len(out.responses()) == len(cases))
    server.shutdown()
    answers = {r.id: r.error for _, r in out.responses()}
    for n, (_, field) in enumerate(cases):
        error = answers[f"r{n}"]
        assert error is not None and error.code == ErrorCode.INVALID_PARAMS
        assert field in error.message and "must be" in error.message
    wait_for(lambda: len(caplog.records) == len(cases))
    assert all(r.exc_info is None and r.levelno == logging.INFO for r in caplog.records)
    assert all("invalid params: param '" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        (Method.VAULT_CLUSTER_CONVERGE, {"internal_fqdns": ["v1"], "vault_ca": 5}, "'vault_ca'"),
        (
            Method.VAULT_CLUSTER_OBSERVE,
            {"internal_fqdns": [1], "vault_ca": "PEM"},
            "'internal_fqdns'",
        ),
        (
            Method.VAULT_CLUSTER_CONVERGE,
            {"internal_fqdns": ["v1"], "vault_ca": "PEM", "vault_kms_key_id": 5},
            "'vault_kms_key_id'",
        ),
        (
            Method.VAULT_INSTANCE_ROLE,
            {"internal_fqdns": ["v1"], "vault_ca": "PEM", "vault_cluster_name": "demo"},
            "'role_name'",
        ),
        (Method.VAULT_NODE_UNSEAL, {"node": 8200, "vault_ca": "PEM"}, "'node'"),
    ],
)
def test_the_vault_handlers_answer_params_of_the_wrong_type_with_invalid_params(  # type: ignore[no-untyped-def]
    method: Method, params: dict[str, object], field: str, tmp_path: Path, caplog
) -> None:
    """Before, such a field reached the handlers' own reading: a key id of 5 was an
    internal error with a traceback, a missing role name looked up the role "None"."""
    caplog.set_level(logging.INFO, logger="connector.tarmak_side.server")
    side = clusters(tmp_path, None)
    server = RequestServer(
        {
            Method.VAULT_CLUSTER_CONVERGE: side.cluster_status,
            Method.VAULT_CLUSTER_OBSERVE: side.init_status,
            Method.VAULT_INSTANCE_ROLE: side.instance_role,
            Method.VAULT_NODE_UNSEAL: NodeUnsealer(side).unseal_node,
        }
    )
    out = Output()
    server.attach(1, out)
    server.on_event(1, Message(1, encode(Request(method, params, "r"))))
    wait_for(lambda: len(out.responses()) == 1)
    server.shutdown()
    [(_, answer)] = out.responses()
    assert answer.error is not None and answer.error.code == ErrorCode.INVALID_PARAMS
    assert field in answer.error.message and "must be" in answer.error.message
    assert all(r.exc_info is None for r in caplog.records)


def test_a_failure_handling_one_request_is_answered_and_logged_in_one_line(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="connector.tarmak_side.server")
    server = RequestServer({Method.BASTION_INSTANCE_STATUS: lambda call: {}})
    out = Output()
    server.attach(1, out)

    def broken(route: object, request: Request) -> None:
        raise KeyError("hvs.secret-from-the-payload")

    server._start_or_join = broken  # type: ignore[assignment,method-assign]
    server.on_event(1, request(3, Method.BASTION_INSTANCE_STATUS, "r1"))
    server.on_event(1, Message(3, b'{"jsonrpc":"2.0","tarmak_protocol":1,"id":"x","error":5}'))
    server.on_event(1, request(3, Method.PING, "p"))  # and the next request is served
    wait_for(lambda: len(out.responses()) == 2)
    server.shutdown()
    (_, failed), (_, pong) = out.responses()
    assert failed.id == "r1" and failed.error is not None
    assert failed.error.code == ErrorCode.INTERNAL_ERROR
    assert pong.id == "p" and pong.error is None
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == [
        f"could not handle {Method.BASTION_INSTANCE_STATUS} on channel 3: KeyError",
        "unreadable message on channel 3: malformed answer: error is a number, not an object",
    ]
    assert all(r.exc_info is None for r in caplog.records)
