"""Terraform's value system (cty): types, values and their wire encodings.

This package is the only code that knows about msgpack, JSON, nulls and
unknown values on the wire. Values are plain Python objects:

    null -> None          string -> str         bool -> bool
    number -> int | Decimal (full precision, never float)
    list, set, tuple -> list     map, object -> dict
    unknown -> UNKNOWN    dynamic -> Typed(type, value)
"""

from provider.cty.types import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    ListType,
    MapType,
    ObjectType,
    Primitive,
    SetType,
    TupleType,
    type_from_json,
)
from provider.cty.values import UNKNOWN, Typed, Unknown, values_equal, wholly_known

__all__ = [
    "BOOL",
    "DYNAMIC",
    "NUMBER",
    "STRING",
    "UNKNOWN",
    "CtyType",
    "ListType",
    "MapType",
    "ObjectType",
    "Primitive",
    "SetType",
    "TupleType",
    "Typed",
    "Unknown",
    "type_from_json",
    "values_equal",
    "wholly_known",
]
