"""Loopback HTTP(S) servers that answer as one Vault node would, from a script:
what the unit tests of vault_http.py and vault_kv.py talk to over real sockets
(OpenBao itself is in the e2e tests). Each records what it was sent."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    connection: int  # which client connection it came on


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close the connection after answering, without saying so


Script = Callable[["Node", str, str, Any], Answer]


@dataclass
class Node:
    """One scripted node; `url` is set once it listens."""

    script: Script
    cluster_id: str | None = "cluster-a"
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0

    def asked(self, prefix: str = "/v1/") -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]


def _handler(node: Node) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Vault

        def setup(self) -> None:
            super().setup()
            node.connections += 1
            self.connection_number = node.connections

        def log_message(self, *_: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            node.seen.append(
                Seen(self.command, self.path, dict(self.headers), body, self.connection_number)
            )
            if self.path.startswith("/v1/sys/health"):
                answer = Answer(200, {"cluster_id": node.cluster_id} if node.cluster_id else {})
            else:
                answer = node.script(node, self.command, self.path, body)
            data = b"" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            if data:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = answer.close

        do_GET = do_POST = do_DELETE = do_PUT = do_LIST = _answer

    return Handler


@contextmanager
def serving(node: Node, tls: ssl.SSLContext | None = None) -> Iterator[Node]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(node))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls else "http"
    node.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def redirect_to(target: Node, names_leader: bool = False) -> Script:
    """A standby that sends every request on to `target`; `names_leader`: its
    sys/leader names `target`, as Vault's standbys do (else it redirects that too)."""

    def script(node: Node, method: str, path: str, body: Any) -> Answer:
        if names_leader and path.startswith("/v1/sys/leader"):
            return Answer(200, {"ha_enabled": True, "is_self": False, "leader_address": target.url})
        return Answer(307, headers={"Location": f"{target.url}{path}"})

    return script


def kv_store() -> Script:
    """Enough of KV v2 for these tests: versions and check-and-set on data/."""
    keys: dict[str, int] = {}
    lock = threading.Lock()

    def script(node: Node, method: str, path: str, body: Any) -> Answer:
        key = path.split("/data/", 1)[-1]
        with lock:
            version = keys.get(key, 0)
            if method == "POST":
                cas = ((body or {}).get("options") or {}).get("cas")
                if cas is not None and cas != version:
                    return Answer(400, {"errors": ["check-and-set parameter did not match"]})
                keys[key] = version + 1
                return Answer(200, {"data": {"version": version + 1}})
            if method == "GET" and version:
                meta = {"version": version}
                return Answer(200, {"data": {"data": {"k": key}, "metadata": meta}})
        return Answer(404, {"errors": []})

    return script


def fixed(status: int, body: Any = None) -> Script:
    def script(node: Node, method: str, path: str, request: Any) -> Answer:
        return Answer(status, body)

    return script
