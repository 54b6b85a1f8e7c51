"""Start the gRPC server the way go-plugin expects and run until told to stop."""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn

import grpc

from provider._generated import (
    grpc_controller_pb2_grpc,
    grpc_health_pb2_grpc,
    grpc_stdio_pb2_grpc,
)
from provider.framework.provider import Provider
from provider.framework.runner import ProviderRunner
from provider.server import handshake
from provider.server.plugin_services import Controller, Health, Stdio
from provider.server.refusals import UndecodableRequests
from provider.server.servicer import PROTOCOL_5, PROTOCOL_6, ProtocolAdapter, ProviderServicerCore
from provider.server.tls import generate_certificate

log = logging.getLogger(__name__)

# Blocking resources hold a worker each while they wait, so leave room for
# terraform -parallelism plus everything waiting at once.
MAX_WORKERS = int(os.environ.get("TARMAK_PROVIDER_MAX_WORKERS", "512"))
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


def serve(
    provider: Provider,
    address: str,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run `provider` as a Terraform plugin. `address` is its registry source
    address (e.g. registry.terraform.io/jetstack/tarmak), used by --debug."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    _configure_logging(env)
    debug = "--debug" in argv
    if not debug and not handshake.cookie_present(env):
        sys.stderr.write(handshake.NOT_A_PROGRAM)
        return 1
    try:
        protocol = handshake.negotiate(env, debug=debug)
    except handshake.HandshakeError as err:
        sys.stderr.write(f"{err}\n")
        return 1

    stopping = threading.Event()
    runner = ProviderRunner(provider)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=MAX_WORKERS),
        options=GRPC_OPTIONS,
        interceptors=[UndecodableRequests()],
    )
    # Only the negotiated protocol's generated code is loaded: it is costly to import.
    messages = importlib.import_module(f"provider._generated.tfplugin{protocol}_pb2")
    services = importlib.import_module(f"provider._generated.tfplugin{protocol}_pb2_grpc")
    names = PROTOCOL_6 if protocol == 6 else PROTOCOL_5
    adapter = ProtocolAdapter(ProviderServicerCore(runner, messages, names))
    services.add_ProviderServicer_to_server(adapter, server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(stopping.set), server)
    grpc_stdio_pb2_grpc.add_GRPCStdioServicer_to_server(Stdio(stopping), server)
    grpc_health_pb2_grpc.add_HealthServicer_to_server(Health(), server)

    place = handshake.private_socket(env)
    cert = ""
    if env.get("PLUGIN_CLIENT_CERT") and not debug:
        made = generate_certificate()
        credentials = grpc.ssl_server_credentials([(made.key_pem, made.cert_pem)])
        server.add_secure_port(f"unix:{place.path}", credentials)
        cert = made.handshake_field
    else:
        server.add_insecure_port(f"unix:{place.path}")
    server.start()
    # Start-up is over: entry points import with the collector off (see
    # provider/main.py); what they made lives as long as the process.
    gc.freeze()
    gc.enable()

    # Under Terraform, Ctrl-C reaches us as StopProvider; run by hand (--debug) it stops us.
    signal.signal(signal.SIGINT, (lambda *_: stopping.set()) if debug else signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if debug:
        _print_reattach(address, protocol, place.path)
    else:
        sys.stdout.write(handshake.handshake_line(protocol, place.path, cert))
        sys.stdout.flush()
    try:
        while not stopping.wait(3600):
            pass
    finally:
        runner.stop()
        server.stop(grace=1).wait(2)
        place.remove()
    return 0


def serve_and_exit(provider: Provider, address: str) -> NoReturn:
    """The body of a provider's `main()`: serve, then end the process at once.

    After Shutdown, go-plugin's client waits for the process to exit before
    Terraform moves on, and it starts a provider several times per run.
    Interpreter finalization (tearing down grpc and every module) would add
    ~25 ms to each of those waits; serve() has already cleaned up what
    matters, so only the standard streams are flushed."""
    code = serve(provider, address)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _print_reattach(address: str, protocol: int, socket_path: str) -> None:
    value = {
        address: {
            "Protocol": "grpc",
            "ProtocolVersion": protocol,
            "Pid": os.getpid(),
            "Test": True,
            "Addr": {"Network": "unix", "String": socket_path},
        }
    }
    print("Provider started. To attach Terraform, set in your shell:\n")
    print(f"    export TF_REATTACH_PROVIDERS='{json.dumps(value, separators=(',', ':'))}'\n")
    print("Press Ctrl-C to stop the provider.", flush=True)


def _configure_logging(env: Mapping[str, str]) -> None:
    """Log to stderr, which go-plugin copies into Terraform's log (TF_LOG)."""
    level_name = (env.get("TF_LOG_PROVIDER") or env.get("TF_LOG") or "").upper()
    level = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO}.get(
        level_name, logging.WARNING
    )
    logging.basicConfig(
        stream=sys.stderr, level=level, format="[%(levelname)s] %(name)s: %(message)s"
    )
