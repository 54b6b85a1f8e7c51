"""cty types and their JSON form (the `type` bytes in a schema attribute)."""

from __future__ import annotations

import json
from typing import Any

from provider.prebuilt_dataclasses import dataclass


class CtyType:
    """Base of all types; subclasses are frozen dataclasses, so types compare by value."""

    def to_json(self) -> Any:
        raise NotImplementedError

    def json_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()


@dataclass(frozen=True)
class Primitive(CtyType):
    name: str  # "string" | "number" | "bool" | "dynamic"

    def to_json(self) -> Any:
        return self.name

    def __repr__(self) -> str:
        return self.name.upper()


def primitive_name(type_: CtyType) -> str | None:
    """ "string", "number", "bool" or "dynamic" for a primitive type, else None.
    The codecs branch on this name, once per value, instead of comparing the
    type with each primitive in turn (each comparison a call to __eq__)."""
    return type_.name if type(type_) is Primitive else None


STRING = Primitive("string")
NUMBER = Primitive("number")
BOOL = Primitive("bool")
# The "any type" placeholder: values of this type carry their concrete type on the wire.
DYNAMIC = Primitive("dynamic")


@dataclass(frozen=True)
class ListType(CtyType):
    element: CtyType

    def to_json(self) -> Any:
        return ["list", self.element.to_json()]


@dataclass(frozen=True)
class SetType(CtyType):
    element: CtyType

    def to_json(self) -> Any:
        return ["set", self.element.to_json()]


@dataclass(frozen=True)
class MapType(CtyType):
    element: CtyType

    def to_json(self) -> Any:
        return ["map", self.element.to_json()]


@dataclass(frozen=True)
class ObjectType(CtyType):
    attributes: tuple[tuple[str, CtyType], ...]
    optional: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, attributes: dict[str, CtyType], optional: frozenset[str] = frozenset()
    ) -> ObjectType:
        return cls(tuple(sorted(attributes.items())), optional)

    @property
    def attribute_types(self) -> dict[str, CtyType]:
        return dict(self.attributes)

    def to_json(self) -> Any:
        attrs = {name: t.to_json() for name, t in self.attributes}
        if self.optional:
            return ["object", attrs, sorted(self.optional)]
        return ["object", attrs]


@dataclass(frozen=True)
class TupleType(CtyType):
    elements: tuple[CtyType, ...]

    def to_json(self) -> Any:
        return ["tuple", [t.to_json() for t in self.elements]]


_PRIMITIVES = {p.name: p for p in (STRING, NUMBER, BOOL, DYNAMIC)}
_COLLECTIONS = {"list": ListType, "set": SetType, "map": MapType}
# Types nest far less than values; a bound keeps the parser's recursion small.
MAX_TYPE_DEPTH = 32


def type_from_json(raw: Any) -> CtyType:
    """Parse cty's JSON type notation (already decoded from JSON, or as bytes/str).

    Raises ValueError for anything that is not a type, including notation
    nested deeper than MAX_TYPE_DEPTH: dynamic values carry these from the wire."""
    if isinstance(raw, bytes | str) and not (isinstance(raw, str) and raw in _PRIMITIVES):
        brackets = raw.count("[") if isinstance(raw, str) else raw.count(b"[")
        if brackets > 4 * MAX_TYPE_DEPTH:
            raise ValueError("type notation is nested too deeply")
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as err:
            raise ValueError(f"type notation is not JSON: {err}") from None
    return _parse_type(raw, 0)


def _parse_type(raw: Any, depth: int) -> CtyType:
    if depth > MAX_TYPE_DEPTH:
        raise ValueError(f"type notation is nested more than {MAX_TYPE_DEPTH} levels deep")
    if isinstance(raw, str):
        try:
            return _PRIMITIVES[raw]
        except KeyError:
            raise ValueError(f"unknown primitive type {raw[:40]!r}") from None
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
        raise ValueError(f"invalid type notation (a {type(raw).__name__})")
    kind = raw[0]
    if kind in _COLLECTIONS and len(raw) == 2:
        return _COLLECTIONS[kind](_parse_type(raw[1], depth + 1))
    if kind == "object" and len(raw) in (2, 3) and isinstance(raw[1], dict):
        optional = raw[2] if len(raw) == 3 else []
        if not isinstance(optional, list) or not all(isinstance(n, str) for n in optional):
            raise ValueError("an object type's optional attributes must be a list of names")
        attributes = {k: _parse_type(v, depth + 1) for k, v in raw[1].items()}
        return ObjectType.of(attributes, frozenset(optional))
    if kind == "tuple" and len(raw) == 2 and isinstance(raw[1], list):
        return TupleType(tuple(_parse_type(t, depth + 1) for t in raw[1]))
    raise ValueError(f"invalid type notation (a {type(raw).__name__})")
