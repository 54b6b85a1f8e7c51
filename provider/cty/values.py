"""Value helpers: the unknown marker, dynamic values, and type-aware equality."""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any, Final

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
)
from provider.prebuilt_dataclasses import dataclass


class Unknown:
    """A value Terraform does not know yet (it becomes known during apply)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()

# Enough precision that normalising any number the decoders accept never rounds it
# (the default context keeps 28 digits, which would make 10**30 + 1 equal 10**30).
_EXACT = Context(prec=10_000)
_ORDERED = (STRING, NUMBER, BOOL)


@dataclass(frozen=True)
class Typed:
    """A value of a dynamically typed attribute, with the concrete type it carries."""

    type: CtyType
    value: Any


def wholly_known(value: Any) -> bool:
    """True when neither the value nor anything nested in it is unknown."""
    if value is UNKNOWN:
        return False
    if isinstance(value, Typed):
        return wholly_known(value.value)
    if isinstance(value, dict):
        return all(wholly_known(v) for v in value.values())
    if isinstance(value, list):
        return all(wholly_known(v) for v in value)
    return True


def _canonical(value: Any) -> Any:
    """A hashable, order-normalised form used to compare set elements."""
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, _canonical(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("l", tuple(_canonical(v) for v in value))
    if isinstance(value, Typed):
        return ("t", value.type, _canonical(value.value))
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return ("n", Decimal(value).normalize(_EXACT))
    return (type(value).__name__, value)


def distinct(elements: list[Any]) -> list[Any]:
    """A set's elements with one of each equal element, first kept, as cty keeps them.

    Two elements are equal when both are wholly known and equal (numbers by
    value, so 1 and 1.0 are one element); an unknown is never equal to
    anything, so elements holding one all stay, as in cty's set rules."""
    seen: set[Any] = set()
    out = []
    for element in elements:
        if wholly_known(element):
            key = _canonical(element)
            if key in seen:
                continue
            seen.add(key)
        out.append(element)
    return out


def cty_order(elements: list[Any], type_: CtyType) -> list[Any]:
    """A set's or map's elements in the order cty iterates them (and so encodes them).

    Map keys sort by their UTF-8 bytes (code point order, as Python compares
    str). Sets of strings, numbers and bools sort by value, unknowns after the
    known values and nulls last; sets of other types keep their order (cty
    orders those by an internal hash, which no peer depends on)."""
    if type_ not in _ORDERED or not elements:
        return elements
    known = [e for e in elements if e is not None and e is not UNKNOWN]
    unknown = [e for e in elements if e is UNKNOWN]
    nulls = [e for e in elements if e is None]
    return [*sorted(known), *unknown, *nulls]


def values_equal(a: Any, b: Any, type_: CtyType = DYNAMIC) -> bool:
    """Equality as Terraform sees it: sets ignore order, numbers compare exactly."""
    if a is UNKNOWN or b is UNKNOWN:
        return a is b
    if a is None or b is None:
        return a is b
    if isinstance(type_, SetType):
        return sorted(map(repr, map(_canonical, a))) == sorted(map(repr, map(_canonical, b)))
    if isinstance(type_, ListType):
        return len(a) == len(b) and all(
            values_equal(x, y, type_.element) for x, y in zip(a, b, strict=True)
        )
    if isinstance(type_, TupleType):
        return len(a) == len(b) and all(
            values_equal(x, y, t) for x, y, t in zip(a, b, type_.elements, strict=True)
        )
    if isinstance(type_, MapType):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k], type_.element) for k in a)
    if isinstance(type_, ObjectType):
        return all(values_equal(a.get(k), b.get(k), t) for k, t in type_.attributes)
    return bool(_canonical(a) == _canonical(b))
