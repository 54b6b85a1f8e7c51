"""Every request gets a well-formed answer, even one that cannot be decoded.

Anyone who can reach the plugin socket can send any bytes in any field. A
field that does not decode raises `MalformedRequest` (malformed.py); the
adapter turns it, and any other failure of a handler, into the RPC's own
response carrying an error diagnostic (`refusal`), instead of a gRPC error
with a traceback. Where Terraform would keep the response's state, the
request's own state is echoed back unchanged (the RPC table says which
fields), so a refused request never makes Terraform forget an object.

grpc decodes each request before any handler runs; bytes that are not the
request message (a corrupt wire format, a string field with bad UTF-8) would
end as a gRPC INTERNAL error. `tolerant` stands an `Undecodable` in for such
a request, which the adapter refuses the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeAlias

from provider.framework.diagnostics import Diagnostics
from provider.prebuilt_dataclasses import dataclass
from provider.server import to_proto
from provider.server.backend import Wire
from provider.server.malformed import MalformedRequest

log = logging.getLogger(__name__)
# Response field <- request field, handed back unchanged when a request is refused.
Echo: TypeAlias = tuple[tuple[str, str], ...]


def refusal(
    rpc_name: str, response: Wire, pb: Wire, request: Wire | None, err: Exception, echoed: Echo
) -> Wire:
    """`response` (empty) made the answer to a request that could not be handled."""
    diags = Diagnostics()
    if isinstance(err, MalformedRequest):
        log.warning("refused a malformed %s request: %s", rpc_name, err)
        diags.add_error(err.summary, err.detail, err.path)
    else:  # a bug of ours, not of the request: keep the details in the log
        log.exception("unexpected error while handling %s", rpc_name)
        diags.add_error(
            "Internal error in the provider",
            f"{type(err).__name__} while handling {rpc_name}: {err}. This is a bug in the "
            "provider; the provider log (TF_LOG=debug) has the details.",
        )
    fields = response.DESCRIPTOR.fields_by_name
    if "diagnostics" in fields:
        response.diagnostics.extend(to_proto.diagnostics(pb, diags))
    elif "Error" in fields:  # StopProvider answers with a string
        response.Error = "; ".join(f"{d.summary}: {d.detail}" for d in diags)
    for response_field, request_field in echoed if request is not None else ():
        value = getattr(request, request_field)
        if isinstance(value, bytes):
            setattr(response, response_field, value)
        else:
            getattr(response, response_field).CopyFrom(value)
    return response


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request whose bytes did not parse."""

    reason: str

    def malformed(self, method: str) -> MalformedRequest:
        return MalformedRequest(
            "request", f"its bytes are not a {method} request message ({self.reason})"
        )


def tolerant(deserialize: Callable[[bytes], Wire]) -> Callable[[bytes], Wire]:
    """`deserialize`, giving an `Undecodable` instead of raising."""

    def parse(data: bytes) -> Wire:
        try:
            return deserialize(data)
        except Exception as err:  # the protobuf runtime's DecodeError, or worse
            return Undecodable(str(err) or type(err).__name__)

    return parse
