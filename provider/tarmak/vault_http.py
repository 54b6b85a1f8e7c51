"""One Vault node over kept-alive HTTP(S) connections, on the standard library's
http.client.

The allocation path sends a few hundred small requests per `terraform apply`.
Through hvac (requests, urllib3) each cost about 1.2 ms of the provider's CPU
and importing them about 80 ms; through http.client 0.26 ms and 9 ms, and
urllib3 alone sits between (0.41 ms, 40 ms): docs/benchmarks.md has the
figures. What this keeps of what hvac and requests did: the token and
namespace headers (and hvac's X-Vault-Request), the CA (vault_ca_cert, else
REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else certifi's bundle: the trust requests
chose), the timeout, proxies named by the environment, and connections shared
by concurrent callers. It never follows a redirect: KV2 does, after checking
where it leads, so the token goes only where it was meant to go.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import select
import ssl
import threading
import urllib.parse
from typing import Any

from provider.prebuilt_dataclasses import dataclass
from provider.tarmak.forking import start_over_in_forked_children
from provider.tarmak.settings import VaultSettings

# Idle connections kept per node: Terraform runs 10 operations at once by default.
MAX_IDLE = 16
# What a kept-alive connection that the server closed meanwhile raises when reused.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
# Only these are sent again on a fresh connection after a stale one failed: a write
# may have been done, and sending it again would burn a number (CAS would refuse it).
_IDEMPOTENT = frozenset({"GET", "LIST", "HEAD"})


class Unreachable(Exception):
    """No answer from the node: refused, timed out, or the connection broke."""


class TLSFailure(Unreachable):
    """The node's certificate was not signed by the CA we trust (or names another host)."""


class Unsendable(Exception):
    """http.client refused the request itself: a header value (the token, the
    namespace) holds characters HTTP cannot carry. Its own message quotes the
    value, so this one names the headers instead."""


@dataclass(frozen=True)
class Reply:
    """One answer: its status, its JSON body (None when empty or not JSON), the
    text of a body that was not JSON, and where a redirect points."""

    status: int
    body: Any
    text: str = ""
    location: str | None = None

    def errors(self) -> str:
        """Vault's `errors` list joined, as hvac put them in its exceptions."""
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        if isinstance(errors, list) and errors:
            return ", ".join(str(e) for e in errors)
        return self.text.strip()[:200] or f"HTTP {self.status}"


@dataclass(frozen=True)
class _Route:
    """How to reach a node: directly, or through a proxy (CONNECT for https)."""

    host: str
    port: int
    proxy: urllib.parse.SplitResult | None


