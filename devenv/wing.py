"""A stand-in for Tarmak's wing API server: HTTPS `GET /healthz` answering `ok`.

Tests switch it between healthy (200 ok), unhealthy (503) and absent
(nothing listening on the port).
"""

from __future__ import annotations

import ssl
import threading
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from devenv.pki import CertFiles
from devenv.processes import free_port


class WingHealth(Enum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    ABSENT = "absent"


class WingStandIn:
    def __init__(self, cert: CertFiles, port: int | None = None) -> None:
        self.port = port or free_port()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert.cert, cert.key)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.health = WingHealth.ABSENT
        self.requests = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/healthz"

    def set(self, health: WingHealth) -> None:
        if health is WingHealth.ABSENT:
            self._close()
        elif self._server is None:
            self._listen()
        self.health = health

    def start(self) -> WingStandIn:
        self.set(WingHealth.HEALTHY)
        return self

    def stop(self) -> None:
        self.set(WingHealth.ABSENT)

    def _listen(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests += 1
                healthy = stand_in.health is WingHealth.HEALTHY
                if self.path != "/healthz":
                    status, body = 404, b"not found\n"
                else:
                    status, body = (200, b"ok") if healthy else (503, b"unhealthy")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.socket = self._context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def main() -> None:
    """`python -m devenv.wing PORT CERT KEY`: serve healthy until killed."""
    import sys

    port, cert, key = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    WingStandIn(CertFiles(cert, key), port).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
