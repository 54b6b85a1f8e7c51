"""Wire messages to framework values."""

from __future__ import annotations

from typing import Any

from provider.cty import CtyType, json_codec, msgpack_codec


def dynamic_value(message: Any, type_: CtyType) -> Any:
    """Decode a DynamicValue; an empty message means null."""
    if message is None:
        return None
    if message.msgpack:
        return msgpack_codec.decode(message.msgpack, type_)
    if message.json:
        return json_codec.decode(message.json, type_)
    return None


def identity_data(message: Any, type_: CtyType) -> Any:
    """Decode a ResourceIdentityData; absent (or empty) means no identity."""
    if message is None or not message.HasField("identity_data"):
        return None
    return dynamic_value(message.identity_data, type_)


def json_value(data: bytes, type_: CtyType) -> Any:
    """Decode a value stored as JSON (e.g. a RawState's identity)."""
    return json_codec.decode(data, type_)
