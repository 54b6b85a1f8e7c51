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
