"""vault_http.NodeClient over real loopback sockets: kept-alive connections (and
a replacement for one the server closed), the CA it trusts, an address with a
path, and a proxy named by the environment."""

from __future__ import annotations

import select
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devenv.pki import ThrowawayCA
from provider.tarmak.settings import VaultSettings
from provider.tarmak.vault_http import NodeClient, TLSFailure, Unreachable, Unsendable
from tests.unit.provider.forked import in_forked_child
from tests.unit.provider.scripted_vault import Answer, Node, fixed, serving

TOKEN = "s.unit-test-token"


def client(url: str, ca_cert: str | None = None) -> NodeClient:
    return NodeClient(VaultSettings(url, TOKEN, ca_cert, timeout=5), url)


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_connections_are_kept_and_shared_by_threads() -> None:
    with serving(Node(fixed(200, {"data": {}}))) as node:
        vault = client(node.url)
        threads = [
            threading.Thread(target=lambda: [vault.request("GET", "/v1/x") for _ in range(20)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(node.seen) == 80 and node.connections <= 4


def test_a_forked_child_opens_its_own_connection() -> None:
    """Two processes on one kept-alive connection could read each other's answers."""
    with serving(Node(fixed(200, {"data": {}}))) as node:
        vault = client(node.url)
        vault.request("GET", "/v1/before")
        assert in_forked_child(lambda: vault.request("GET", "/v1/child").status) == 200
        vault.request("GET", "/v1/after")  # the parent keeps its own
    assert len(node.seen) == 3 and node.connections == 2


def test_a_connection_the_server_closed_is_replaced() -> None:
    answers = iter([Answer(200, {}, close=True), Answer(200, {"second": True})])
    with serving(Node(lambda *_: next(answers))) as node:
        vault = client(node.url)
        vault.request("POST", "/v1/a", json_body={"data": {}})
        time.sleep(0.2)  # idle, as a kept connection is when a server drops it
        assert vault.request("POST", "/v1/b", json_body={"data": {}}).body == {"second": True}
    assert node.connections == 2


def test_the_token_is_sent_only_when_asked() -> None:
    with serving(Node(fixed(200, {}))) as node:
        vault = client(node.url)
        vault.request("GET", "/v1/sys/health", token=False)
        vault.request("GET", "/v1/kv/data/x", params={"version": 2})
    assert "X-Vault-Token" not in node.seen[0].headers
    assert node.seen[1].headers["X-Vault-Token"] == TOKEN
    assert node.seen[1].path == "/v1/kv/data/x?version=2"


def test_a_path_in_the_address_prefixes_every_request() -> None:
    with serving(Node(fixed(200, {}))) as node:
        client(f"{node.url}/vault/").request("GET", "/v1/sys/leader")
    assert node.seen[0].path == "/vault/v1/sys/leader"


def test_a_reply_that_is_not_json_keeps_its_text() -> None:
    with serving(Node(fixed(502))) as node:
        reply = client(node.url).request("GET", "/v1/x")
    assert reply.status == 502 and reply.body is None and reply.errors() == "HTTP 502"


def test_nothing_listening_is_unreachable() -> None:
    with serving(Node(fixed(200))) as node:
        url = node.url
    with pytest.raises(Unreachable):
        client(url).request("GET", "/v1/x")
    with pytest.raises(Unreachable, match="not an http"):
        client("vault.example:8200").request("GET", "/v1/x")


@contextmanager
def tls_node(tmp_path: Path) -> Iterator[tuple[Node, ThrowawayCA]]:
    ca = ThrowawayCA(tmp_path / "ca")
    files = ca.issue("vault")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert, files.key)
    with serving(Node(fixed(200, {"ok": True})), context) as node:
        yield node, ca


def test_tls_is_verified_against_the_given_ca(tmp_path: Path) -> None:
    with tls_node(tmp_path) as (node, ca):
        assert client(node.url, str(ca.cert_path)).request("GET", "/v1/x").body == {"ok": True}
        other = ThrowawayCA(tmp_path / "other")
        with pytest.raises(TLSFailure):
            client(node.url, str(other.cert_path)).request("GET", "/v1/x")


def test_without_a_ca_the_bundle_requests_used_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tls_node(tmp_path) as (node, ca):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.cert_path))
        assert client(node.url).request("GET", "/v1/x").body == {"ok": True}
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ThrowawayCA(tmp_path / "o").cert_path))
        with pytest.raises(TLSFailure):
            client(node.url).request("GET", "/v1/x")


class _ConnectProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    tunnels: list[str]


class _Tunnel(socketserver.BaseRequestHandler):
    """CONNECT host:port, then bytes both ways: all an https proxy does."""

    server: _ConnectProxy

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.request.recv(4096)
        target = head.split(b" ")[1].decode()
        self.server.tunnels.append(head.decode())
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [self.request, upstream]
            while True:
                readable, _, _ = select.select(ends, [], [], 5)
                if not readable:
                    return
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.request else self.request).sendall(data)


def test_an_https_proxy_from_the_environment_tunnels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = _ConnectProxy(("127.0.0.1", 0), _Tunnel)
    proxy.tunnels = []
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:pw@127.0.0.1:{proxy.server_address[1]}")
        with tls_node(tmp_path) as (node, ca):
            reply = client(node.url, str(ca.cert_path)).request("GET", "/v1/x")
            assert reply.body == {"ok": True}
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            client(node.url, str(ca.cert_path)).request("GET", "/v1/x")
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)
    assert len(proxy.tunnels) == 1, "NO_PROXY goes direct"
    assert proxy.tunnels[0].startswith(f"CONNECT 127.0.0.1:{node.url.rsplit(':', 1)[1]} ")
    assert "Proxy-Authorization: Basic dXNlcjpwdw==" in proxy.tunnels[0]


def test_a_provider_start_loads_no_http_client() -> None:
    """Every start imports the resources (for the schema); only an operation that
    talks to Vault may load the client, and with it http.client."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from provider.tarmak.provider import TarmakProvider\n"
        "TarmakProvider().resources()\n"
        "import provider.resources.hostname, provider.resources.hostname_list\n"
        "loaded = [m for m in ('http.client', 'provider.tarmak.vault_http', 'hvac', 'requests')"
        " if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == ""


def test_a_token_http_cannot_carry_is_refused_without_quoting_it() -> None:
    """http.client's own error quotes the header value: the token."""
    secret = "s.must-not-show"
    with serving(Node(fixed(200, {}))) as node:
        vault = NodeClient(VaultSettings(node.url, secret + "\n", timeout=5), node.url)
        with pytest.raises(Unsendable) as refused:
            vault.request("GET", "/v1/kv/data/x")
    assert secret not in str(refused.value) and "token" in str(refused.value)
    assert node.seen == []
