"""`registry-tools serve`: serve a registry tree over HTTPS, for local use and tests.

Registry documents have no file extension, so the content type comes from the
path: JSON for the protocol documents, zip for archives.
"""

from __future__ import annotations

import functools
import ssl
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _RegistryHandler(SimpleHTTPRequestHandler):
    def guess_type(self, path: str | object) -> str:
        name = str(path)
        if name.endswith(".zip"):
            return "application/zip"
        if name.endswith((".sig", "_SHA256SUMS")):
            return "application/octet-stream"
        return "application/json"

    def log_message(self, format: str, *args: object) -> None:
        pass


class RegistryServer:
    def __init__(self, root: Path, cert: Path, key: Path, host: str = "127.0.0.1", port: int = 0):
        handler = functools.partial(_RegistryHandler, directory=str(root))
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> RegistryServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        self._server.serve_forever()
