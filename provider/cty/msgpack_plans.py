"""Per-type converters between msgpack's plain values and cty values, made once per type.

The codec's careful walk (`msgpack_codec._from_wire`) asks, for
every value, what kind of type it has and builds the attribute path it would
name in an error. A schema's type never changes, so here those questions are
answered once per type and the answer kept, as a function, on the type itself
(beside its fields, as `Block.cty_type` keeps its type: equality and hashing
ignore it). Every RPC that carries a state pays for these conversions.

A decoding converter only takes the common, well-formed case. Anything else
(a value of the wrong kind, a key the type does not have, a dynamic value)
raises `Careful`, and the codec decodes the whole value the careful way
again, which gives the same value or the exact error with its path.
Encoding has no such second way: a converter is how every value is encoded
(a dynamic value by its own type's converter).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgpack  # untyped: read as Any (pyproject.toml's mypy overrides)

from provider.cty.decoding import MAX_DEPTH, cty_string
from provider.cty.types import (
    CtyType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    primitive_name,
)
from provider.cty.values import UNKNOWN, Typed, cty_order, distinct

Converter = Callable[[Any], Any]
UNKNOWN_EXT = msgpack.ExtType(0, b"\x00")  # the plain unknown every Terraform reads
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DECODER = "_msgpack_decoder"
_ENCODER = "_msgpack_encoder"


class Careful(Exception):
    """This value needs the careful walk (it may well be invalid)."""


def decoder(type_: CtyType) -> Converter | None:
    """The fast decoding converter of `type_`, or None where only the careful
    walk may decode it (a type nested deeper than the walk allows)."""
    made: Converter | None = type_.__dict__.get(_DECODER)
    if made is None and _DECODER not in type_.__dict__:
        made = _decoder(type_) if _depth(type_) <= MAX_DEPTH else None
        type_.__dict__[_DECODER] = made
    return made


def encoder(type_: CtyType) -> Converter:
    """The encoding converter of `type_`: the one way values become msgpack."""
    made: Converter | None = type_.__dict__.get(_ENCODER)
    if made is None:
        made = type_.__dict__[_ENCODER] = _encoder(type_)
    return made


def _depth(type_: CtyType) -> int:
    if isinstance(type_, ListType | SetType | MapType):
        return 1 + _depth(type_.element)
    if isinstance(type_, TupleType):
        return 1 + max((_depth(t) for t in type_.elements), default=0)
    if isinstance(type_, ObjectType):
        return 1 + max((_depth(t) for _, t in type_.attributes), default=0)
    return 0


def _decoder(type_: CtyType) -> Converter:
    primitive = primitive_name(type_)
    if primitive == "string":
        return _string
    if primitive == "number":
        return _number
    if primitive == "bool":
        return _bool
    if primitive == "dynamic":
        return _dynamic
    if isinstance(type_, ListType | SetType):
        element = _decoder(type_.element)
        as_set = isinstance(type_, SetType)

        def sequence(raw: Any) -> Any:
            if type(raw) is not list:
                return _absent(raw)
            items = [element(v) for v in raw]
            return distinct(items) if as_set else items

        return sequence
    if isinstance(type_, TupleType):
        elements = [_decoder(t) for t in type_.elements]

        def tuple_(raw: Any) -> Any:
            if type(raw) is not list or len(raw) != len(elements):
                return _absent(raw)
            return [convert(v) for convert, v in zip(elements, raw, strict=True)]

        return tuple_
    if isinstance(type_, MapType):
        value = _decoder(type_.element)

        def map_(raw: Any) -> Any:
            if type(raw) is not dict:
                return _absent(raw)
            for key in raw:
                if type(key) is not str:
                    raise Careful
            return {k: value(v) for k, v in raw.items()}

        return map_
    if isinstance(type_, ObjectType):
        attributes = [(name, _decoder(t)) for name, t in type_.attributes]
        names = frozenset(name for name, _ in attributes)

        def object_(raw: Any) -> Any:
            if type(raw) is not dict:
                return _absent(raw)
            if not names.issuperset(raw):  # an attribute it does not have, or a key not a str
                raise Careful
            return {name: convert(raw.get(name)) for name, convert in attributes}

        return object_
    raise Careful


def _absent(raw: Any) -> Any:
    """Null and unknown pass as they are at any type; anything else is refused."""
    if raw is None or raw is UNKNOWN:
        return raw
    raise Careful


def _string(raw: Any) -> Any:
    return cty_string(raw) if type(raw) is str else _absent(raw)


def _number(raw: Any) -> Any:
    return raw if type(raw) is int else _absent(raw)  # floats and strings: the careful walk


def _bool(raw: Any) -> Any:
    return raw if type(raw) is bool else _absent(raw)


def _dynamic(raw: Any) -> Any:
    return _absent(raw)


def number_to_wire(value: int | Decimal) -> int | float | str:
    """A number as cty puts it in msgpack: an integer or float when exact, else text."""
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        return str(value)
    if value.is_finite() and value == value.to_integral_value():
        # an integer beyond int64 is text, as an int is, even where a float64 holds it
        return int(value) if _INT64_MIN <= value <= _INT64_MAX else str(int(value))
    as_float = float(value)
    if Decimal(as_float) == value:
        return as_float
    return format(value, "f")


def _encoder(type_: CtyType) -> Converter:
    """Null and unknown as they are at every type; any other value by `type_`'s kind."""
    convert = _known_encoder(type_)

    def encode(value: Any) -> Any:
        if value is None or value is UNKNOWN:
            return UNKNOWN_EXT if value is UNKNOWN else None
        return convert(value)

    return encode


def _known_encoder(type_: CtyType) -> Converter:
    """The converter of a value of `type_` that is neither null nor unknown."""
    primitive = primitive_name(type_)
    if primitive == "string":
        return str
    if primitive == "number":
        return number_to_wire
    if primitive == "bool":
        return bool
    if primitive == "dynamic":
        return _dynamic_to_wire
    if isinstance(type_, ListType):
        element = _encoder(type_.element)
        return lambda value: [element(v) for v in value]
    if isinstance(type_, SetType):
        item, order = _encoder(type_.element), type_.element
        return lambda value: [item(v) for v in cty_order(value, order)]
    if isinstance(type_, TupleType):
        elements = [_encoder(t) for t in type_.elements]
        return lambda value: [convert(v) for v, convert in zip(value, elements, strict=True)]
    if isinstance(type_, MapType):
        entry = _encoder(type_.element)
        return lambda value: {k: entry(value[k]) for k in sorted(value)}
    if isinstance(type_, ObjectType):
        attributes = [(name, _encoder(t)) for name, t in type_.attributes]
        return lambda value: {k: convert(value.get(k)) for k, convert in attributes}
    return lambda value: _refuse(type_)


def _dynamic_to_wire(value: Any) -> Any:
    """A dynamic value as cty writes it: [its type's JSON, the value in that type]."""
    if not isinstance(value, Typed):
        raise TypeError(f"a dynamic value must be Typed, got {value!r}")
    return [value.type.json_bytes(), encoder(value.type)(value.value)]


def _refuse(type_: CtyType) -> Any:
    raise TypeError(f"cannot encode type {type_!r}")


__all__ = ["UNKNOWN_EXT", "Careful", "decoder", "encoder", "number_to_wire"]
