"""cty's msgpack encoding: how Terraform sends values on the wire.

Unknown values are msgpack extension objects. Terraform before 1.3 uses
extension type 0; later versions may send type 12 carrying "refinements"
(for example "not null" or a string prefix). Both decode to UNKNOWN; we only
ever send plain type 0, which every version understands.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgpack

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

_UNKNOWN_EXT = msgpack.ExtType(0, b"\x00")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class DecodeError(ValueError):
    """The bytes do not hold a value of the expected type."""


def encode(value: Any, type_: CtyType) -> bytes:
    return msgpack.packb(_to_wire(value, type_), use_bin_type=True)


def decode(data: bytes, type_: CtyType) -> Any:
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)
    except (ValueError, msgpack.UnpackException) as err:
        raise DecodeError(f"invalid msgpack: {err}") from err
    return _from_wire(raw, type_, "")


def _ext_hook(code: int, data: bytes) -> Any:
    return UNKNOWN  # type 0 (plain unknown) or 12 (refined unknown)


def _number_to_wire(value: int | Decimal) -> int | float | str:
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        return str(value)
    if value == value.to_integral_value() and _INT64_MIN <= value <= _INT64_MAX:
        return int(value)
    as_float = float(value)
    if Decimal(as_float) == value:
        return as_float
    return format(value, "f")


def _to_wire(value: Any, type_: CtyType) -> Any:
    if value is UNKNOWN:
        return _UNKNOWN_EXT
    if value is None:
        return None
    if type_ == DYNAMIC:
        if not isinstance(value, Typed):
            raise TypeError(f"a dynamic value must be Typed, got {value!r}")
        return [value.type.json_bytes(), _to_wire(value.value, value.type)]
    if type_ == STRING:
        return str(value)
    if type_ == NUMBER:
        return _number_to_wire(value)
    if type_ == BOOL:
        return bool(value)
    if isinstance(type_, ListType | SetType):
        return [_to_wire(v, type_.element) for v in value]
    if isinstance(type_, TupleType):
        return [_to_wire(v, t) for v, t in zip(value, type_.elements, strict=True)]
    if isinstance(type_, MapType):
        return {k: _to_wire(v, type_.element) for k, v in value.items()}
    if isinstance(type_, ObjectType):
        return {k: _to_wire(value.get(k), t) for k, t in type_.attributes}
    raise TypeError(f"cannot encode type {type_!r}")


def _from_wire(raw: Any, type_: CtyType, where: str) -> Any:
    if raw is UNKNOWN or raw is None:
        return raw
    if type_ == DYNAMIC:
        if not (isinstance(raw, list) and len(raw) == 2):
            raise DecodeError(f"{where or 'value'}: dynamic value must be [type, value]")
        inner = type_from_json(raw[0])
        return Typed(inner, _from_wire(raw[1], inner, where))
    if type_ == STRING:
        if not isinstance(raw, str):
            raise DecodeError(f"{where or 'value'}: expected string, got {type(raw).__name__}")
        return raw
    if type_ == NUMBER:
        return _number_from_wire(raw, where)
    if type_ == BOOL:
        if not isinstance(raw, bool):
            raise DecodeError(f"{where or 'value'}: expected bool")
        return raw
    if isinstance(type_, ListType | SetType):
        _expect(raw, list, where)
        return [_from_wire(v, type_.element, f"{where}[{i}]") for i, v in enumerate(raw)]
    if isinstance(type_, TupleType):
        _expect(raw, list, where)
        if len(raw) != len(type_.elements):
            raise DecodeError(f"{where or 'value'}: tuple needs {len(type_.elements)} elements")
        return [
            _from_wire(v, t, f"{where}[{i}]")
            for i, (v, t) in enumerate(zip(raw, type_.elements, strict=True))
        ]
    if isinstance(type_, MapType):
        _expect(raw, dict, where)
        return {k: _from_wire(v, type_.element, f"{where}[{k!r}]") for k, v in raw.items()}
    if isinstance(type_, ObjectType):
        _expect(raw, dict, where)
        return {
            k: _from_wire(raw.get(k), t, f"{where}.{k}" if where else k)
            for k, t in type_.attributes
        }
    raise DecodeError(f"cannot decode type {type_!r}")


def _number_from_wire(raw: Any, where: str) -> int | Decimal:
    if isinstance(raw, bool):
        raise DecodeError(f"{where or 'value'}: expected number, got bool")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return Decimal(raw)
    if isinstance(raw, str):
        try:
            number = Decimal(raw)
        except ArithmeticError:
            raise DecodeError(f"{where or 'value'}: invalid number {raw!r}") from None
        return int(number) if number == number.to_integral_value() else number
    raise DecodeError(f"{where or 'value'}: expected number, got {type(raw).__name__}")


def _expect(raw: Any, kind: type, where: str) -> None:
    if not isinstance(raw, kind):
        raise DecodeError(f"{where or 'value'}: expected {kind.__name__}, got {type(raw).__name__}")
