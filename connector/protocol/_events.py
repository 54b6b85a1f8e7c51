"""What a Connection yields and sends: one event per channel action."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from connector.protocol.errors import LocalProtocolError

MAX_CHANNEL = 2**32 - 1


def _check_channel(channel: int) -> None:
    if not 0 <= channel <= MAX_CHANNEL:
        raise LocalProtocolError(f"channel {channel} out of range")


@dataclass(frozen=True)
class ChannelOpened:
    """A new provider connection (relay -> Tarmak side)."""

    channel: int

    def __post_init__(self) -> None:
        _check_channel(self.channel)


@dataclass(frozen=True)
class Message:
    """One complete message on a channel, however many frames it took."""

    channel: int
    payload: bytes

    def __post_init__(self) -> None:
        _check_channel(self.channel)


@dataclass(frozen=True)
class ChannelClosed:
    channel: int

    def __post_init__(self) -> None:
        _check_channel(self.channel)


Event = ChannelOpened | Message | ChannelClosed


class NeedData(Enum):
    """next_event() found no complete event in the bytes received so far."""

    NEED_DATA = "NEED_DATA"


NEED_DATA = NeedData.NEED_DATA
