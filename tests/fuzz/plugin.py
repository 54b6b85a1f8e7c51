"""Start the real provider process the way go-plugin does (magic cookie,
protocol list, AutoMTLS with a client certificate, the handshake line on
stdout) and talk to it over the real gRPC stack, with its stderr kept."""

from __future__ import annotations

import base64
import contextlib
import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from provider.server.tls import generate_certificate

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningPlugin:
    protocol: int
    process: subprocess.Popen[bytes]
    channel: grpc.Channel
    stub: Any
    pb: ModuleType
    stderr_path: Path
    socket_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_plugin(
    protocol: int, directory: Path, env: dict[str, str] | None = None, module: str = "provider.main"
) -> RunningPlugin:
    """`module`'s provider, offering only `protocol`, logging at debug level to a file."""
    directory.mkdir(parents=True, exist_ok=True)
    client = generate_certificate()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "TF_"))},
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": str(protocol),
        "PLUGIN_CLIENT_CERT": client.cert_pem.decode(),
        "PLUGIN_UNIX_SOCKET_DIR": str(directory),
        "TF_LOG_PROVIDER": "DEBUG",
        **(env or {}),
    }
    stderr_path = directory / f"provider-{protocol}.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    assert process.stdout is not None
    line = process.stdout.readline().decode().rstrip("\n")
    try:
        _core, negotiated, _network, address, _kind, certificate = line.split("|")
    except ValueError:
        process.kill()
        process.wait()
        raise AssertionError(f"no handshake line: {line!r}\n{stderr_path.read_text()}") from None
    assert int(negotiated) == protocol
    der = base64.b64decode(certificate + "=" * (-len(certificate) % 4))
    server_pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=server_pem,
        private_key=client.key_pem,
        certificate_chain=client.cert_pem,
    )
    channel = grpc.secure_channel(
        f"unix:{address}", credentials, [("grpc.ssl_target_name_override", "localhost")]
    )
    pb = importlib.import_module(f"provider._generated.tfplugin{protocol}_pb2")
    services = importlib.import_module(f"provider._generated.tfplugin{protocol}_pb2_grpc")
    stub = services.ProviderStub(channel)
    with contextlib.suppress(Exception):
        grpc.channel_ready_future(channel).result(timeout=10)
    return RunningPlugin(protocol, process, channel, stub, pb, stderr_path, Path(address))
