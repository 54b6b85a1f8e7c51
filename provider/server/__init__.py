"""The go-plugin/gRPC side: handshake, protocol 5 and 6 servicers, conversions.

It translates wire messages to framework calls and back, and knows nothing
about what the provider's resources do. Entry points import
`provider.server.serve`; this package itself imports nothing, so its small
modules (the handshake, the certificate) load without grpc.
"""
