"""Frame layout: a 9-byte header, then the payload.

    channel  u32 big-endian   which provider connection (0 on the Unix socket)
    kind     u8               OPEN, MORE (a chunk, more follow), LAST (final chunk), CLOSE
    length   u32 big-endian   payload bytes, at most MAX_FRAME_PAYLOAD

Messages of any size travel as MORE* LAST; a reassembled message, and all the
unfinished ones of a connection together, are capped at MAX_MESSAGE so a broken
or hostile peer cannot make us buffer without bound.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct(">IBI")
MAX_FRAME_PAYLOAD = 256 * 1024
MAX_MESSAGE = 64 * 1024 * 1024


class Kind(IntEnum):
    OPEN = 1
    MORE = 2
    LAST = 3
    CLOSE = 4


@dataclass(frozen=True)
class Frame:
    channel: int
    kind: Kind
    payload: bytes = b""


def encode_frame(frame: Frame) -> bytes:
    return HEADER.pack(frame.channel, frame.kind, len(frame.payload)) + frame.payload


def chunk_message(channel: int, payload: bytes) -> bytes:
    """Encode one message as MORE* LAST frames."""
    if not payload:
        return encode_frame(Frame(channel, Kind.LAST))
    parts = []
    for start in range(0, len(payload), MAX_FRAME_PAYLOAD):
        piece = payload[start : start + MAX_FRAME_PAYLOAD]
        last = start + MAX_FRAME_PAYLOAD >= len(payload)
        parts.append(encode_frame(Frame(channel, Kind.LAST if last else Kind.MORE, piece)))
    return b"".join(parts)
