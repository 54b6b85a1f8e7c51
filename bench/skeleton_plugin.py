"""The least a Python plugin built on grpcio-tools code can do before its
handshake line: import grpc and the generated tfplugin6 and go-plugin
controller modules, make the AutoMTLS certificate, start a gRPC server on a
Unix socket, print the line. No framework, no resources, no RPC answered.

`bench/run.py` times it beside our provider to show how much of our
handshake is ours and how much any such plugin pays. Run it only there: it
exits right after printing.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc

from provider._generated import grpc_controller_pb2_grpc, tfplugin6_pb2_grpc
from provider.server import handshake
from provider.server.tls import generate_certificate


def main() -> None:
    place = handshake.private_socket(os.environ)
    server = grpc.server(ThreadPoolExecutor(max_workers=8))
    tfplugin6_pb2_grpc.add_ProviderServicer_to_server(tfplugin6_pb2_grpc.ProviderServicer(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(
        grpc_controller_pb2_grpc.GRPCControllerServicer(), server
    )
    certificate = generate_certificate()
    credentials = grpc.ssl_server_credentials([(certificate.key_pem, certificate.cert_pem)])
    server.add_secure_port(f"unix:{place.path}", credentials)
    server.start()
    sys.stdout.write(handshake.handshake_line(6, place.path, certificate.handshake_field))
    sys.stdout.flush()
    place.remove()
    os._exit(0)


if __name__ == "__main__":
    main()
