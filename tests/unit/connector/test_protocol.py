"""The sans-IO protocol: every input fed whole, byte by byte, and with trailing bytes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.protocol import (
    MAX_FRAME_PAYLOAD,
    NEED_DATA,
    PROTOCOL_VERSION,
    ChannelClosed,
    ChannelOpened,
    Connection,
    ErrorCode,
    Event,
    LocalProtocolError,
    Message,
    Method,
    RemoteProtocolError,
    Request,
    Response,
    RpcError,
    decode,
    encode,
    version_mismatch,
)


def drain(conn: Connection) -> list[Event]:
    events = []
    while (event := conn.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def whole(data: bytes) -> list[Event]:
    conn = Connection()
    conn.receive_data(data)
    return drain(conn)


def byte_by_byte(data: bytes) -> list[Event]:
    conn = Connection()
    events = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
        events += drain(conn)
    return events


def with_trailing(data: bytes) -> list[Event]:
    """A complete stream plus the start of the next frame: the tail waits for more."""
    conn = Connection()
    conn.receive_data(data + b"\x00\x00\x00")
    return drain(conn)


FEEDS: list[Callable[[bytes], list[Event]]] = [whole, byte_by_byte, with_trailing]
SAMPLE = [ChannelOpened(1), Message(1, b'{"a":1}'), Message(2, b""), ChannelClosed(1)]


@pytest.mark.parametrize("feed", FEEDS)
def test_events_survive_any_split(feed: Callable[[bytes], list[Event]]) -> None:
    sender = Connection()
    assert feed(b"".join(sender.send(e) for e in SAMPLE)) == SAMPLE


@pytest.mark.parametrize("feed", [whole, with_trailing])
def test_large_messages_are_chunked_and_reassembled(feed: Callable[[bytes], list[Event]]) -> None:
    payload = bytes(range(256)) * (3 * MAX_FRAME_PAYLOAD // 256 + 7)
    wire = Connection().send(Message(5, payload))
    assert wire.count(b"\x00\x00\x00\x05") >= 4, "several frames"
    assert feed(wire) == [Message(5, payload)]


@given(st.lists(st.tuples(st.integers(0, 3), st.binary(max_size=600)), max_size=8), st.data())
def test_interleaved_channels_reassemble(
    messages: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    wire = b"".join(Connection().send(Message(c, p)) for c, p in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    conn = Connection()
    events: list[Event] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        if end > start:  # an empty chunk would mean "end of stream"
            conn.receive_data(wire[start:end])
            events += drain(conn)
    assert events == [Message(c, p) for c, p in messages]


def test_message_cap_protects_memory() -> None:
    conn = Connection(max_message=1000)
    with pytest.raises(LocalProtocolError):
        conn.send(Message(1, b"x" * 1001))
    conn.receive_data(Connection().send(Message(1, b"x" * 1001)))
    with pytest.raises(RemoteProtocolError, match="exceeds 1000"):
        drain(conn)


def test_oversized_frame_and_unknown_kind_are_remote_errors() -> None:
    conn = Connection()
    conn.receive_data(b"\x00\x00\x00\x01\x02\xff\xff\xff\xff")
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        conn.next_event()
    conn = Connection()
    conn.receive_data(b"\x00\x00\x00\x01\x09\x00\x00\x00\x00")
    with pytest.raises(RemoteProtocolError, match="unknown frame kind"):
        conn.next_event()


def test_stream_ending_inside_a_frame() -> None:
    conn = Connection()
    conn.receive_data(Connection().send(Message(1, b"hello"))[:-2])
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="ended inside a frame"):
        conn.next_event()


def test_clean_end_of_stream() -> None:
    conn = Connection()
    conn.receive_data(Connection().send(ChannelOpened(3)))
    conn.receive_data(b"")
    assert drain(conn) == [ChannelOpened(3)]
    assert conn.ended


def test_jsonrpc_round_trip() -> None:
    request = Request(Method.VAULT_INSTANCE_ROLE, {"role_name": "worker"}, "abc")
    assert decode(encode(request)) == request
    ok = Response("abc", result={"status": "ready"})
    assert decode(encode(ok)) == ok
    failed = Response("abc", error=RpcError(ErrorCode.FAILED, "Vault 10.0.0.1:8200: sealed"))
    assert decode(encode(failed)) == failed


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"jsonrpc":"1.0"}',
        b'{"jsonrpc":"2.0","method":"Ping"}',
        b'{"jsonrpc":"2.0","tarmak_protocol":1,"id":"x"}',
        b"[" * 5000,
        b'{"a":' * 5000,
        b'{"jsonrpc":"2.0","tarmak_protocol":true,"method":"Ping"}',
        b'{"jsonrpc":"2.0","tarmak_protocol":1,"method":"Ping","id":[1]}',
        b'{"jsonrpc":"2.0","tarmak_protocol":1,"method":"Ping","id":{"a":1}}',
        b'{"jsonrpc":"2.0","tarmak_protocol":1,"id":[1],"result":{}}',
        b'{"jsonrpc":"2.0","tarmak_protocol":1,"id":true,"error":5}',
        b"\xff\xfe\x00",
    ],
)
def test_malformed_messages_are_remote_errors(payload: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(payload)


def test_version_mismatch_reply_names_both_versions() -> None:
    reply = version_mismatch(Request(Method.PING, {}, "1", version=PROTOCOL_VERSION + 1))
    assert reply is not None and reply.error is not None
    assert reply.error.code == ErrorCode.VERSION_MISMATCH
    assert f"speaks tarmak_protocol {PROTOCOL_VERSION}" in reply.error.message
    assert f"sent {PROTOCOL_VERSION + 1}" in reply.error.message
    assert version_mismatch(Request(Method.PING, {}, "1")) is None


# ---- the typed contract: wire-compatible with the strings both ends used -------------


def test_statuses_are_the_strings_on_the_wire() -> None:
    from connector.protocol import Status

    assert [s.value for s in Status] == ["ready", "not-ready", "gone"]
    assert Status.READY == "ready"  # a handler answering a plain string is understood


def test_poll_results_round_trip_and_read_plain_answers() -> None:
    from connector.protocol import PollResult, Status

    result = PollResult(Status.READY, "up", init_token="t")
    assert PollResult.from_result(json.loads(json.dumps(result.to_result()))) == result
    plain = {"status": "gone", "detail": "no init token for prod/worker"}
    assert PollResult.from_result(plain) == PollResult(Status.GONE, plain["detail"])
    assert PollResult.from_result({"status": "??"}).status is Status.NOT_READY


def test_params_carry_the_keys_the_tarmak_side_reads() -> None:
    from connector.protocol import BastionParams, InstanceRoleParams, Waiting

    role = InstanceRoleParams(("vault-1:8200",), "PEM", "prod", "worker", None, create=False)
    assert role.to_params() == {
        "internal_fqdns": ["vault-1:8200"],
        "vault_ca": "PEM",
        "vault_cluster_name": "prod",
        "role_name": "worker",
        "vault_unseal_key_name": None,
        "create": False,
    }
    bastion = BastionParams("10.0.0.1", "centos", "i-1")
    assert BastionParams.from_params(bastion.to_params()) == bastion
    assert Waiting.from_params({}) == Waiting()
    assert Waiting.from_params(Waiting(False, 3.0).to_params()) == Waiting(False, 3.0)


def test_old_method_names_still_reach_the_same_handlers() -> None:
    from connector.methods import LEGACY_NAMES, Method

    assert LEGACY_NAMES == {
        "VaultClusterStatus": Method.VAULT_CLUSTER_CONVERGE,
        "VaultClusterInitStatus": Method.VAULT_CLUSTER_OBSERVE,
    }


def test_a_poll_result_and_its_response_never_show_the_init_token_in_a_repr() -> None:
    from connector.protocol import PollResult, Status

    result = PollResult(Status.READY, "up", init_token="init-token-secret")
    assert "init-token-secret" not in repr(result)
    assert "up" in repr(result)
    assert result != PollResult(Status.READY, "up", init_token="another")  # still compared
    answer = Response("1", result.to_result())
    assert "init-token-secret" not in repr(answer)
    assert answer == decode(encode(answer))  # still sent and compared


# ---- bad input from the wire: a protocol error, never another exception ----------

ANSWER = b'{"jsonrpc":"2.0","tarmak_protocol":1,"id":"1",'


@pytest.mark.parametrize(
    "ending",
    [
        b'"error":5}',
        b'"error":"boom"}',
        b'"error":[1]}',
        b'"error":null}',
        b'"error":{"code":"x","message":"m"}}',
        b'"error":{"code":1e400,"message":"m"}}',
        b'"error":{"code":[1],"message":"m"}}',
        b'"error":{"code":NaN,"message":"m"}}',
        b'"error":{"code":true,"message":"m"}}',
        b'"error":{"code":1}}',
        b'"error":{"code":1,"message":7}}',
        b'"error":{"code":1,"message":"m","data":[1]}}',
    ],
)
def test_a_malformed_answer_names_the_call_it_answers(ending: bytes) -> None:
    from connector.protocol import MalformedResponse

    with pytest.raises(MalformedResponse) as err:
        decode(ANSWER + ending)
    assert err.value.response_id == "1"


def test_a_result_may_be_any_json_value_and_each_caller_checks_its_shape() -> None:
    """JSON-RPC 2.0 lets `result` be any value; the TarmakClient rejects non-objects."""
    assert [decode(ANSWER + b'"result":' + v + b"}").result for v in (b"[1]", b"5", b"null")] == [
        [1],
        5,
        None,
    ]
    assert decode(b'{"jsonrpc":"2.0","tarmak_protocol":1,"id":7,"result":{}}').id == "7"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(
    st.sampled_from(["method", "result", "error"]),
    st.dictionaries(st.sampled_from(["id", "params", "tarmak_protocol"]), JSON),
    JSON | st.dictionaries(st.sampled_from(["code", "message", "data"]), JSON),
)
def test_decode_raises_nothing_but_protocol_errors(
    kind: str, fields: dict[str, object], value: object
) -> None:
    """Well-formed JSON of any shape: a message, or a protocol error (no TypeError...)."""
    from connector.protocol import ProtocolError

    envelope = {"jsonrpc": "2.0", "tarmak_protocol": 1, "id": "1", **fields, kind: value}
    with contextlib.suppress(ProtocolError):
        decode(json.dumps(envelope).encode())


def test_buffered_partial_messages_are_capped_across_channels() -> None:
    """Each channel under the cap, together over it: still refused."""
    from connector.protocol._frames import Frame, Kind, encode_frame

    conn = Connection(max_message=1000)
    conn.receive_data(b"".join(encode_frame(Frame(c, Kind.MORE, b"x" * 400)) for c in (1, 2)))
    assert drain(conn) == []
    conn.receive_data(encode_frame(Frame(3, Kind.MORE, b"x" * 400)))
    with pytest.raises(RemoteProtocolError, match="1000 bytes"):
        drain(conn)

    conn = Connection(max_message=1000)  # a finished or closed message frees its share
    conn.receive_data(
        encode_frame(Frame(1, Kind.MORE, b"x" * 600))
        + encode_frame(Frame(1, Kind.LAST, b"y"))
        + encode_frame(Frame(2, Kind.MORE, b"x" * 600))
        + encode_frame(Frame(2, Kind.CLOSE))
        + encode_frame(Frame(3, Kind.MORE, b"x" * 600))
        + encode_frame(Frame(3, Kind.LAST, b"y"))
    )
    assert drain(conn) == [
        Message(1, b"x" * 600 + b"y"),
        ChannelClosed(2),
        Message(3, b"x" * 600 + b"y"),
    ]


def test_params_that_break_the_contract_name_the_field_and_its_type() -> None:
    from connector.protocol import BastionParams, InvalidParams, Waiting
    from connector.protocol.contract import (
        InstanceRoleParams,
        NodeUnsealParams,
        VaultClusterParams,
    )

    cluster = VaultClusterParams(("v1", "v2:8300"), "PEM", "kms-1", "prod-vault")
    role = InstanceRoleParams(("v1",), "PEM", "prod", "worker", create=True)
    unseal = NodeUnsealParams("v1", "PEM")
    cases: list[tuple[Callable[[dict[str, object]], object], dict[str, object], str]] = [
        (
            VaultClusterParams.from_params,
            {**cluster.to_params(), "internal_fqdns": "v1"},
            "internal_fqdns",
        ),
        (
            VaultClusterParams.from_params,
            {**cluster.to_params(), "internal_fqdns": ["v1", 2]},
            "internal_fqdns",
        ),
        (VaultClusterParams.from_params, {**cluster.to_params(), "vault_ca": None}, "vault_ca"),
        (
            VaultClusterParams.from_params,
            {**cluster.to_params(), "vault_kms_key_id": 5},
            "vault_kms_key_id",
        ),
        (
            VaultClusterParams.from_params,
            {**cluster.to_params(), "vault_unseal_key_name": []},
            "vault_unseal_key_name",
        ),
        (VaultClusterParams.from_params, {**cluster.to_params(), "create": "yes"}, "create"),
        (InstanceRoleParams.from_params, {**role.to_params(), "role_name": None}, "role_name"),
        (
            InstanceRoleParams.from_params,
            {"internal_fqdns": ["v1"], "vault_ca": "PEM"},
            "vault_cluster_name",
        ),
        (NodeUnsealParams.from_params, {**unseal.to_params(), "node": ["v1"]}, "node"),
        (NodeUnsealParams.from_params, {"node": "v1"}, "vault_ca"),
        (BastionParams.from_params, {}, "hostname"),
        (BastionParams.from_params, {"hostname": "h"}, "username"),
        (BastionParams.from_params, {"hostname": 1, "username": "u"}, "hostname"),
        (
            BastionParams.from_params,
            {"hostname": "h", "username": "u", "instance_id": 2},
            "instance_id",
        ),
        (Waiting.from_params, {"wait_seconds": "x"}, "wait_seconds"),
        (Waiting.from_params, {"wait_seconds": None}, "wait_seconds"),
        (Waiting.from_params, {"wait_seconds": True}, "wait_seconds"),
        (Waiting.from_params, {"wait_seconds": float("inf")}, "wait_seconds"),
        (Waiting.from_params, {"wait_seconds": -1}, "wait_seconds"),
        (Waiting.from_params, {"wait": "no"}, "wait"),
    ]
    for parse, params, name in cases:
        with pytest.raises(InvalidParams, match=f"'{name}'") as err:
            parse(params)  # type: ignore[arg-type]
        assert "must be" in str(err.value)
    assert Waiting.from_params({"wait": False, "wait_seconds": 5}) == Waiting(False, 5.0)
    for sent in (cluster, role, unseal):
        assert type(sent).from_params(sent.to_params()) == sent
    assert role.cluster() == VaultClusterParams(("v1",), "PEM", create=False)
    # Without `create` a converge never initialises, as before the contract read it.
    assert VaultClusterParams.from_params({"vault_ca": "PEM"}).create is False
    assert BastionParams.from_params({"hostname": "h", "username": "u", "instance_id": None}) == (
        BastionParams("h", "u")
    )
