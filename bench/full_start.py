"""One whole provider start as Terraform's go-plugin client makes it.

exec -> handshake line -> TLS with the server certificate from that line
(presenting the client certificate named in PLUGIN_CLIENT_CERT, as AutoMTLS
does) -> GetProviderSchema (GetSchema on protocol 5) -> GRPCController
Shutdown -> the process has exited. go-plugin kills a plugin that is still
running 2 s after Shutdown, so that is where the wait ends here too."""

from __future__ import annotations

import base64
import contextlib
import ssl
import subprocess
import time
from collections.abc import Mapping

import grpc

from provider._generated import (
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    tfplugin5_pb2,
    tfplugin5_pb2_grpc,
    tfplugin6_pb2,
    tfplugin6_pb2_grpc,
)
from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from provider.server.tls import generate_certificate

GO_PLUGIN_KILL_AFTER = 2.0
CLIENT = generate_certificate()


def plugin_environment(base: Mapping[str, str], protocols: str = "5,6") -> dict[str, str]:
    """What Terraform sets for a provider it launches."""
    return {
        **base,
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": protocols,
        "PLUGIN_CLIENT_CERT": CLIENT.cert_pem.decode(),
    }


def full_start(argv: list[str], env: Mapping[str, str]) -> float:
    """Seconds from exec to exit for one start that answers the schema."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(env), text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"{argv[0]} printed no handshake line")
        _core, protocol, network, address, _kind, *rest = line.split("|")
        channel = _channel(network, address, rest[0] if rest else "")
        with channel:
            if protocol == "6":
                tfplugin6_pb2_grpc.ProviderStub(channel).GetProviderSchema(
                    tfplugin6_pb2.GetProviderSchema.Request(), timeout=30
                )
            else:
                tfplugin5_pb2_grpc.ProviderStub(channel).GetSchema(
                    tfplugin5_pb2.GetProviderSchema.Request(), timeout=30
                )
            # A plugin may close its server before the answer is sent.
            with contextlib.suppress(grpc.RpcError):
                grpc_controller_pb2_grpc.GRPCControllerStub(channel).Shutdown(
                    grpc_controller_pb2.Empty(), timeout=30
                )
        try:
            proc.wait(GO_PLUGIN_KILL_AFTER)
        except subprocess.TimeoutExpired:
            proc.kill()  # as go-plugin would
        return time.perf_counter() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _channel(network: str, address: str, certificate: str) -> grpc.Channel:
    target = f"unix:{address}" if network == "unix" else address
    if not certificate:
        return grpc.insecure_channel(target)
    der = base64.b64decode(certificate + "=" * (-len(certificate) % 4))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ssl.DER_cert_to_PEM_cert(der).encode(),
        private_key=CLIENT.key_pem,
        certificate_chain=CLIENT.cert_pem,
    )
    return grpc.secure_channel(
        target, credentials, [("grpc.ssl_target_name_override", "localhost")]
    )
