"""msgpack: the exact bytes go-cty writes for each kind of value, and what it reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from provider.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    UNKNOWN,
    CtyType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    Typed,
    msgpack_codec,
)
from provider.cty.decoding import DecodeError

INF = Decimal("Infinity")
SERVER = ObjectType.of({"name": STRING, "port": NUMBER})
WITH_ANY = ObjectType.of({"extra": DYNAMIC, "name": STRING})


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def _str(text: str) -> str:
    """The msgpack of a short string (fixstr), as hex."""
    raw = text.encode()
    assert len(raw) < 32
    return f"{0xA0 + len(raw):02x}{raw.hex()}"


# (name, type, value, bytes go-cty writes for it). Each decodes back to the value.
BOTH_WAYS: list[tuple[str, CtyType, Any, str]] = [
    ("string", STRING, "vault", _str("vault")),
    ("empty string", STRING, "", "a0"),
    ("null string", STRING, None, "c0"),
    ("unknown string", STRING, UNKNOWN, "d4 00 00"),
    ("non-ASCII string in NFC", STRING, "café", _str("café")),
    ("true", BOOL, True, "c3"),
    ("false", BOOL, False, "c2"),
    ("unknown bool", BOOL, UNKNOWN, "d4 00 00"),
    ("small int", NUMBER, 7, "07"),
    ("negative fixint", NUMBER, -1, "ff"),
    ("uint8", NUMBER, 200, "cc c8"),
    ("int16", NUMBER, -300, "d1 fe d4"),
    ("largest int64", NUMBER, 2**63 - 1, "cf 7fffffffffffffff"),
    ("smallest int64", NUMBER, -(2**63), "d3 8000000000000000"),
    # beyond int64 an integer travels as its decimal text, even when a float64 holds it
    ("2**63", NUMBER, 2**63, _str(str(2**63))),
    ("largest uint64", NUMBER, 2**64 - 1, _str(str(2**64 - 1))),
    # the same for a Decimal a provider's code made, integral and beyond int64
    ("2**70 as a Decimal", NUMBER, Decimal(2**70), _str(str(2**70))),
    ("2**63 as a Decimal with zero decimals", NUMBER, Decimal(f"{2**63}.00"), _str(str(2**63))),
    ("-1e25 as a Decimal", NUMBER, Decimal("-1E+25"), _str("-" + "1" + "0" * 25)),
    ("10**40", NUMBER, 10**40, "d9 29" + str(10**40).encode().hex()),
    ("exact binary fraction", NUMBER, Decimal("2.25"), "cb 4002000000000000"),
    ("negative binary fraction", NUMBER, Decimal("-0.5"), "cb bfe0000000000000"),
    # no float64 holds 0.3 exactly: the text keeps it exact
    ("decimal fraction", NUMBER, Decimal("0.3"), _str("0.3")),
    ("positive infinity", NUMBER, INF, "cb 7ff0000000000000"),
    ("negative infinity", NUMBER, -INF, "cb fff0000000000000"),
    ("unknown number", NUMBER, UNKNOWN, "d4 00 00"),
    ("list", ListType(STRING), ["a", "b"], "92 a161 a162"),
    ("empty list", ListType(STRING), [], "90"),
    ("null list", ListType(STRING), None, "c0"),
    ("list of a null", ListType(STRING), [None], "91 c0"),
    ("list of an unknown", ListType(STRING), [UNKNOWN], "91 d40000"),
    ("set", SetType(STRING), ["a", "b"], "92 a161 a162"),
    ("empty set", SetType(NUMBER), [], "90"),
    ("set with an unknown", SetType(STRING), ["a", UNKNOWN], "92 a161 d40000"),
    ("map", MapType(NUMBER), {"az": 1, "zone": 2}, "82 a26 17a 01 a47a6f6e65 02"),
    ("empty map", MapType(STRING), {}, "80"),
    ("map of an unknown", MapType(STRING), {"k": UNKNOWN}, "81 a16b d40000"),
    ("object", SERVER, {"name": "db", "port": 5432}, "82 a46e616d65 a26462 a4706f7274 cd1538"),
    ("object of nulls", SERVER, {"name": None, "port": None}, "82 a46e616d65 c0 a4706f7274 c0"),
    (
        "object of unknowns",
        SERVER,
        {"name": UNKNOWN, "port": UNKNOWN},
        "82 a46e616d65 d40000 a4706f7274 d40000",
    ),
    ("empty object", ObjectType.of({}), {}, "80"),
    ("tuple", TupleType((STRING, BOOL)), ["x", True], "92 a178 c3"),
    ("empty tuple", TupleType(()), [], "90"),
    # a dynamic value is [type as JSON (binary), value]
    ("dynamic bool", DYNAMIC, Typed(BOOL, False), "92 c406 22626f6f6c22 c2"),
    ("dynamic number", DYNAMIC, Typed(NUMBER, 3), "92 c408 226e756d62657222 03"),
    (
        "dynamic list",
        DYNAMIC,
        Typed(ListType(STRING), ["x"]),
        "92 c411" + b'["list","string"]'.hex() + "91 a178",
    ),
    (
        "dynamic object",
        DYNAMIC,
        Typed(ObjectType.of({"a": BOOL}), {"a": True}),
        "92 c417" + b'["object",{"a":"bool"}]'.hex() + "81 a161 c3",
    ),
    ("dynamic string that is null", DYNAMIC, Typed(STRING, None), "92 c408 22737472696e6722 c0"),
    ("null dynamic", DYNAMIC, None, "c0"),
    ("unknown dynamic", DYNAMIC, UNKNOWN, "d4 00 00"),
    (
        "object with a dynamic attribute",
        WITH_ANY,
        {"extra": Typed(STRING, "y"), "name": "x"},
        "82 a565787472 61 92c408 22737472696e6722 a179 a46e616d65 a178",
    ),
]


@pytest.mark.parametrize(
    ("type_", "value", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_encodes_as_go_cty_does(type_: CtyType, value: Any, wire: str) -> None:
    assert msgpack_codec.encode(value, type_).hex() == _hex(wire).hex()


@pytest.mark.parametrize(
    ("type_", "value", "wire"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_decodes_what_go_cty_writes(type_: CtyType, value: Any, wire: str) -> None:
    assert msgpack_codec.decode(_hex(wire), type_) == value


# (name, type, bytes another writer may send, the value go-cty reads from them)
READ_ONLY: list[tuple[str, CtyType, str, Any]] = [
    # Terraform 1.3+ sends unknowns with refinements (extension 12); we keep none of them
    ("refined unknown: not null", STRING, "c7 03 0c 81 01 c2", UNKNOWN),
    ("refined unknown: prefix", STRING, "c7 07 0c 81 02 a4 7765622d", UNKNOWN),
    ("refined unknown: length bounds", ListType(STRING), "c7 05 0c 82 05 01 06 03", UNKNOWN),
    ("int as uint64", NUMBER, "cf ffffffffffffffff", 2**64 - 1),
    ("int as int8", NUMBER, "d0 05", 5),
    ("float32", NUMBER, "ca 3fc00000", Decimal("1.5")),
    ("integral float64", NUMBER, "cb 4014000000000000", 5),
    ("number as text", NUMBER, _str("12"), 12),
    ("number as text with exponent", NUMBER, _str("1.5e3"), 1500),
    ("infinity as text", NUMBER, _str("-Inf"), -INF),
    ("str8 string", STRING, "d9 03 616263", "abc"),
    # cty.StringVal normalises to NFC: e + combining acute accent is é
    ("string read in NFC", STRING, "a3 65cc81", "é"),
    ("set keeps one of equal strings", SetType(STRING), "93 a161 a162 a161", ["a", "b"]),
    ("set compares numbers by value", SetType(NUMBER), "92 01 cb3ff0000000000000", [1]),
    ("set keeps one null", SetType(STRING), "92 c0 c0", [None]),
    (
        "set tells apart numbers past 28 digits",
        SetType(NUMBER),
        "92" + _str(str(10**30)) + _str(str(10**30 + 1)),
        [10**30, 10**30 + 1],
    ),
    ("unknowns in a set are all kept", SetType(STRING), "92 d40000 d40000", [UNKNOWN, UNKNOWN]),
    (
        "set of objects keeps one of equal objects",
        SetType(SERVER),
        "92" + "82 a46e616d65 a178 a4706f7274 01" * 2,
        [{"name": "x", "port": 1}],
    ),
    (
        "object attribute missing on the wire is null",
        SERVER,
        "81 a46e616d65 a178",
        {"name": "x", "port": None},
    ),
    ("map keys in any order", MapType(BOOL), "82 a162 c3 a161 c2", {"b": True, "a": False}),
]


@pytest.mark.parametrize(
    ("type_", "wire", "value"), [c[1:] for c in READ_ONLY], ids=[c[0] for c in READ_ONLY]
)
def test_reads_what_go_cty_reads(type_: CtyType, wire: str, value: Any) -> None:
    assert msgpack_codec.decode(_hex(wire), type_) == value


# (name, type, bytes, reason): refused by go-cty too, or refused by us on purpose
# (docs/cty.md lists the second kind).
REFUSED: list[tuple[str, CtyType, str, str]] = [
    ("bool for a string", STRING, "c3", "expected string"),
    ("string for a bool", BOOL, _str("true"), "expected bool"),
    ("int for a bool", BOOL, "01", "expected bool"),
    ("bool for a number", NUMBER, "c3", "expected number"),
    ("text that is no number", NUMBER, _str("twelve"), "not a number"),
    ("NaN", NUMBER, "cb 7ff8000000000000", "NaN"),
    ("array for a map", MapType(STRING), "90", "expected map"),
    ("tuple too short", TupleType((STRING, STRING)), "91 a161", "tuple needs 2"),
    ("attribute the type lacks", SERVER, "81 a3616765 01", "unsupported attribute"),
    ("dynamic value not a pair", DYNAMIC, "91 c3", "dynamic value"),
    # ours: go-cty reads one value and ignores what follows
    ("trailing bytes", STRING, "a161 c0", "trailing bytes"),
    # ours: go-cty reads invalid UTF-8 into a Go string as it is
    ("invalid UTF-8", STRING, "a2 fffe", "invalid msgpack"),
    ("a UTF-8-encoded surrogate", STRING, "a3 eda080", "invalid msgpack"),
    # ours: go-cty reads binary as a string; Terraform always sends strings
    ("binary for a string", STRING, "c4 01 61", "expected string"),
    # ours: numbers past the bounds in provider/cty/decoding.py
    ("number past 1e1000", NUMBER, "a6 3165313030 31", "out of range"),
]


@pytest.mark.parametrize(
    ("type_", "wire", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refuses(type_: CtyType, wire: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        msgpack_codec.decode(_hex(wire), type_)


def test_sets_of_primitives_are_written_in_cty_order() -> None:
    """go-cty iterates a set in order (values sorted; unknowns after them, nulls
    last), so the same set always gives the same bytes."""
    assert msgpack_codec.encode(["b", None, UNKNOWN, "a"], SetType(STRING)) == _hex(
        "94 a161 a162 d40000 c0"
    )
    assert msgpack_codec.encode([True, False], SetType(BOOL)) == _hex("92 c2 c3")
    assert msgpack_codec.encode([10, Decimal("2.5"), -1], SetType(NUMBER)) == _hex(
        "93 ff cb4004000000000000 0a"
    )


def test_map_keys_are_written_in_byte_order() -> None:
    value = {"é": 1, "z": 2, "A": 3}
    assert msgpack_codec.encode(value, MapType(NUMBER)) == _hex("83 a141 03 a17a 02 a2c3a9 01")
