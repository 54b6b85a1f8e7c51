"""Requests and replies: JSON-RPC 2.0, plus our protocol version on every message.

Each message is one channel Message payload (UTF-8 JSON). Besides "jsonrpc",
every message carries "tarmak_protocol": a peer speaking another version gets
VERSION_MISMATCH, and says so, instead of misreading the fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeGuard

from connector.protocol.errors import MalformedResponse, RemoteProtocolError

PROTOCOL_VERSION = 1


class ErrorCode(IntEnum):
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    VERSION_MISMATCH = -32001
    FAILED = -32002  # the operation failed; the message says what and where


@dataclass(frozen=True)
class RpcError:
    code: int
    message: str
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    id: str | None = None  # None: a notification, never answered
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class Response:
    id: str
    # Any JSON value, as JSON-RPC allows: whoever reads it checks the shape it expects.
    # Left out of repr: a result may carry a secret (an instance role's init token).
    result: object = field(default=None, repr=False)
    error: RpcError | None = None
    version: int = PROTOCOL_VERSION


def encode(message: Request | Response) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "tarmak_protocol": message.version}
    if isinstance(message, Request):
        body.update(method=message.method, params=message.params)
        if message.id is not None:
            body["id"] = message.id
    else:
        body["id"] = message.id
        if message.error is not None:
            error: dict[str, Any] = {"code": message.error.code, "message": message.error.message}
            if message.error.data is not None:
                error["data"] = message.error.data
            body["error"] = error
        else:
            body["result"] = {} if message.result is None else message.result
    return json.dumps(body, separators=(",", ":")).encode()


def decode(payload: bytes) -> Request | Response:
    """Read one message. Bytes that are no JSON-RPC message of ours, whatever their
    shape, raise RemoteProtocolError (MalformedResponse when the answer's id is
    readable, so that one call can fail while the stream goes on)."""
    try:
        body = json.loads(payload)
    except ValueError as err:
        raise RemoteProtocolError(f"message is not JSON: {err}") from None
    except RecursionError:  # json gives up on deep nesting this way, not with ValueError
        raise RemoteProtocolError("message is not JSON: nested too deeply") from None
    if not isinstance(body, dict) or body.get("jsonrpc") != "2.0":
        raise RemoteProtocolError("message is not JSON-RPC 2.0")
    version = body.get("tarmak_protocol")
    if not _is_int(version):
        raise RemoteProtocolError("message carries no tarmak_protocol version")
    if "method" in body:
        return _request(body, version)
    if "id" not in body or ("result" in body) == ("error" in body):
        raise RemoteProtocolError("response needs an id and exactly one of result and error")
    response_id = _id(body["id"])
    if response_id is None:
        response_id = ""  # JSON-RPC: null when the request could not be identified
    if "error" in body:
        return Response(response_id, error=_error(body["error"], response_id), version=version)
    return Response(response_id, result=body["result"], version=version)


def _request(body: dict[str, Any], version: int) -> Request:
    params = body.get("params", {})
    if not isinstance(body["method"], str) or not isinstance(params, dict):
        raise RemoteProtocolError("request needs a string method and object params")
    return Request(body["method"], params, _id(body.get("id")), version)


def _id(value: object) -> str | None:
    """JSON-RPC ids are strings, numbers or null; ours are strings. An integer is read
    as its digits; any other id (a list, a fraction) is refused."""
    if value is None or isinstance(value, str):
        return value
    if _is_int(value):
        return str(value)
    raise RemoteProtocolError("message id must be a string or an integer")


def _error(error: object, response_id: str) -> RpcError:
    """The error object of an answer: an integer code, a string message, object data."""
    if not isinstance(error, dict):
        raise MalformedResponse(f"error is {_kind(error)}, not an object", response_id)
    code, message, data = error.get("code"), error.get("message"), error.get("data")
    if not _is_int(code):
        raise MalformedResponse(f"error code is {_kind(code)}, not an integer", response_id)
    if not isinstance(message, str):
        raise MalformedResponse(f"error message is {_kind(message)}, not a string", response_id)
    if data is not None and not isinstance(data, dict):
        raise MalformedResponse(f"error data is {_kind(data)}, not an object", response_id)
    return RpcError(code, message, data)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    """What a JSON value is, for an error message that never repeats the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def version_mismatch(request: Request) -> Response | None:
    """The reply for a request from a peer that speaks another protocol version."""
    if request.version == PROTOCOL_VERSION or request.id is None:
        return None
    return Response(
        request.id,
        error=RpcError(
            ErrorCode.VERSION_MISMATCH,
            f"protocol version mismatch: the Tarmak side speaks tarmak_protocol "
            f"{PROTOCOL_VERSION}, the provider sent {request.version}; install matching "
            "versions of terraform-provider-tarmak and Tarmak",
        ),
    )
