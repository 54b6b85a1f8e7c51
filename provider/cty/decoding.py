"""What both wire codecs share when they read untrusted bytes: the error they
raise, with the attribute path it happened at, and the limits that keep one
request from costing the provider more than a moment.

Terraform sends these bytes, but anyone able to reach the plugin socket can
too. So numbers are bounded on their text before anything converts them
(`int(Decimal("1e9999999"))` would hold the GIL for minutes), nesting is
bounded before a recursive parser sees it, and every failure is a
`DecodeError` that the server turns into a diagnostic.

Numbers follow cty: a cty number is an arbitrary-precision float that can be
positive or negative infinity but never NaN. In text, cty (Go's big.Float)
accepts `Inf` and `inf` with an optional sign, and rejects `NaN` and `Infinity`.

Strings follow cty too: a cty string is valid Unicode in NFC (cty.StringVal
normalises). Go's JSON decoder reads a lone surrogate escape ("\\ud800") and
each byte of invalid UTF-8 as U+FFFD, so `cty_string` and the "cty-replace"
error handler do the same; a Python str holding a surrogate would otherwise
reach the msgpack encoder and fail there, far from its cause.

Limits kept on purpose, where cty would accept: see docs/cty.md.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Literal

# A step of the path at which decoding failed: an attribute name, or a map key
# or list/set/tuple index. The server turns these into Terraform attribute paths.
PathStep = tuple[Literal["name", "key"], str | int]

# Nesting of lists, maps, objects and dynamic types. Our schemas nest a few
# levels; Terraform values written by people rarely pass ten.
MAX_DEPTH = 64
# A number's text, its significant digits and its decimal magnitude. Far beyond
# any real attribute (cty itself keeps 512 bits, about 154 digits), small enough
# that every conversion and re-encoding of an accepted number takes microseconds.
MAX_NUMBER_TEXT = 4096
MAX_SIGNIFICANT_DIGITS = 1000
MAX_MAGNITUDE = 1000

_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?(\d+))?")
_INFINITY_TEXT = re.compile(r"([+-]?)[Ii]nf")


_SURROGATE = re.compile("[\ud800-\udfff]")
# How Go decodes invalid UTF-8 in JSON strings: one U+FFFD per invalid byte.
UTF8_ERRORS = "cty-replace"


def _replace_per_byte(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error(UTF8_ERRORS, _replace_per_byte)


def valid_text(text: str) -> str:
    """`text` with every surrogate code point (never valid alone) as U+FFFD."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def cty_string(text: str) -> str:
    """A string as cty holds it: valid Unicode, in normalisation form C."""
    if text.isascii():
        return text
    text = _SURROGATE.sub("\ufffd", text)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


class DecodeError(ValueError):
    """The bytes do not hold a value of the expected type (or exceed a limit)."""

    def __init__(self, message: str, path: tuple[PathStep, ...] = ()) -> None:
        super().__init__(f"{render_path(path)}: {message}" if path else message)
        self.reason = message
        self.path = path


def render_path(path: tuple[PathStep, ...]) -> str:
    out = ""
    for kind, step in path:
        if kind == "name":
            out += f".{step}" if out else str(step)
        else:
            out += f"[{step!r}]"
    return out


def parse_number(text: str, path: tuple[PathStep, ...] = ()) -> int | Decimal:
    """A number from its text, as cty reads it, refusing absurd sizes first."""
    if len(text) > MAX_NUMBER_TEXT:
        raise DecodeError(
            f"number is {len(text)} characters long (at most {MAX_NUMBER_TEXT})", path
        )
    if infinity := _INFINITY_TEXT.fullmatch(text):
        return Decimal(f"{infinity.group(1)}Infinity")
    match = _NUMBER_TEXT.fullmatch(text)
    if match is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise DecodeError(f"{shown!r} is not a number", path)
    if match.group(1) and len(match.group(1).lstrip("0")) > 6:
        raise DecodeError(
            f"number {text[:40]!r} is out of range (magnitude at most 1e{MAX_MAGNITUDE})", path
        )
    try:
        number = Decimal(text)  # linear in the (bounded) text; the exponent has <= 6 digits
    except InvalidOperation:
        raise DecodeError(f"{text[:40]!r} is not a number", path) from None
    return checked_number(number, path)


def checked_number(number: Decimal, path: tuple[PathStep, ...] = ()) -> int | Decimal:
    """Bound a finite Decimal's size, then give integral values as int."""
    if number.is_nan():
        raise DecodeError("NaN is not a number in Terraform", path)
    if number.is_infinite():
        return number
    if number.is_zero():
        return 0
    significant = len("".join(map(str, number.as_tuple().digits)).rstrip("0"))
    if significant > MAX_SIGNIFICANT_DIGITS:
        raise DecodeError(
            f"number has {significant} significant digits (at most {MAX_SIGNIFICANT_DIGITS})", path
        )
    if abs(number.adjusted()) > MAX_MAGNITUDE:
        raise DecodeError(
            f"number {number:.3e} is out of range (magnitude at most 1e{MAX_MAGNITUDE})", path
        )
    return int(number) if number == number.to_integral_value() else number


# JSON's tokens that matter to its nesting: (1) an opening bracket, (2) a closing
# one, a whole string (the brackets in it do not count), or (3) the quote of a
# string that never closes. After (3), only brackets are looked for.
_JSON_TOKEN = re.compile(rb'([\[{])|([\]}])|"[^"\\]*(?:\\.[^"\\]*)*"|(")', re.DOTALL)
_JSON_BRACKET = re.compile(rb"([\[{])|([\]}])")


def check_json_depth(data: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` before a recursive parser sees it.

    One left-to-right pass, whatever the input. A string that never closes
    swallows every later quote (each is escaped within it), so looking for a
    string at each of them in turn would take time quadratic in its length:
    the brackets after it are counted instead (the parser refuses such JSON)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return  # cannot be deeper: the usual case costs two scans in C
    depth, unclosed = _nesting(_JSON_TOKEN.finditer(data), 0, limit)
    if unclosed is not None:
        _nesting(_JSON_BRACKET.finditer(data, unclosed), depth, limit)


def _nesting(tokens: Iterator[re.Match[bytes]], depth: int, limit: int) -> tuple[int, int | None]:
    """The depth after `tokens`, and where a string that never closes begins (if one does)."""
    for token in tokens:
        kind = token.lastindex
        if kind == 1:
            depth += 1
            if depth > limit:
                raise DecodeError(f"JSON nested more than {limit} levels deep")
        elif kind == 2:
            depth -= 1
        elif kind == 3:
            return depth, token.end()
    return depth, None
