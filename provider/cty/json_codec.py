"""cty's JSON encoding: used for stored state (UpgradeResourceState) and
occasionally for configuration. JSON has no unknowns; numbers keep full precision.

Decoding reads what go-cty's json.Unmarshal reads (stored state is often older
than the schema, and Terraform hands it to us unchanged):

- a bool attribute takes a JSON bool or the strings "true", "1", "false", "0";
- a number attribute takes a JSON number or a string holding one ("12", "Inf");
- a string attribute takes a string, a number (its text, as written: "1e3"
  stays "1e3") or a bool ("true"/"false");
- strings become valid Unicode in NFC: a lone surrogate escape ("\\ud800") or
  invalid UTF-8 byte reads as U+FFFD, as Go's JSON decoder reads it;
- a set keeps one of each equal element;
- a missing object attribute is null, an unknown one is refused.

Anything else is refused with a `DecodeError` that names the attribute path;
nesting and numbers are bounded before Python's recursive parser or any number
conversion sees them, and the JSON literals NaN and Infinity (which Python's
json accepts) are refused, as Go's are. docs/cty.md lists where we are stricter
than go-cty on purpose.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from provider.cty.decoding import (
    MAX_DEPTH,
    UTF8_ERRORS,
    DecodeError,
    PathStep,
    check_json_depth,
    cty_string,
    parse_number,
    valid_text,
)
from provider.cty.types import (
    CtyType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    primitive_name,
    type_from_json,
)
from provider.cty.values import UNKNOWN, Typed, cty_order, distinct


class _NumberText(str):
    """A JSON number still in its text, checked (with its path) when decoded."""


class _IntWithText(int):
    """A JSON number read as an int that remembers how it was written."""

    text: str


class _DecimalWithText(Decimal):
    """A JSON number read as a Decimal that remembers how it was written."""

    text: str


def loads(data: bytes | str) -> Any:
    """Plain JSON with cty's number rules and bounded nesting (Decimal for fractions).

    A number cty would refuse stays text until `from_plain` meets it: a string
    attribute takes it as written, a number attribute refuses it at its path."""
    return _numbers(_parse(data))


def decode(data: bytes | str, type_: CtyType) -> Any:
    return from_plain(_parse(data), type_)


# A \\u escape that json.loads may turn into a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _parse(data: bytes | str) -> Any:
    text = valid_text(data) if isinstance(data, str) else data.decode("utf-8", UTF8_ERRORS)
    check_json_depth(text.encode())
    try:
        raw = json.loads(
            text, parse_float=_NumberText, parse_int=_NumberText, parse_constant=_no_constant
        )
    except DecodeError:
        raise
    except (ValueError, RecursionError) as err:
        raise DecodeError(f"invalid JSON: {valid_text(str(err))}") from None
    return _valid_strings(raw) if _SURROGATE_ESCAPE.search(text) else raw


def _valid_strings(raw: Any) -> Any:
    """Every string and key with its lone surrogates as U+FFFD (the JSON held such escapes)."""
    if isinstance(raw, _NumberText):
        return raw
    if isinstance(raw, str):
        return valid_text(raw)
    if isinstance(raw, list):
        return [_valid_strings(v) for v in raw]
    if isinstance(raw, dict):
        return {valid_text(k): _valid_strings(v) for k, v in raw.items()}
    return raw


def _no_constant(name: str) -> Any:
    raise DecodeError(f"{name} is not a number in Terraform")


def _numbers(raw: Any, path: tuple[PathStep, ...] = ()) -> Any:
    if isinstance(raw, _NumberText):
        try:
            number = parse_number(raw, path)
        except DecodeError:
            return raw
        if isinstance(number, int):
            out: _IntWithText | _DecimalWithText = _IntWithText(number)
        else:
            out = _DecimalWithText(number)
        out.text = str(raw)
        return out
    if isinstance(raw, list):
        return [_numbers(v, (*path, ("key", i))) for i, v in enumerate(raw)]
    if isinstance(raw, dict):
        return {k: _numbers(v, (*path, ("key", k))) for k, v in raw.items()}
    return raw


def encode(value: Any, type_: CtyType) -> bytes:
    return _dump(value, type_).encode()


def from_plain(raw: Any, type_: CtyType, path: tuple[PathStep, ...] = (), wrapped: int = 0) -> Any:
    """Convert a JSON-decoded Python value to a cty value of `type_`.

    `wrapped` counts the dynamic values around `raw` within `path`: each is a
    level of nesting with no step in the path, and MAX_DEPTH bounds them too."""
    if raw is None:
        return None
    if len(path) + wrapped > MAX_DEPTH:
        raise DecodeError(f"value nested more than {MAX_DEPTH} levels deep", path)
    primitive = primitive_name(type_)
    if primitive == "dynamic":
        if not (isinstance(raw, dict) and raw.keys() == {"value", "type"}):
            raise DecodeError("dynamic value must be {value, type}", path)
        try:
            inner = type_from_json(raw["type"])
        except ValueError as err:
            raise DecodeError(f"dynamic value: {err}", path) from None
        return Typed(inner, from_plain(raw["value"], inner, path, wrapped + 1))
    if primitive == "string":
        return _string(raw, path)
    if primitive == "number":
        return _number(raw, path)
    if primitive == "bool":
        return _bool(raw, path)
    if isinstance(type_, ListType | SetType):
        if not isinstance(raw, list):
            raise DecodeError(f"expected a list, got {_kind(raw)}", path)
        items = [
            from_plain(v, type_.element, (*path, ("key", i)), wrapped) for i, v in enumerate(raw)
        ]
        return distinct(items) if isinstance(type_, SetType) else items
    if isinstance(type_, TupleType):
        if not isinstance(raw, list) or len(raw) != len(type_.elements):
            raise DecodeError(f"expected a tuple of {len(type_.elements)}", path)
        return [
            from_plain(v, t, (*path, ("key", i)), wrapped)
            for i, (v, t) in enumerate(zip(raw, type_.elements, strict=True))
        ]
    if isinstance(type_, MapType):
        if not isinstance(raw, dict):
            raise DecodeError(f"expected a map, got {_kind(raw)}", path)
        return {
            k: from_plain(v, type_.element, (*path, ("key", k)), wrapped) for k, v in raw.items()
        }
    if isinstance(type_, ObjectType):
        if not isinstance(raw, dict):
            raise DecodeError(f"expected an object, got {_kind(raw)}", path)
        known = type_.attribute_types
        for name in raw:
            if name not in known:
                raise DecodeError("unsupported attribute", (*path, ("name", name)))
        return {
            k: from_plain(raw.get(k), t, (*path, ("name", k)), wrapped) for k, t in type_.attributes
        }
    raise DecodeError(f"cannot decode type {type_!r}", path)


def _string(raw: Any, path: tuple[PathStep, ...]) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, _IntWithText | _DecimalWithText):
        return raw.text  # cty keeps a number's text as written
    if isinstance(raw, _NumberText):
        return str(raw)
    if isinstance(raw, str):
        return cty_string(raw)
    if isinstance(raw, int | Decimal):
        return str(raw) if isinstance(raw, int) else format(raw, "f")
    raise DecodeError(f"expected string, got {_kind(raw)}", path)


def _number(raw: Any, path: tuple[PathStep, ...]) -> int | Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise DecodeError(f"expected number, got {_kind(raw)}", path)
    if isinstance(raw, str):
        return parse_number(raw, path)
    return int(raw) if isinstance(raw, int) else Decimal(raw)


# The strings cty converts to a bool; other spellings of true/false get a hint, as in cty.
_BOOL_TEXT = {"true": True, "1": True, "false": False, "0": False}


def _bool(raw: Any, path: tuple[PathStep, ...]) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and not isinstance(raw, _NumberText):
        if raw in _BOOL_TEXT:
            return _BOOL_TEXT[raw]
        if raw.lower() in _BOOL_TEXT:
            hint = f'to convert from string, use lowercase "{raw.lower()}"'
            raise DecodeError(f"expected bool; {hint}", path)
        raise DecodeError(f"expected bool, got string {raw[:40]!r}", path)
    raise DecodeError(f"expected bool, got {_kind(raw)}", path)


def _kind(raw: Any) -> str:
    if isinstance(raw, bool):
        return "bool"
    if isinstance(raw, int | Decimal | _NumberText):
        return "number"
    if isinstance(raw, str):
        return "string"
    return _KINDS.get(type(raw), type(raw).__name__)


_KINDS: dict[type, str] = {dict: "object", list: "array"}


# Go's json.Marshal escapes these so JSON can sit inside HTML and JavaScript.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _json_string(text: str) -> str:
    """A string as go-cty writes it (Go's json.Marshal): UTF-8, not \\u escapes,
    except for quotes, backslashes, control characters and the HTML-sensitive ones."""
    return json.dumps(text, ensure_ascii=False).translate(_GO_ESCAPES)


def _dump(value: Any, type_: CtyType) -> str:
    if value is UNKNOWN:
        raise ValueError("unknown values cannot be encoded as JSON")
    if value is None:
        return "null"
    primitive = primitive_name(type_)
    if primitive == "dynamic":
        inner = _dump(value.value, value.type)
        return f'{{"value":{inner},"type":{value.type.json_bytes().decode()}}}'
    if primitive == "number":
        return str(value) if isinstance(value, int) else format(value, "f")
    if primitive == "string":
        return _json_string(value)
    if primitive == "bool":
        return "true" if value else "false"
    if isinstance(type_, ListType):
        return "[" + ",".join(_dump(v, type_.element) for v in value) + "]"
    if isinstance(type_, SetType):
        ordered = cty_order(value, type_.element)
        return "[" + ",".join(_dump(v, type_.element) for v in ordered) + "]"
    if isinstance(type_, TupleType):
        return "[" + ",".join(_dump(v, t) for v, t in zip(value, type_.elements, strict=True)) + "]"
    if isinstance(type_, MapType):
        items = (f"{_json_string(k)}:{_dump(value[k], type_.element)}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if isinstance(type_, ObjectType):
        items = (f"{_json_string(k)}:{_dump(value.get(k), t)}" for k, t in type_.attributes)
        return "{" + ",".join(items) + "}"
    raise TypeError(f"cannot encode type {type_!r}")