class NodeClient:
    """Requests to one node (at `url`) with the settings' token and namespace."""

    def __init__(
        self, settings: VaultSettings, url: str, connect_timeout: float | None = None
    ) -> None:
        self._parts = urllib.parse.urlsplit(url)
        self._connect_timeout = settings.timeout if connect_timeout is None else connect_timeout
        # A path in the address (Vault behind a reverse proxy) prefixes every request.
        self._prefix = self._parts.path.rstrip("/")
        self.url = f"{self._parts.scheme}://{self._parts.netloc}{self._prefix}"
        self.settings = settings
        self._tls = self._parts.scheme == "https"
        self._route: _Route | None = None  # found on first use: errors belong to a request
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._headers = {"X-Vault-Request": "true"}
        if settings.namespace:
            self._headers["X-Vault-Namespace"] = settings.namespace
        start_over_in_forked_children(self)

    def start_over_after_fork(self) -> None:
        """In a forked child: the kept connections are the parent's sockets too, and
        two processes reading one connection could each take the other's answer
        (a refused check-and-set read as done). The child opens its own."""
        self._idle = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        token: bool = True,
    ) -> Reply:
        """Send `method path`; `token=False` for what anyone may ask (sys/health)."""
        path = f"{self._prefix}{path}"
        if params:
            path = f"{path}?{urllib.parse.urlencode(params)}"
        headers = dict(self._headers)
        if token:
            headers["X-Vault-Token"] = self.settings.token
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        route = self._route or self._find_route()
        target = path
        if route.proxy is not None and not self._tls:  # a plain proxy takes the whole URL
            target = f"{self._parts.scheme}://{self._parts.netloc}{path}"
            headers.update(_proxy_auth(route.proxy))
        for attempt in range(2):
            connection, reused = self._take()
            try:
                if connection.sock is None:  # new: connect, then wait for answers longer
                    connection.connect()
                    assert connection.sock is not None
                    connection.sock.settimeout(self.settings.timeout)
                try:
                    connection.request(method, target, body, headers)
                except ValueError:  # an invalid header value; nothing was sent
                    connection.close()
                    raise Unsendable(
                        "the request could not be sent: the Vault token or namespace holds "
                        "characters an HTTP header cannot carry (not shown here)"
                    ) from None
                response = connection.getresponse()
                data = response.read()
            except _STALE as err:
                connection.close()
                if reused and attempt == 0 and method in _IDEMPOTENT:
                    continue
                raise Unreachable(f"the connection to {self.url} broke: {err}") from None
            except ssl.SSLCertVerificationError as err:
                connection.close()
                raise TLSFailure(str(err)) from None
            except (OSError, http.client.HTTPException) as err:
                # other TLS errors too: a handshake cut short by a node going down is
                # not a certificate to distrust, and may be tried again
                connection.close()
                raise Unreachable(_describe(err)) from None
            self._give_back(connection, response.will_close)
            return _reply(response, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection the server has not closed, else a new one."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect(), False
            if not _dropped(connection):
                return connection, True
            connection.close()

    def _give_back(self, connection: http.client.HTTPConnection, will_close: bool) -> None:
        with self._lock:
            if not will_close and len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def _find_route(self) -> _Route:
        parts = self._parts
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Unreachable(f"{self.url!r} is not an http:// or https:// address")
        try:
            port = parts.port or (443 if self._tls else 80)
        except ValueError as err:
            raise Unreachable(f"{self.url!r}: {err}") from None
        self._route = _Route(parts.hostname, port, _proxy_for(parts))
        return self._route

    def _connect(self) -> http.client.HTTPConnection:
        route, timeout = self._route or self._find_route(), self._connect_timeout
        host, port = route.host, route.port
        if route.proxy is not None:
            host, port = route.proxy.hostname or "", route.proxy.port or 80
        connection: http.client.HTTPConnection
        if self._tls:
            context = tls_context(self.settings.ca_cert)
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
            if route.proxy is not None:
                connection.set_tunnel(route.host, route.port, _proxy_auth(route.proxy))
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        return connection


def _reply(response: http.client.HTTPResponse, data: bytes) -> Reply:
    body: Any = None
    text = ""
    if data:
        try:
            body = json.loads(data)
        except ValueError:
            text = data.decode(errors="replace")
    return Reply(response.status, body, text, response.getheader("Location"))


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether the server closed an idle connection (it is readable: EOF, or a
    stray byte that would be taken for the next answer)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _describe(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return f"timed out ({err})" if str(err) else "timed out"
    return str(err) or type(err).__name__


def tls_context(ca_cert: str | None) -> ssl.SSLContext:
    """vault_ca_cert, else what requests would have trusted: REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE, else certifi's bundle (else the system's)."""
    bundle = ca_cert or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        try:
            import certifi

            bundle = certifi.where()
        except ImportError:
            bundle = None
    return _context(bundle)


@functools.cache
def _context(bundle: str | None) -> ssl.SSLContext:
    """One context per CA bundle: loading one costs milliseconds."""
    if bundle is None:
        return ssl.create_default_context()
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def _proxy_for(parts: urllib.parse.SplitResult) -> urllib.parse.SplitResult | None:
    """The proxy the environment names for this address, as requests chose it
    (`https_proxy`, `http_proxy`, `all_proxy`, minus `no_proxy`); None without."""
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the common case, without importing urllib.request
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass(parts.netloc):
        return None
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    proxy_parts = urllib.parse.urlsplit(proxy)
    if proxy_parts.scheme != "http" or not proxy_parts.hostname:
        raise Unreachable(
            f"the proxy {proxy_parts.scheme}://{proxy_parts.hostname} is not an http:// proxy"
        )
    return proxy_parts


def _proxy_auth(proxy: urllib.parse.SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    user = urllib.parse.unquote(proxy.username)
    password = urllib.parse.unquote(proxy.password or "")
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Proxy-Authorization": f"Basic {credentials}"}
