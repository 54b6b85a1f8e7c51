"""cty's msgpack encoding: how Terraform sends values on the wire.

Unknown values are msgpack extension objects. Terraform before 1.3 uses
extension type 0; later versions may send type 12 carrying "refinements"
(for example "not null" or a string prefix). Both decode to UNKNOWN; we only
ever send plain type 0, which every version understands.

Decoding follows cty's rules: strings come out in NFC (as cty.StringVal
normalises them), a set keeps one of each equal element, a missing object
attribute is null. It refuses, with a `DecodeError` naming the attribute path:
truncated or trailing bytes, a value of the wrong kind, map keys that are not
strings, attributes the type does not have, NaN, strings that are not valid
UTF-8, and numbers beyond the limits in `decoding`. Every extension object
reads as a plain unknown: refinements are not kept, and not checked either.
docs/cty.md lists where we differ from go-cty on purpose.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import msgpack  # untyped: read as Any (pyproject.toml's mypy overrides)

from provider.cty.decoding import (
    MAX_DEPTH,
    DecodeError,
    PathStep,
    checked_number,
    cty_string,
    parse_number,
)
from provider.cty.msgpack_plans import Careful, decoder, encoder
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
from provider.cty.values import UNKNOWN, Typed, distinct

__all__ = ["DecodeError", "decode", "encode"]


def encode(value: Any, type_: CtyType) -> bytes:
    wire: bytes = msgpack.packb(encoder(type_)(value), use_bin_type=True)
    return wire


def decode(data: bytes, type_: CtyType) -> Any:
    try:
        # Default strict_map_key: only str/bytes keys, so a map used as a key fails here.
        raw = msgpack.unpackb(data, raw=False, ext_hook=_ext_hook)
    except msgpack.ExtraData:
        raise DecodeError("invalid msgpack: trailing bytes after the value") from None
    except msgpack.exceptions.StackError:
        raise DecodeError("invalid msgpack: nested too deeply") from None
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        raise DecodeError(f"invalid msgpack: {err or type(err).__name__}") from None
    fast = decoder(type_)
    if fast is not None:
        try:
            return fast(raw)
        except Careful:
            pass  # the careful walk below gives the same value, or the exact error
    return _from_wire(raw, type_, ())


def _ext_hook(code: int, data: bytes) -> Any:
    return UNKNOWN  # type 0 (plain unknown) or 12 (refined unknown)


def _from_wire(raw: Any, type_: CtyType, path: tuple[PathStep, ...], wrapped: int = 0) -> Any:
    """`raw` as a value of `type_`, inside `wrapped` dynamic values within `path`.

    A dynamic value adds a level of nesting, but no step to the path: `wrapped`
    counts them, so that MAX_DEPTH bounds them too (and the encoder's recursion)."""
    if raw is UNKNOWN or raw is None:
        return raw
    if isinstance(raw, msgpack.Timestamp):
        return UNKNOWN  # cty reads every extension, this one included, as unknown
    if len(path) + wrapped > MAX_DEPTH:
        raise DecodeError(f"value nested more than {MAX_DEPTH} levels deep", path)
    primitive = primitive_name(type_)
    if primitive == "dynamic":
        if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], bytes | str)):
            raise DecodeError("dynamic value must be [type, value]", path)
        try:
            inner = type_from_json(raw[0])
        except ValueError as err:
            raise DecodeError(f"dynamic value: {err}", path) from None
        return Typed(inner, _from_wire(raw[1], inner, path, wrapped + 1))
    if primitive == "string":
        if not isinstance(raw, str):
            raise DecodeError(f"expected string, got {_kind(raw)}", path)
        return cty_string(raw)
    if primitive == "number":
        return _number_from_wire(raw, path)
    if primitive == "bool":
        if not isinstance(raw, bool):
            raise DecodeError(f"expected bool, got {_kind(raw)}", path)
        return raw
    if isinstance(type_, ListType | SetType):
        _expect(raw, list, path)
        items = [
            _from_wire(v, type_.element, (*path, ("key", i)), wrapped) for i, v in enumerate(raw)
        ]
        return distinct(items) if isinstance(type_, SetType) else items
    if isinstance(type_, TupleType):
        _expect(raw, list, path)
        if len(raw) != len(type_.elements):
            raise DecodeError(f"tuple needs {len(type_.elements)} elements", path)
        return [
            _from_wire(v, t, (*path, ("key", i)), wrapped)
            for i, (v, t) in enumerate(zip(raw, type_.elements, strict=True))
        ]
    if isinstance(type_, MapType):
        _expect(raw, dict, path)
        _string_keys(raw, path)
        return {
            k: _from_wire(v, type_.element, (*path, ("key", k)), wrapped) for k, v in raw.items()
        }
    if isinstance(type_, ObjectType):
        _expect(raw, dict, path)
        _string_keys(raw, path)
        known = type_.attribute_types
        for name in raw:
            if name not in known:
                raise DecodeError("unsupported attribute", (*path, ("name", name)))
        return {
            k: _from_wire(raw.get(k), t, (*path, ("name", k)), wrapped) for k, t in type_.attributes
        }
    raise DecodeError(f"cannot decode type {type_!r}", path)


def _number_from_wire(raw: Any, path: tuple[PathStep, ...]) -> int | Decimal:
    if isinstance(raw, bool):
        raise DecodeError("expected number, got bool", path)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if math.isnan(raw):
            raise DecodeError("NaN is not a number in Terraform", path)
        return checked_number(Decimal(raw), path)  # float64 and +-infinity, as cty
    if isinstance(raw, str):
        return parse_number(raw, path)
    raise DecodeError(f"expected number, got {_kind(raw)}", path)


_KINDS: dict[type, str] = {dict: "map", list: "array", str: "string", bytes: "binary"}


def _kind(raw: Any) -> str:
    return _KINDS.get(type(raw), type(raw).__name__)


def _expect(raw: Any, kind: type, path: tuple[PathStep, ...]) -> None:
    if not isinstance(raw, kind):
        raise DecodeError(f"expected {_kind(kind())}, got {_kind(raw)}", path)


def _string_keys(raw: dict[Any, Any], path: tuple[PathStep, ...]) -> None:
    for key in raw:
        if not isinstance(key, str):
            raise DecodeError(f"map keys must be strings, got {_kind(key)}", path)
