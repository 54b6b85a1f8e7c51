"""Whose fault a protocol error is: ours (local) or the peer's (remote)."""


class ProtocolError(Exception):
    pass


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol; the stream cannot continue."""
