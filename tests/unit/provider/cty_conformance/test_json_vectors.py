"""JSON: the text go-cty writes for each kind of value, and what its Unmarshal
reads, conversions included. Stored state reaches UpgradeResourceState as JSON
written by whichever provider version last saved it, so an attribute whose type
changed without a schema version bump arrives in its old type: cty converts
string<->bool and number->string there, and so must we.

JSON is decoded two ways in the provider: `decode` (a DynamicValue's json), and
`loads` then `from_plain` (the runner's UpgradeResourceState, which may let a
resource rewrite the plain value in between). Every read case runs through both.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from provider.cty import (
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
    Typed,
    json_codec,
)
from provider.cty.decoding import DecodeError

SERVER = ObjectType.of({"name": STRING, "port": NUMBER})

Reader = Callable[[bytes, CtyType], Any]


def _via_loads(data: bytes, type_: CtyType) -> Any:
    return json_codec.from_plain(json_codec.loads(data), type_)


READERS = pytest.mark.parametrize("read", [json_codec.decode, _via_loads], ids=["decode", "loads"])

# (name, type, value, text go-cty writes). Each reads back to the value.
BOTH_WAYS: list[tuple[str, CtyType, Any, str]] = [
    ("string", STRING, "vault", '"vault"'),
    ("null", STRING, None, "null"),
    ("escapes", STRING, 'a"b\\c\n', '"a\\"b\\\\c\\n"'),
    # Go's json.Marshal: UTF-8 as it is, HTML-sensitive characters escaped
    ("non-ASCII as UTF-8", STRING, "café ✓", '"café ✓"'),
    ("HTML-sensitive characters", STRING, "<a&b>", '"\\u003ca\\u0026b\\u003e"'),
    ("line separator", STRING, "a\u2028b", '"a\\u2028b"'),
    ("control characters", STRING, "\x01\t", '"\\u0001\\t"'),
    ("map key escaped too", MapType(NUMBER), {"<k>": 1}, '{"\\u003ck\\u003e":1}'),
    ("int", NUMBER, 42, "42"),
    ("negative fraction", NUMBER, Decimal("-2.5"), "-2.5"),
    ("number past float64", NUMBER, 10**30 + 1, "1000000000000000000000000000001"),
    ("true", BOOL, True, "true"),
    ("list", ListType(BOOL), [True, False], "[true,false]"),
    ("empty list", ListType(BOOL), [], "[]"),
    ("set of bools, false first", SetType(BOOL), [False, True], "[false,true]"),
    ("map, keys sorted", MapType(BOOL), {"no": False, "yes": True}, '{"no":false,"yes":true}'),
    ("object", SERVER, {"name": "db", "port": 5432}, '{"name":"db","port":5432}'),
    ("tuple", TupleType((BOOL, NUMBER)), [True, 5], "[true,5]"),
    ("dynamic", DYNAMIC, Typed(NUMBER, 9), '{"value":9,"type":"number"}'),
    (
        "dynamic list",
        DYNAMIC,
        Typed(ListType(STRING), ["x"]),
        '{"value":["x"],"type":["list","string"]}',
    ),
    (
        "list of dynamic",
        ListType(DYNAMIC),
        [Typed(BOOL, True)],
        '[{"value":true,"type":"bool"}]',
    ),
]


@pytest.mark.parametrize(
    ("type_", "value", "text"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_encodes_as_go_cty_does(type_: CtyType, value: Any, text: str) -> None:
    assert json_codec.encode(value, type_).decode() == text


@READERS
@pytest.mark.parametrize(
    ("type_", "value", "text"), [c[1:] for c in BOTH_WAYS], ids=[c[0] for c in BOTH_WAYS]
)
def test_decodes_what_go_cty_writes(read: Reader, type_: CtyType, value: Any, text: str) -> None:
    assert read(text.encode(), type_) == value


# (name, type, JSON, the value go-cty's Unmarshal reads from it)
READ_ONLY: list[tuple[str, CtyType, bytes, Any]] = [
    # a bool attribute takes exactly these four strings
    ("bool from 'true'", BOOL, b'"true"', True),
    ("bool from '1'", BOOL, b'"1"', True),
    ("bool from 'false'", BOOL, b'"false"', False),
    ("bool from '0'", BOOL, b'"0"', False),
    # a number attribute takes a string holding a number
    ("number from a string", NUMBER, b'"15"', 15),
    ("number from a string fraction", NUMBER, b'"0.25"', Decimal("0.25")),
    ("number from a string exponent", NUMBER, b'"2e3"', 2000),
    ("number from 'Inf'", NUMBER, b'"-Inf"', Decimal("-Infinity")),
    # a string attribute takes a number as it is written, and a bool
    ("string from an int", STRING, b"15", "15"),
    ("string from a fraction keeps its text", STRING, b"1.50", "1.50"),
    ("string from an exponent keeps its text", STRING, b"1e3", "1e3"),
    ("string from a number too big for a number", STRING, b"1e99999", "1e99999"),
    ("string from true", STRING, b"true", "true"),
    ("string from false", STRING, b"false", "false"),
    # strings become valid Unicode, as Go's JSON decoder reads them
    ("lone high surrogate", STRING, b'"\\ud800"', "\ufffd"),
    ("lone low surrogate inside text", STRING, b'"a\\uDC00b"', "a\ufffdb"),
    ("reversed pair", STRING, b'"\\udc00\\ud800"', "\ufffd\ufffd"),
    ("surrogate pair", STRING, b'"\\ud83d\\ude00"', "\U0001f600"),
    ("invalid UTF-8 byte", STRING, b'"a\xffb"', "a\ufffdb"),
    ("truncated UTF-8 sequence", STRING, b'"\xe2\x82"', "\ufffd\ufffd"),
    ("UTF-8-encoded surrogate", STRING, b'"\xed\xa0\x80"', "\ufffd\ufffd\ufffd"),
    ("string in NFC", STRING, b'"e\\u0301"', "\u00e9"),
    ("map key with a lone surrogate", MapType(STRING), b'{"\\ud800":"v"}', {"\ufffd": "v"}),
    (
        "surrogate deep inside",
        ListType(MapType(STRING)),
        b'[{"k":"\\udfff"}]',
        [{"k": "\ufffd"}],
    ),
    # sets keep one of each equal element
    ("set of equal strings", SetType(STRING), b'["a","b","a"]', ["a", "b"]),
    ("set of equal numbers", SetType(NUMBER), b"[1,1.0,2]", [1, 2]),
    ("set of equal converted bools", SetType(BOOL), b'[true,"1","true"]', [True]),
    ("set of nulls", SetType(STRING), b"[null,null]", [None]),
    (
        "set of equal objects",
        SetType(SERVER),
        b'[{"name":"a","port":1},{"port":1.0,"name":"a"}]',
        [{"name": "a", "port": 1}],
    ),
    # objects and dynamic values
    ("missing attribute is null", SERVER, b'{"name":"a"}', {"name": "a", "port": None}),
    ("attribute converted", SERVER, b'{"name":7,"port":"8"}', {"name": "7", "port": 8}),
    ("dynamic with its type first", DYNAMIC, b'{"type":"string","value":"x"}', Typed(STRING, "x")),
    ("whitespace around values", ListType(NUMBER), b" [ 1 ,\n2 ] ", [1, 2]),
]


@READERS
@pytest.mark.parametrize(
    ("type_", "data", "value"), [c[1:] for c in READ_ONLY], ids=[c[0] for c in READ_ONLY]
)
def test_reads_what_go_cty_reads(read: Reader, type_: CtyType, data: bytes, value: Any) -> None:
    got = read(data, type_)
    assert got == value
    assert repr(got) == repr(value), "the same Python types, not just equal values"


# (name, type, JSON, reason): refused by go-cty too, or refused by us on purpose
# (docs/cty.md lists the second kind).
REFUSED: list[tuple[str, CtyType, bytes, str]] = [
    ("capitalised 'True' for a bool", BOOL, b'"True"', 'use lowercase "true"'),
    ("'FALSE' for a bool", BOOL, b'"FALSE"', 'use lowercase "false"'),
    ("'yes' for a bool", BOOL, b'"yes"', "expected bool"),
    ("number for a bool", BOOL, b"1", "expected bool, got number"),
    ("bool for a number", NUMBER, b"true", "expected number, got bool"),
    ("text for a number", NUMBER, b'"twelve"', "not a number"),
    ("'Infinity' for a number", NUMBER, b'"Infinity"', "not a number"),
    ("object for a string", STRING, b"{}", "expected string, got object"),
    ("array for a string", STRING, b"[]", "expected string, got array"),
    ("NaN literal", NUMBER, b"NaN", "NaN is not a number"),
    ("attribute the type lacks", SERVER, b'{"age":1}', "unsupported attribute"),
    ("tuple too long", TupleType((BOOL,)), b"[true,false]", "tuple of 1"),
    ("dynamic without its type", DYNAMIC, b'{"value":1}', "dynamic value"),
    ("not JSON", STRING, b'"open', "invalid JSON"),
    ("two values", STRING, b'"a" "b"', "invalid JSON"),
    # ours: numbers past the bounds in provider/cty/decoding.py
    ("number past 1e1000", NUMBER, b"1e1001", "out of range"),
]


@READERS
@pytest.mark.parametrize(
    ("type_", "data", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refuses(read: Reader, type_: CtyType, data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        read(data, type_)


@READERS
def test_refusals_name_the_attribute(read: Reader) -> None:
    with pytest.raises(DecodeError) as err:
        read(b'{"name":"a","port":"many"}', SERVER)
    assert err.value.path == (("name", "port"),)


def test_decoded_strings_can_always_be_encoded() -> None:
    """The crash this suite began with: a state holding a lone surrogate reached
    the msgpack encoder as a Python str it cannot encode."""
    from provider.cty import msgpack_codec

    value = json_codec.decode(b'{"name":"\\ud800x","port":null}', SERVER)
    assert msgpack_codec.decode(msgpack_codec.encode(value, SERVER), SERVER) == {
        "name": "\ufffdx",
        "port": None,
    }
