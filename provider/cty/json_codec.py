"""cty's JSON encoding: used for stored state (UpgradeResourceState) and
occasionally for configuration. JSON has no unknowns; numbers keep full precision.

Like the msgpack codec, decoding refuses bad input with a `DecodeError` that
names the attribute path; nesting and numbers are bounded before Python's
recursive parser or any number conversion sees them, and the JSON literals
NaN and Infinity (which Python's json accepts) are refused, as Go's are.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from provider.cty.decoding import MAX_DEPTH, DecodeError, PathStep, check_json_depth, parse_number
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


class _NumberText(str):
    """A JSON number still in its text, checked (with its path) when decoded."""


def loads(data: bytes | str) -> Any:
    """Plain JSON with cty's number rules and bounded nesting (Decimal for fractions)."""
    return _numbers(_parse(data))


def decode(data: bytes | str, type_: CtyType) -> Any:
    return from_plain(_parse(data), type_)


def _parse(data: bytes | str) -> Any:
    raw_bytes = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_json_depth(raw_bytes)
    try:
        return json.loads(
            data, parse_float=_NumberText, parse_int=_NumberText, parse_constant=_no_constant
        )
    except DecodeError:
        raise
    except (ValueError, RecursionError) as err:
        raise DecodeError(f"invalid JSON: {err}") from None


def _no_constant(name: str) -> Any:
    raise DecodeError(f"{name} is not a number in Terraform")


def _numbers(raw: Any, path: tuple[PathStep, ...] = ()) -> Any:
    if isinstance(raw, _NumberText):
        return parse_number(raw, path)
    if isinstance(raw, list):
        return [_numbers(v, (*path, ("key", i))) for i, v in enumerate(raw)]
    if isinstance(raw, dict):
        return {k: _numbers(v, (*path, ("key", k))) for k, v in raw.items()}
    return raw


def encode(value: Any, type_: CtyType) -> bytes:
    return _dump(value, type_).encode()


def from_plain(raw: Any, type_: CtyType, path: tuple[PathStep, ...] = ()) -> Any:
    """Convert a JSON-decoded Python value to a cty value of `type_`."""
    if raw is None:
        return None
    if len(path) > MAX_DEPTH:
        raise DecodeError(f"value nested more than {MAX_DEPTH} levels deep", path)
    if type_ == DYNAMIC:
        if not (isinstance(raw, dict) and raw.keys() == {"value", "type"}):
            raise DecodeError("dynamic value must be {value, type}", path)
        try:
            inner = type_from_json(raw["type"])
        except ValueError as err:
            raise DecodeError(f"dynamic value: {err}", path) from None
        return Typed(inner, from_plain(raw["value"], inner, path))
    if type_ == STRING:
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise DecodeError(f"expected string, got {_kind(raw)}", path)
        if isinstance(raw, _NumberText):  # cty reads a JSON number as its text here
            parse_number(raw, path)
        return str(raw)
    if type_ == NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise DecodeError(f"expected number, got {_kind(raw)}", path)
        return parse_number(raw, path) if isinstance(raw, str) else raw
    if type_ == BOOL:
        if not isinstance(raw, bool):
            raise DecodeError(f"expected bool, got {_kind(raw)}", path)
        return raw
    if isinstance(type_, ListType | SetType):
        if not isinstance(raw, list):
            raise DecodeError(f"expected a list, got {_kind(raw)}", path)
        return [from_plain(v, type_.element, (*path, ("key", i))) for i, v in enumerate(raw)]
    if isinstance(type_, TupleType):
        if not isinstance(raw, list) or len(raw) != len(type_.elements):
            raise DecodeError(f"expected a tuple of {len(type_.elements)}", path)
        return [
            from_plain(v, t, (*path, ("key", i)))
            for i, (v, t) in enumerate(zip(raw, type_.elements, strict=True))
        ]
    if isinstance(type_, MapType):
        if not isinstance(raw, dict):
            raise DecodeError(f"expected a map, got {_kind(raw)}", path)
        return {k: from_plain(v, type_.element, (*path, ("key", k))) for k, v in raw.items()}
    if isinstance(type_, ObjectType):
        if not isinstance(raw, dict):
            raise DecodeError(f"expected an object, got {_kind(raw)}", path)
        known = type_.attribute_types
        for name in raw:
            if name not in known:
                raise DecodeError("unsupported attribute", (*path, ("name", name)))
        return {k: from_plain(raw.get(k), t, (*path, ("name", k))) for k, t in type_.attributes}
    raise DecodeError(f"cannot decode type {type_!r}", path)


def _kind(raw: Any) -> str:
    if isinstance(raw, bool):
        return "bool"
    if isinstance(raw, int | Decimal | _NumberText):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(raw), type(raw).__name__)


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
