"""Whose fault a protocol error is: ours (local) or the peer's (remote)."""


class ProtocolError(Exception):
    pass


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol; the stream cannot continue."""


class MalformedResponse(RemoteProtocolError):
    """An answer whose id is readable but whose error breaks JSON-RPC: the call it
    answers fails on its own, and the stream (whose framing is intact) goes on."""

    def __init__(self, reason: str, response_id: str) -> None:
        super().__init__(f"malformed answer: {reason}")
        self.reason = reason
        self.response_id = response_id
