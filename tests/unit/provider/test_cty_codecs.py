"""Round trips of every cty type through the msgpack and JSON codecs."""

from __future__ import annotations

import string
import time
import unicodedata
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

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
    json_codec,
    msgpack_codec,
    type_from_json,
    values_equal,
)
from provider.cty.decoding import MAX_DEPTH, MAX_MAGNITUDE
from provider.cty.msgpack_codec import DecodeError
from provider.cty.values import cty_order, distinct
from tests.unit.provider.forked import in_forked_child

names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=6)

primitive_types = st.sampled_from([STRING, NUMBER, BOOL])
types: st.SearchStrategy[CtyType] = st.recursive(
    primitive_types,
    lambda inner: st.one_of(
        inner.map(ListType),
        inner.map(SetType),
        inner.map(MapType),
        st.dictionaries(names, inner, max_size=4).map(ObjectType.of),
        st.lists(inner, max_size=3).map(lambda ts: TupleType(tuple(ts))),
    ),
    max_leaves=6,
)

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: d != d.to_integral_value() and abs(d.adjusted()) <= MAX_MAGNITUDE
    ),
)


def values_of(type_: CtyType, allow_unknown: bool) -> st.SearchStrategy[Any]:
    leaf: st.SearchStrategy[Any]
    if type_ == STRING:
        # strings as cty holds them: valid Unicode (no surrogates) in NFC
        leaf = st.text(st.characters(exclude_categories=["Cs"]), max_size=8).map(
            lambda s: unicodedata.normalize("NFC", s)
        )
    elif type_ == NUMBER:
        leaf = numbers
    elif type_ == BOOL:
        leaf = st.booleans()
    elif isinstance(type_, ListType):
        leaf = st.lists(values_of(type_.element, allow_unknown), max_size=3)
    elif isinstance(type_, SetType):  # a set holds each value once, in cty's order
        element = type_.element
        leaf = st.lists(values_of(element, allow_unknown), max_size=3).map(
            lambda xs: cty_order(distinct(xs), element)
        )
    elif isinstance(type_, MapType):
        leaf = st.dictionaries(names, values_of(type_.element, allow_unknown), max_size=3)
    elif isinstance(type_, ObjectType):
        leaf = st.fixed_dictionaries({k: values_of(t, allow_unknown) for k, t in type_.attributes})
    elif isinstance(type_, TupleType):
        leaf = st.tuples(*(values_of(t, allow_unknown) for t in type_.elements)).map(list)
    else:
        raise AssertionError(type_)
    extras = [st.none()] + ([st.just(UNKNOWN)] if allow_unknown else [])
    return st.one_of(leaf, *extras)


@st.composite
def typed_values(draw: st.DrawFn, allow_unknown: bool) -> tuple[CtyType, Any]:
    type_ = draw(types)
    return type_, draw(values_of(type_, allow_unknown))


