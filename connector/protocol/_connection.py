"""A sans-IO connection: bytes in, events out; events in, bytes out.

The caller owns the stream (stdio, a Unix socket, a test's byte string):

    conn.receive_data(chunk)
    while (event := conn.next_event()) is not NEED_DATA:
        handle(event)
    stream.write(conn.send(Message(channel, payload)))

`receive_data(b"")` marks the end of the stream; a frame cut off by it is a
RemoteProtocolError.
"""

from __future__ import annotations

from connector.protocol._events import (
    NEED_DATA,
    ChannelClosed,
    ChannelOpened,
    Event,
    Message,
    NeedData,
)
from connector.protocol._frames import (
    HEADER,
    MAX_FRAME_PAYLOAD,
    MAX_MESSAGE,
    Frame,
    Kind,
    chunk_message,
    encode_frame,
)
from connector.protocol.errors import LocalProtocolError, RemoteProtocolError


class Connection:
    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._partial: dict[int, bytearray] = {}
        # Bytes held in _partial over all channels: each channel under the cap could
        # otherwise add up to far more than it (300 channels of 256 KiB: 75 MiB).
        self._partial_bytes = 0
        self._ended = False
        self.max_message = max_message

    @property
    def ended(self) -> bool:
        """The peer closed the stream and every complete event was consumed."""
        return self._ended and not self._buffer

    def receive_data(self, data: bytes) -> None:
        if self._ended and data:
            raise LocalProtocolError("data received after the end of the stream")
        if not data:
            self._ended = True
        self._buffer += data

    def next_event(self) -> Event | NeedData:
        while True:
            if len(self._buffer) < HEADER.size:
                return self._need_data()
            channel, kind_value, length = HEADER.unpack_from(self._buffer)
            try:
                kind = Kind(kind_value)
            except ValueError:
                raise RemoteProtocolError(f"unknown frame kind {kind_value}") from None
            if length > MAX_FRAME_PAYLOAD:
                raise RemoteProtocolError(f"frame of {length} bytes exceeds {MAX_FRAME_PAYLOAD}")
            end = HEADER.size + length
            if len(self._buffer) < end:
                return self._need_data()
            payload = bytes(self._buffer[HEADER.size : end])
            del self._buffer[:end]
            event = self._on_frame(Frame(channel, kind, payload))
            if event is not None:
                return event

    def _need_data(self) -> NeedData:
        if self._ended and self._buffer:
            raise RemoteProtocolError("stream ended inside a frame")
        return NEED_DATA

    def _on_frame(self, frame: Frame) -> Event | None:
        if frame.kind is Kind.OPEN:
            return ChannelOpened(frame.channel)
        if frame.kind is Kind.CLOSE:
            self._partial_bytes -= len(self._partial.pop(frame.channel, b""))
            return ChannelClosed(frame.channel)
        partial = self._partial.setdefault(frame.channel, bytearray())
        if len(partial) + len(frame.payload) > self.max_message:
            raise RemoteProtocolError(
                f"message on channel {frame.channel} exceeds {self.max_message} bytes"
            )
        if self._partial_bytes + len(frame.payload) > self.max_message:
            raise RemoteProtocolError(
                f"unfinished messages on {len(self._partial)} channels exceed "
                f"{self.max_message} bytes"
            )
        partial += frame.payload
        self._partial_bytes += len(frame.payload)
        if frame.kind is Kind.MORE:
            return None
        del self._partial[frame.channel]
        self._partial_bytes -= len(partial)
        return Message(frame.channel, bytes(partial))

    def send(self, event: Event) -> bytes:
        if isinstance(event, Message):
            if len(event.payload) > self.max_message:
                raise LocalProtocolError(
                    f"message of {len(event.payload)} bytes exceeds {self.max_message}"
                )
            return chunk_message(event.channel, event.payload)
        if isinstance(event, ChannelOpened):
            return encode_frame(Frame(event.channel, Kind.OPEN))
        return encode_frame(Frame(event.channel, Kind.CLOSE))
