"""Start the gRPC server the way go-plugin expects and run until told to stop.

The server is grpc.aio's, on one asyncio event loop, with one bounded pool of
worker threads for synchronous work: why, and what runs where, is in
docs/threads.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NoReturn

import grpc

from provider._generated import (
    grpc_controller_pb2_grpc,
    grpc_health_pb2_grpc,
    grpc_stdio_pb2_grpc,
)
from provider.framework import handoff
from provider.server import handshake, schema_snapshot
from provider.server.adapter import add_provider_service
from provider.server.backend import Backend
from provider.server.plugin_services import Controller, Health, Stdio
from provider.server.tls import generate_certificate

if TYPE_CHECKING:
    from provider.framework.catalog import Catalog
    from provider.framework.provider import Provider

log = logging.getLogger(__name__)

# Threads for the synchronous work only (waits hold none): a few suffice,
# since that work mostly holds the GIL anyway (docs/threads.md).
WORKERS = int(os.environ.get("TARMAK_PROVIDER_WORKERS", "32"))
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# Terraform sends as many calls at once as the configuration has resources
# (validation ignores -parallelism). grpc.aio's loop takes them from grpc's
# core one at a time, and by default the core sheds (cancels) calls waiting
# to be taken past 1,000 (all past 3,000), which a plan of thousands of
# resources reaches. Queue them all instead: a waiting call is small.
MAX_PENDING_CALLS = 100_000
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.server.max_pending_requests", MAX_PENDING_CALLS),
    ("grpc.server.max_pending_requests_hard_limit", MAX_PENDING_CALLS),
    ("grpc.server_max_unrequested_time_in_server", 3600),
]


def serve(
    provider: Provider | str,
    address: str,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run `provider` as a Terraform plugin. `address` is its registry source
    address (e.g. registry.terraform.io/jetstack/tarmak), used by --debug.

    `provider` is the provider, or where it is defined, "module:attribute" (a
    Provider class or a function making one): then it is imported by the first
    RPC that needs it, and GetProviderSchema is answered from the snapshot
    `make` wrote, while it is current (schema_snapshot.py)."""
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
    try:
        _run_loop(_serve(provider, address, protocol, debug, env))
    except BrokenPipeError:
        # Our standard output closed before the handshake line went out: the
        # process that started us (Terraform) is gone, and nothing will connect.
        sys.stderr.write("The plugin's standard output is closed: its client is gone.\n")
        return 1
    return 0


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Like asyncio.run, but without joining the worker threads at the end: a
    plain operation still running (a Vault request) must not delay the exit
    that go-plugin waits for after Shutdown."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main)
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
    finally:
        asyncio.set_event_loop(None)
        loop.close()  # shuts the default executor down without waiting


async def _serve(
    provider: Provider | str,
    address: str,
    protocol: int,
    debug: bool,
    env: Mapping[str, str],
) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="provider")
    loop.set_default_executor(pool)
    handoff.install(loop, pool)
    server = grpc.aio.server(migration_thread_pool=pool, options=GRPC_OPTIONS)
    backend = backend_for(provider, protocol)
    add_provider_service(backend, server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(stopping.set), server)
    grpc_stdio_pb2_grpc.add_GRPCStdioServicer_to_server(Stdio(stopping), server)
    grpc_health_pb2_grpc.add_HealthServicer_to_server(Health(), server)

    place = handshake.private_socket(env)
    # From here on the socket's directory is ours to remove, however serving
    # ends: even when the client is gone before the handshake line is written.
    try:
        cert = _listen(server, place.path, env, debug)
        await server.start()
        try:
            # Start-up is over: entry points import with the collector off (see
            # provider/main.py); what they made lives as long as the process.
            gc.freeze()
            gc.enable()

            # Under Terraform, Ctrl-C reaches us as StopProvider; run by hand
            # (--debug) it stops us.
            if debug:
                loop.add_signal_handler(signal.SIGINT, stopping.set)
            else:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            loop.add_signal_handler(signal.SIGTERM, stopping.set)
            if debug:
                _print_reattach(address, protocol, place.path)
            else:
                sys.stdout.write(handshake.handshake_line(protocol, place.path, cert))
                sys.stdout.flush()
            await stopping.wait()
        finally:
            backend.stop()
            await server.stop(grace=1)
    finally:
        place.remove()


def _listen(server: grpc.aio.Server, path: str, env: Mapping[str, str], debug: bool) -> str:
    """Listen on the socket at `path`, over TLS when Terraform asked for it
    (AutoMTLS: PLUGIN_CLIENT_CERT); the certificate for the handshake line, or ""."""
    if env.get("PLUGIN_CLIENT_CERT") and not debug:
        made = generate_certificate()
        credentials = grpc.ssl_server_credentials([(made.key_pem, made.cert_pem)])
        server.add_secure_port(f"unix:{path}", credentials)
        return made.handshake_field
    server.add_insecure_port(f"unix:{path}")
    return ""


def backend_for(provider: Provider | str, protocol: int) -> Backend:
    """What the RPCs of `protocol` work with; nothing of `provider` is made yet."""
    # Only the negotiated protocol's generated code is loaded: it is costly to import.
    messages = importlib.import_module(f"provider._generated.tfplugin{protocol}_pb2")
    backend = Backend(messages, protocol, lambda: _catalog(provider))
    if isinstance(provider, str):
        backend.prebuilt_schema = functools.partial(schema_snapshot.prebuilt, provider, protocol)
    return backend


def _catalog(provider: Provider | str) -> Catalog:
    from provider.framework.catalog import Catalog

    made = schema_snapshot.load_entry(provider)() if isinstance(provider, str) else provider
    return Catalog.of(made)


def serve_and_exit(provider: Provider | str, address: str) -> NoReturn:
    """The body of a provider's `main()`: serve, then end the process at once.

    After Shutdown, go-plugin's client waits for the process to exit before
    Terraform moves on, and it starts a provider several times per run.
    Interpreter finalization (tearing down grpc and every module) would
    lengthen each of those waits; serve() has already cleaned up what
    matters, so only the standard streams are flushed."""
    code = serve(provider, address)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe: nothing more can be said through it.
        with contextlib.suppress(OSError):
            stream.flush()
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