def normalise(value: Any) -> Any:
    """Integral decimals decode as ints: compare numbers by value."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


@given(typed_values(allow_unknown=True))
def test_msgpack_round_trip(case: tuple[CtyType, Any]) -> None:
    type_, value = case
    decoded = msgpack_codec.decode(msgpack_codec.encode(value, type_), type_)
    assert normalise(decoded) == normalise(value)


@given(typed_values(allow_unknown=False))
def test_json_round_trip(case: tuple[CtyType, Any]) -> None:
    type_, value = case
    decoded = json_codec.decode(json_codec.encode(value, type_), type_)
    assert normalise(decoded) == normalise(value)


@given(types)
def test_type_json_round_trip(type_: CtyType) -> None:
    assert type_from_json(type_.json_bytes()) == type_


def test_numbers_keep_full_precision() -> None:
    big = Decimal("3.14159265358979323846264338327950288419716939937510")
    wire = msgpack_codec.encode(big, NUMBER)
    assert msgpack.unpackb(wire) == str(big), "beyond float64 numbers travel as strings"
    assert msgpack_codec.decode(wire, NUMBER) == big
    assert msgpack_codec.decode(msgpack_codec.encode(2**80, NUMBER), NUMBER) == 2**80
    assert msgpack.unpackb(msgpack_codec.encode(Decimal("0.5"), NUMBER)) == 0.5


def test_unknown_is_extension_zero_and_refined_unknown_decodes() -> None:
    assert msgpack_codec.encode(UNKNOWN, STRING) == b"\xd4\x00\x00"
    # Terraform >= 1.3 may send refinements as extension type 12
    refined = msgpack.packb(msgpack.ExtType(12, b"\x81\x01\xc3"))
    assert msgpack_codec.decode(refined, STRING) is UNKNOWN


def test_dynamic_values_carry_their_type() -> None:
    value = Typed(ListType(STRING), ["a", "b"])
    wire = msgpack_codec.encode(value, DYNAMIC)
    assert msgpack.unpackb(wire) == [b'["list","string"]', ["a", "b"]]
    assert msgpack_codec.decode(wire, DYNAMIC) == value
    assert json_codec.decode(json_codec.encode(value, DYNAMIC), DYNAMIC) == value


def test_object_attributes_missing_on_the_wire_are_null() -> None:
    type_ = ObjectType.of({"a": STRING, "b": NUMBER})
    assert msgpack_codec.decode(msgpack.packb({"a": "x"}), type_) == {"a": "x", "b": None}


@pytest.mark.parametrize(
    ("wire", "type_", "message"),
    [
        (msgpack.packb(1), STRING, "expected string"),
        (msgpack.packb({"a": True}), ObjectType.of({"a": NUMBER}), "a: expected number, got bool"),
        (b"\xc1", STRING, "invalid msgpack"),
    ],
)
def test_decode_errors_say_where(wire: bytes, type_: CtyType, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        msgpack_codec.decode(wire, type_)


def test_set_equality_ignores_order() -> None:
    type_ = SetType(ObjectType.of({"n": NUMBER}))
    assert values_equal([{"n": 1}, {"n": 2}], [{"n": 2}, {"n": Decimal("1.0")}], type_)
    assert not values_equal([{"n": 1}], [{"n": 2}], type_)


# ---- hostile bytes (issue 12): refused with a path, quickly, following cty's rules ----

HOSTNAME_LIKE = ObjectType.of({"name": STRING, "number": NUMBER, "tags": MapType(STRING)})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Inf", Decimal("Infinity")),
        ("-inf", Decimal("-Infinity")),
        ("+Inf", Decimal("Infinity")),
        ("1e1000", 10**1000),
        ("0.5", Decimal("0.5")),
        ("-0", 0),
    ],
)
def test_numbers_cty_accepts(text: str, expected: Any) -> None:
    assert msgpack_codec.decode(msgpack.packb(text), NUMBER) == expected
    assert json_codec.decode(f'"{text}"', NUMBER) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e9999999", "out of range"),
        ("1e-9999999", "out of range"),
        ("1e1001", "out of range"),
        ("1" + "0" * 1001, "out of range"),
        ("1." + "1" * 1001, "significant digits"),
        ("9" * 5000, "characters long"),
        ("1e" + "9" * 40, "out of range"),
        ("NaN", "not a number"),
        ("sNaN", "not a number"),
        ("Infinity", "not a number"),
        ("0x10", "not a number"),
        ("1_000", "not a number"),
        ("", "not a number"),
    ],
)
def test_numbers_cty_refuses_or_too_big_are_refused_at_their_path(text: str, reason: str) -> None:
    wire = msgpack.packb({"name": "x", "number": text, "tags": None})
    with pytest.raises(DecodeError, match=reason) as err:
        msgpack_codec.decode(wire, HOSTNAME_LIKE)
    assert err.value.path == (("name", "number"),)


def test_float_nan_is_refused_and_infinity_kept() -> None:
    with pytest.raises(DecodeError, match="NaN"):
        msgpack_codec.decode(msgpack.packb(float("nan")), NUMBER)
    assert msgpack_codec.decode(msgpack.packb(float("-inf")), NUMBER) == Decimal("-Infinity")
    wire = msgpack_codec.encode(Decimal("Infinity"), NUMBER)
    assert msgpack.unpackb(wire) == float("inf"), "infinity travels as float64, as in cty"


@pytest.mark.parametrize(
    "data",
    [b'{"number": NaN}', b'{"number": Infinity}', b'{"number": -Infinity}', b'{"number": 1e99999}'],
)
def test_json_number_literals_cty_refuses(data: bytes) -> None:
    with pytest.raises(DecodeError):
        json_codec.decode(data, HOSTNAME_LIKE)


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"\x85\xa3", "invalid msgpack"),  # a truncated map
        (b"~", "expected map, got int"),
        (b"\x81\x81\xa1a\xa1b\xa1c", "invalid msgpack"),  # a map as a map key
        (msgpack.packb({1: "x"}), "invalid msgpack"),
        (msgpack.packb({"tags": {"k": 1}}), "expected string"),
        (msgpack.packb({"other": 1}), "unsupported attribute"),
        (msgpack.packb({"name": "x"}) + b"\x00", "trailing bytes"),
        (b"\x91" * 5000, "nested too deeply"),
        (b"\x81\xa4name\xa2\xff\xfe", "invalid msgpack"),  # invalid UTF-8
    ],
)
def test_malformed_msgpack_is_a_decode_error(wire: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        msgpack_codec.decode(wire, HOSTNAME_LIKE)


def test_map_errors_name_the_key() -> None:
    with pytest.raises(DecodeError) as err:
        msgpack_codec.decode(msgpack.packb({"tags": {"k": 1}}), HOSTNAME_LIKE)
    assert err.value.path == (("name", "tags"), ("key", "k"))


@pytest.mark.parametrize("opener", [b"[", b'{"a":', b"[" * 10 + b'"]' * 3])
def test_json_nesting_is_bounded_before_parsing(opener: bytes) -> None:
    with pytest.raises(DecodeError, match="nested more than"):
        json_codec.decode(opener * 100_000, HOSTNAME_LIKE)
    # nesting within the bound still parses (and then fails on its type)
    with pytest.raises(DecodeError, match="expected an object"):
        json_codec.decode(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, HOSTNAME_LIKE)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"name": "' + "[" * 1000 + '"}'
    assert json_codec.decode(text, HOSTNAME_LIKE)["name"] == "[" * 1000


def _time_nesting_checks() -> list[tuple[float, str]]:
    """How long refusing a string that never closes takes, at about 250 kB and 1 MB.

    Each quote after it is escaped: a scan that looked for a string at every
    quote again would take time quadratic in its length (an hour at 1 MB)."""
    timings = []
    for size in (125_000, 500_000):
        data = b'"' + b'\\"' * size + b"[" * 65
        started = time.perf_counter()
        with pytest.raises(DecodeError, match="nested more than") as err:
            json_codec.loads(data)
        timings.append((time.perf_counter() - started, str(err.value)))
    return timings


def test_json_nesting_check_is_linear_in_strings_that_never_close() -> None:
    (small, _), (large, message) = in_forked_child(_time_nesting_checks, timeout=20)
    assert message == f"JSON nested more than {MAX_DEPTH} levels deep"
    assert large < 2.0, f"1 MB took {large:.2f} s"
    assert large < 10 * small + 0.05, "4 times the input took more than 10 times as long"


@pytest.mark.parametrize(
    "type_json",
    [b"[" * 200, b'"nothing"', b"[1]", b'["object", [1]]', b'["object", {}, 1]', b"\xff", b"{}"],
)
def test_dynamic_values_with_bad_types_are_decode_errors(type_json: bytes) -> None:
    with pytest.raises(DecodeError, match="dynamic value"):
        msgpack_codec.decode(msgpack.packb([type_json, None]), DYNAMIC)


def test_deep_dynamic_types_are_refused() -> None:
    deep = b'["list",' * 40 + b'"string"' + b"]" * 40
    with pytest.raises(DecodeError, match="nested"):
        msgpack_codec.decode(msgpack.packb([deep, None]), DYNAMIC)


def _dynamic_in_dynamic(levels: int) -> Any:
    """A string inside `levels` dynamic values, as plain msgpack data."""
    wire: Any = ['"string"', "x"]
    for _ in range(levels - 1):
        wire = ['"dynamic"', wire]
    return wire


def test_dynamic_values_count_towards_the_nesting_limit() -> None:
    # Each dynamic value is a level of msgpack arrays, as a list would be.
    within = msgpack_codec.decode(msgpack.packb(_dynamic_in_dynamic(MAX_DEPTH)), DYNAMIC)
    assert msgpack_codec.decode(msgpack_codec.encode(within, DYNAMIC), DYNAMIC) == within
    for levels in (MAX_DEPTH + 1, 900):
        with pytest.raises(DecodeError, match=f"nested more than {MAX_DEPTH} levels"):
            msgpack_codec.decode(msgpack.packb(_dynamic_in_dynamic(levels)), DYNAMIC)


def test_dynamic_values_from_plain_count_towards_the_nesting_limit() -> None:
    plain: Any = "x"
    for type_json in ['"string"'] + ['"dynamic"'] * 899:
        plain = {"value": plain, "type": json_codec.loads(type_json)}
    with pytest.raises(DecodeError, match=f"nested more than {MAX_DEPTH} levels"):
        json_codec.from_plain(plain, DYNAMIC)


# Any msgpack data, well-formed for a type or not: the per-type converters
# (msgpack_plans) must decode it exactly as the careful walk does.
wire_data = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(),
        st.text(max_size=4),
        st.binary(max_size=2),
        st.just(msgpack.ExtType(0, b"\x00")),
        st.sampled_from(["12.5", "e\u0301", '"string"']),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(names, st.integers(0, 2)), inner, max_size=3),
    ),
    max_leaves=8,
)


def _outcome(decode: Any) -> Any:
    try:
        return ("value", repr(decode()))
    except DecodeError as err:
        return ("error", str(err), err.path)


@given(types, wire_data)
@example(STRING, "e\u0301")  # cty's NFC
@example(NUMBER, 1.5)
@example(NUMBER, "12.5")
@example(ListType(NUMBER), [True, 2])
@example(MapType(STRING), {"x": b"b"})
@example(ObjectType.of({"a": STRING}), {"a": 1})
@example(ObjectType.of({"a": STRING}), {"b": "x"})
@example(TupleType((STRING,)), ["a", "b"])
@example(SetType(NUMBER), [1, 1, msgpack.ExtType(0, b"\x00")])
def test_msgpack_converters_decode_as_the_careful_walk(type_: CtyType, raw: Any) -> None:
    data = msgpack.packb(raw, use_bin_type=True, strict_types=False)
    try:
        plain = msgpack.unpackb(data, raw=False, ext_hook=msgpack_codec._ext_hook)
    except ValueError:
        return  # refused before any walk (e.g. a map with int keys)
    careful = _outcome(lambda: msgpack_codec._from_wire(plain, type_, ()))
    assert _outcome(lambda: msgpack_codec.decode(data, type_)) == careful
