"""The plugin process as go-plugin's client sees it: the handshake line, TLS
with the certificate from that line, and how the process ends (Shutdown,
SIGTERM) or does not (SIGINT, which Terraform turns into StopProvider)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from provider._generated import (
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    tfplugin6_pb2,
    tfplugin6_pb2_grpc,
)
from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from provider.server.tls import generate_certificate
from tests.e2e.harness import ROOT

# go-plugin kills a plugin that has not exited 2 s after Shutdown.
GO_PLUGIN_KILL_AFTER = 2.0


@dataclass
class Plugin:
    process: subprocess.Popen[str]
    socket_path: Path
    channel: grpc.Channel

    def exit_code_within(self, seconds: float) -> int | None:
        try:
            return self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            return None


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Plugin]:
    env = {
        **os.environ,
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "6,5",
        "PLUGIN_CLIENT_CERT": generate_certificate().cert_pem.decode(),
        "PLUGIN_UNIX_SOCKET_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.testing_provider"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().rstrip("\n")
    core, protocol, network, address, kind, certificate = line.split("|")
    assert (core, protocol, network, kind) == ("1", "6", "unix", "grpc")
    socket_path = Path(address)
    assert socket_path.parent.parent == tmp_path and socket_path.is_socket()

    der = base64.b64decode(certificate + "=" * (-len(certificate) % 4))
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    trust = grpc.ssl_channel_credentials(root_certificates=pem)
    channel = grpc.secure_channel(
        f"unix:{address}", trust, [("grpc.ssl_target_name_override", "localhost")]
    )
    try:
        yield Plugin(process, socket_path, channel)
    finally:
        channel.close()
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_client_gone_before_the_handshake_leaves_no_socket_directory(
    tmp_path: Path,
) -> None:
    """Terraform killed while the provider starts: the handshake line meets a
    closed pipe. The provider says so in one line and removes the private
    directory it made for its socket."""
    env = {
        **os.environ,
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "6,5",
        "PLUGIN_CLIENT_CERT": generate_certificate().cert_pem.decode(),
        "PLUGIN_UNIX_SOCKET_DIR": str(tmp_path),
    }
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.e2e.testing_provider"],
            cwd=ROOT,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert "The plugin's standard output is closed: its client is gone.\n" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_serves_tls_with_the_certificate_from_its_handshake_line(plugin: Plugin) -> None:
    schema = tfplugin6_pb2_grpc.ProviderStub(plugin.channel).GetProviderSchema(
        tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
    )
    assert "testing_thing" in schema.resource_schemas


def test_shutdown_ends_the_process_cleanly_before_go_plugin_would_kill_it(
    plugin: Plugin,
) -> None:
    controller = grpc_controller_pb2_grpc.GRPCControllerStub(plugin.channel)
    asked = time.monotonic()
    controller.Shutdown(grpc_controller_pb2.Empty(), timeout=10)
    assert plugin.exit_code_within(GO_PLUGIN_KILL_AFTER) == 0
    assert time.monotonic() - asked < GO_PLUGIN_KILL_AFTER
    assert not plugin.socket_path.parent.exists()  # socket and its private directory


def test_sigint_is_ignored_and_sigterm_ends_the_process_cleanly(plugin: Plugin) -> None:
    plugin.process.send_signal(signal.SIGINT)
    assert plugin.exit_code_within(0.5) is None
    stub = tfplugin6_pb2_grpc.ProviderStub(plugin.channel)
    stub.GetProviderSchema(tfplugin6_pb2.GetProviderSchema.Request(), timeout=10)

    plugin.process.send_signal(signal.SIGTERM)
    assert plugin.exit_code_within(GO_PLUGIN_KILL_AFTER) == 0
    assert not plugin.socket_path.parent.exists()
