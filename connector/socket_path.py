"""Where the provider and tarmak-connector meet: the one home of the socket's default
path and of the environment variable that overrides it. Both ends import it, and it
imports nothing, so the provider's start does not load the connector to name it."""

DEFAULT_SOCKET = "/tmp/tarmak-connector.sock"
SOCKET_ENV = "TARMAK_CONNECTOR_SOCKET"
