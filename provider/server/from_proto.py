"""Wire messages to framework values.

Request fields are untrusted bytes: a field that does not hold a value of the
schema's type raises `MalformedRequest`, which names the field and, where
one applies, the attribute path, and becomes an error diagnostic.
"""

from __future__ import annotations

from typing import Any

from provider.cty import UNKNOWN, CtyType, json_codec, msgpack_codec, wholly_known
from provider.cty.decoding import DecodeError, PathStep
from provider.framework.path import AttributeName, ElementKey, Path
from provider.server.malformed import MalformedRequest


def attribute_path(steps: tuple[PathStep, ...]) -> Path:
    return Path(
        tuple(AttributeName(str(s)) if kind == "name" else ElementKey(s) for kind, s in steps)
    )


def dynamic_value(
    message: Any,
    type_: CtyType,
    field: str = "value",
    *,
    required: bool = False,
    known: bool = False,
) -> Any:
    """Decode a DynamicValue; an empty message means null.

    `required`: null is refused. `known`: unknown values are refused (stored
    state never holds them). The whole value is never unknown."""
    value = None
    try:
        if message is not None and message.msgpack:
            value = msgpack_codec.decode(message.msgpack, type_)
        elif message is not None and message.json:
            value = json_codec.decode(message.json, type_)
    except DecodeError as err:
        raise MalformedRequest(field, err.reason, attribute_path(err.path)) from None
    if value is None and required:
        raise MalformedRequest(field, "it is null, and this request needs a value")
    if value is UNKNOWN:
        raise MalformedRequest(field, "the whole value is unknown")
    if known and not wholly_known(value):
        path = _first_unknown(value, ())
        raise MalformedRequest(
            field, "it holds an unknown value, which stored state never does", attribute_path(path)
        )
    return value


def _first_unknown(value: Any, path: tuple[PathStep, ...]) -> tuple[PathStep, ...]:
    if value is UNKNOWN:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            if not wholly_known(item):
                return _first_unknown(item, (*path, ("name", key)))
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not wholly_known(item):
                return _first_unknown(item, (*path, ("key", index)))
    return path


def identity_data(message: Any, type_: CtyType) -> Any:
    """Decode a ResourceIdentityData; absent (or empty) means no identity."""
    if message is None or not message.HasField("identity_data"):
        return None
    return dynamic_value(message.identity_data, type_, "identity")


def json_value(data: bytes, type_: CtyType) -> Any:
    """Decode a value stored as JSON (e.g. a RawState's identity)."""
    try:
        return json_codec.decode(data, type_)
    except DecodeError as err:
        raise ValueError(err.reason) from None
