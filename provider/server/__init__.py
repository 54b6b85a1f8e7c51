"""The go-plugin/gRPC side: handshake, the RPC table and its gRPC adapter for
protocols 5 and 6, conversions.

It translates wire messages to framework calls and back, and knows nothing
about what the provider's resources do. Every RPC is one row of
`rpc_table.py`; its handler lives in `schema_rpcs.py`, `provider_rpcs.py`,
`resource_rpcs.py`, `kind_rpcs.py` or `action_rpcs.py` (all but the first
imported by the first call that needs them). Entry points import
`provider.server.serve`; this package itself imports nothing, so its small
modules (the handshake, the certificate) load without grpc.
"""
