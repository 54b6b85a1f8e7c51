"""The go-plugin/gRPC side: handshake, protocol 5 and 6 servicers, conversions.

It translates wire messages to framework calls and back, and knows nothing
about what the provider's resources do.
"""

from provider.server.serve import serve

__all__ = ["serve"]
