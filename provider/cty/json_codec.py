"""cty's JSON encoding: used for stored state (UpgradeResourceState) and
occasionally for configuration. JSON has no unknowns; numbers keep full precision."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from provider.cty.msgpack_codec import DecodeError
from provider.cty.types import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    type_from_json,
)
from provider.cty.values import UNKNOWN, Typed


def decode(data: bytes | str, type_: CtyType) -> Any:
    try:
        raw = json.loads(data, parse_float=Decimal)
    except ValueError as err:
        raise DecodeError(f"invalid JSON: {err}") from err
    return from_plain(raw, type_, "")


def encode(value: Any, type_: CtyType) -> bytes:
    return _dump(value, type_).encode()


def from_plain(raw: Any, type_: CtyType, where: str = "") -> Any:
    """Convert a JSON-decoded Python value to a cty value of `type_`."""
    if raw is None:
        return None
    label = where or "value"
    if type_ == DYNAMIC:
        if not (isinstance(raw, dict) and raw.keys() == {"value", "type"}):
            raise DecodeError(f"{label}: dynamic value must be {{value, type}}")
        inner = type_from_json(raw["type"])
        return Typed(inner, from_plain(raw["value"], inner, where))
    if type_ == STRING:
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise DecodeError(f"{label}: expected string")
        return raw if isinstance(raw, str) else str(raw)
    if type_ == NUMBER:
        if isinstance(raw, bool):
            raise DecodeError(f"{label}: expected number")
        try:
            number = Decimal(raw) if not isinstance(raw, int) else raw
        except ArithmeticError:
            raise DecodeError(f"{label}: invalid number {raw!r}") from None
        if isinstance(number, Decimal) and number == number.to_integral_value():
            return int(number)
        return number
    if type_ == BOOL:
        if not isinstance(raw, bool):
            raise DecodeError(f"{label}: expected bool")
        return raw
    if isinstance(type_, ListType | SetType):
        if not isinstance(raw, list):
            raise DecodeError(f"{label}: expected a list")
        return [from_plain(v, type_.element, f"{where}[{i}]") for i, v in enumerate(raw)]
    if isinstance(type_, TupleType):
        if not isinstance(raw, list) or len(raw) != len(type_.elements):
            raise DecodeError(f"{label}: expected a tuple of {len(type_.elements)}")
        return [
            from_plain(v, t, f"{where}[{i}]")
            for i, (v, t) in enumerate(zip(raw, type_.elements, strict=True))
        ]
    if isinstance(type_, MapType):
        if not isinstance(raw, dict):
            raise DecodeError(f"{label}: expected a map")
        return {k: from_plain(v, type_.element, f"{where}[{k!r}]") for k, v in raw.items()}
    if isinstance(type_, ObjectType):
        if not isinstance(raw, dict):
            raise DecodeError(f"{label}: expected an object")
        return {
            k: from_plain(raw.get(k), t, f"{where}.{k}" if where else k)
            for k, t in type_.attributes
        }
    raise DecodeError(f"cannot decode type {type_!r}")


def _dump(value: Any, type_: CtyType) -> str:
    if value is UNKNOWN:
        raise ValueError("unknown values cannot be encoded as JSON")
    if value is None:
        return "null"
    if type_ == DYNAMIC:
        inner = _dump(value.value, value.type)
        return f'{{"value":{inner},"type":{json.dumps(value.type.to_json())}}}'
    if type_ == NUMBER:
        return str(value) if isinstance(value, int) else format(value, "f")
    if type_ in (STRING, BOOL):
        return json.dumps(value)
    if isinstance(type_, ListType | SetType):
        return "[" + ",".join(_dump(v, type_.element) for v in value) + "]"
    if isinstance(type_, TupleType):
        return "[" + ",".join(_dump(v, t) for v, t in zip(value, type_.elements, strict=True)) + "]"
    if isinstance(type_, MapType):
        items = (f"{json.dumps(k)}:{_dump(v, type_.element)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(type_, ObjectType):
        items = (f"{json.dumps(k)}:{_dump(value.get(k), t)}" for k, t in type_.attributes)
        return "{" + ",".join(items) + "}"
    raise TypeError(f"cannot encode type {type_!r}")
