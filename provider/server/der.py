"""The few ASN.1 DER encodings an X.509 certificate needs (ITU-T X.690)."""

from __future__ import annotations


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    """A non-negative INTEGER: minimal big-endian, with a 00 byte when the top bit is set."""
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def boolean(value: bool) -> bytes:
    return _tlv(0x01, b"\xff" if value else b"\x00")


def octet_string(content: bytes) -> bytes:
    return _tlv(0x04, content)


def bit_string(content: bytes, unused_bits: int = 0) -> bytes:
    return _tlv(0x03, bytes((unused_bits,)) + content)


def utf8_string(text: str) -> bytes:
    return _tlv(0x0C, text.encode())


def utc_time(stamp: str) -> bytes:
    """UTCTime from its text, YYMMDDHHMMSSZ."""
    return _tlv(0x17, stamp.encode())


def generalized_time(stamp: str) -> bytes:
    """GeneralizedTime from its text, YYYYMMDDHHMMSSZ."""
    return _tlv(0x18, stamp.encode())


def oid(dotted: str) -> bytes:
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    body = bytearray((40 * first + second,))
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc := arc >> 7:
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def explicit(number: int, content: bytes) -> bytes:
    """A constructed context-specific tag [number] wrapping `content`."""
    return _tlv(0xA0 | number, content)


def implicit_primitive(number: int, content: bytes) -> bytes:
    """A primitive context-specific tag [number] (e.g. a GeneralName dNSName)."""
    return _tlv(0x80 | number, content)
