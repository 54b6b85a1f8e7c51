"""HTTPS to a host behind the bastion, carried by the SSH connection itself.

Each HTTP connection is a direct-tcpip channel of the bastion's SSH
connection, with TLS run over it in memory (urllib3's SSLTransport). Nothing
listens on this machine: a local TCP forward would let any local user reach
the Vault nodes (and call `sys/init` on a new cluster before Tarmak does).
The certificate is checked against the given CA for the host's own name, and
requests' environment (REQUESTS_CA_BUNDLE, proxies) is ignored.
"""

from __future__ import annotations

import ssl
from typing import Any

import paramiko
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError
from urllib3.util.ssltransport import SSLTransport

from connector.tarmak_side.ssh import BastionConnection, BastionError

CONNECT_TIMEOUT = 10.0


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    if ca_file is None:  # only the SSH connection authenticates the far end
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file)  # that CA alone, not the system's


class _ChannelSocket:
    """The socket calls SSLTransport makes, answered by an SSH channel; closed for real
    once the connection and every file made from it are closed, as a socket is."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self._channel = channel
        self._io_refs = 0
        self._closed = False

    def recv(self, size: int) -> bytes:
        return bytes(self._channel.recv(size))

    def sendall(self, data: bytes) -> None:
        self._channel.sendall(data)

    def settimeout(self, timeout: float | None) -> None:
        self._channel.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._channel.gettimeout()

    def fileno(self) -> int:
        return self._channel.fileno()

    def _decref_socketios(self) -> None:
        self._io_refs = max(0, self._io_refs - 1)
        if self._closed and self._io_refs == 0:
            self._channel.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs == 0:
            self._channel.close()


def _pool_class(bastion: BastionConnection, context: ssl.SSLContext) -> type[HTTPSConnectionPool]:
    verified = context.verify_mode == ssl.CERT_REQUIRED

    class ChannelConnection(HTTPSConnection):
        """An HTTPS connection whose socket is an SSH channel to (host, port)."""

        def connect(self) -> None:
            timeout = self.timeout if isinstance(self.timeout, int | float) else CONNECT_TIMEOUT
            try:
                channel = bastion.open_channel(self.host, self.port, timeout=timeout)
            except BastionError as err:
                raise NewConnectionError(self, str(err)) from None
            channel.settimeout(timeout)
            sock = _ChannelSocket(channel)
            try:
                self.sock = SSLTransport(sock, context, server_hostname=self.host)  # type: ignore[arg-type]
            except BaseException:
                sock.close()
                raise
            self.is_verified = verified
            self._has_connected_to_proxy = False

    class ChannelPool(HTTPSConnectionPool):
        ConnectionCls = ChannelConnection

    return ChannelPool


class _ChannelAdapter(HTTPAdapter):
    def __init__(self, pool_class: type[HTTPSConnectionPool]) -> None:
        self._pool_class = pool_class
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"https": self._pool_class}


def session_through(
    bastion: BastionConnection, host: str, port: int, ca_file: str | None
) -> tuple[requests.Session, str]:
    """A session whose HTTPS requests to `host:port` (as the bastion sees it) go over
    SSH channels, and the base URL to use with it. With `ca_file`, the server's
    certificate must be signed by that CA for `host`; with None it is not checked."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file or False
    adapter = _ChannelAdapter(_pool_class(bastion, _tls_context(ca_file)))
    session.mount("https://", adapter)
    name = f"[{host}]" if ":" in host else host
    return session, f"https://{name}:{port}"
