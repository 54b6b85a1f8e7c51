"""Requests and replies: JSON-RPC 2.0, plus our protocol version on every message.

Each message is one channel Message payload (UTF-8 JSON). Besides "jsonrpc",
every message carries "tarmak_protocol": a peer speaking another version gets
VERSION_MISMATCH, and says so, instead of misreading the fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from connector.protocol.errors import RemoteProtocolError

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
    # Left out of repr: a result may carry a secret (an instance role's init token).
    result: dict[str, Any] | None = field(default=None, repr=False)
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
            body["result"] = message.result or {}
    return json.dumps(body, separators=(",", ":")).encode()


def decode(payload: bytes) -> Request | Response:
    try:
        body = json.loads(payload)
    except ValueError as err:
        raise RemoteProtocolError(f"message is not JSON: {err}") from None
    if not isinstance(body, dict) or body.get("jsonrpc") != "2.0":
        raise RemoteProtocolError("message is not JSON-RPC 2.0")
    version = body.get("tarmak_protocol")
    if not isinstance(version, int):
        raise RemoteProtocolError("message carries no tarmak_protocol version")
    if "method" in body:
        params = body.get("params", {})
        if not isinstance(body["method"], str) or not isinstance(params, dict):
            raise RemoteProtocolError("request needs a string method and object params")
        request_id = body.get("id")
        return Request(
            body["method"], params, None if request_id is None else str(request_id), version
        )
    if "id" not in body or ("result" in body) == ("error" in body):
        raise RemoteProtocolError("response needs an id and exactly one of result and error")
    error = body.get("error")
    if error is not None:
        return Response(
            str(body["id"]),
            error=RpcError(
                int(error.get("code", 0)), str(error.get("message", "")), error.get("data")
            ),
            version=version,
        )
    return Response(str(body["id"]), result=body["result"], version=version)


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
