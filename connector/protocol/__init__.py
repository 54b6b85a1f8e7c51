"""The wire protocol between the provider, tarmak-connector and the Tarmak side.

Sans-IO (after h11): no sockets, no asyncio, no stdin here. Frames carry
channels, so several provider connections share one stdio stream; messages are
JSON-RPC 2.0 with a protocol version. Drivers that move the bytes live beside
this package.
"""

from connector.methods import Method
from connector.protocol._connection import Connection
from connector.protocol._events import (
    NEED_DATA,
    ChannelClosed,
    ChannelOpened,
    Event,
    Message,
    NeedData,
)
from connector.protocol._frames import MAX_FRAME_PAYLOAD, MAX_MESSAGE
from connector.protocol.contract import (
    BastionParams,
    ClusterObservation,
    InstanceRoleParams,
    InvalidParams,
    PollResult,
    Status,
    VaultClusterParams,
    Waiting,
)
from connector.protocol.errors import (
    LocalProtocolError,
    MalformedResponse,
    ProtocolError,
    RemoteProtocolError,
)
from connector.protocol.messages import (
    PROTOCOL_VERSION,
    ErrorCode,
    Request,
    Response,
    RpcError,
    decode,
    encode,
    version_mismatch,
)

__all__ = [
    "MAX_FRAME_PAYLOAD",
    "MAX_MESSAGE",
    "NEED_DATA",
    "PROTOCOL_VERSION",
    "BastionParams",
    "ChannelClosed",
    "ChannelOpened",
    "ClusterObservation",
    "Connection",
    "ErrorCode",
    "Event",
    "InstanceRoleParams",
    "InvalidParams",
    "LocalProtocolError",
    "MalformedResponse",
    "Message",
    "Method",
    "NeedData",
    "PollResult",
    "ProtocolError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "RpcError",
    "Status",
    "VaultClusterParams",
    "Waiting",
    "decode",
    "encode",
    "version_mismatch",
]
