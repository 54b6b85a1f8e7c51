"""The tarmak provider's start-up, against an older checkout (part of `make bench`).

Two figures per start, both timed from outside the process:

- handshake: exec -> the handshake line, with the environment Terraform sets;
- full start: exec -> handshake line -> TLS connection with the certificate
  from that line -> GetProviderSchema -> Shutdown -> the process has exited.
  Terraform does this (and more) up to four times per run, so it is what a
  user waits for.

`BENCH_BASELINE=DIR` names another checkout of this repository (e.g. made
with `git worktree add DIR main`, generated code included) to run beside
this one, interleaved, with ratios per pair. Without it only this tree runs.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from devenv.plugin_sockets import plugin_sockets  # noqa: E402
from provider._generated import (  # noqa: E402
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    tfplugin6_pb2,
    tfplugin6_pb2_grpc,
)
from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE  # noqa: E402
from provider.server.tls import generate_certificate  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
LAUNCH = "import sys; sys.path.insert(0, sys.argv[1]); from provider.main import main; main()"


def environment() -> dict[str, str]:
    return {
        **os.environ,
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        "PLUGIN_CLIENT_CERT": generate_certificate().cert_pem.decode(),
    }


def start(tree: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, float]:
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(tree)],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line:
        process.kill()
        raise RuntimeError(f"the provider in {tree} printed nothing")
    return process, line, began


def handshake(tree: Path, env: dict[str, str]) -> float:
    process, _, began = start(tree, env)
    took = time.perf_counter() - began
    process.kill()
    process.wait()
    return took


def full_start(tree: Path, env: dict[str, str]) -> float:
    process, line, began = start(tree, env)
    _, protocol, _, address, _, certificate = line.rstrip("\n").split("|")
    assert protocol == "6"
    der = base64.b64decode(certificate + "=" * (-len(certificate) % 4))
    pem = b"".join(
        (b"-----BEGIN CERTIFICATE-----\n", base64.encodebytes(der), b"-----END CERTIFICATE-----\n")
    )
    channel = grpc.secure_channel(
        f"unix:{address}",
        grpc.ssl_channel_credentials(root_certificates=pem),
        [("grpc.ssl_target_name_override", "localhost")],
    )
    with channel:
        tfplugin6_pb2_grpc.ProviderStub(channel).GetProviderSchema(
            tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
        )
        grpc_controller_pb2_grpc.GRPCControllerStub(channel).Shutdown(
            grpc_controller_pb2.Empty(), timeout=10
        )
    process.wait(10)
    return time.perf_counter() - began


def main() -> None:
    trees = {"this tree": ROOT}
    if os.environ.get("BENCH_BASELINE"):
        trees["baseline"] = Path(os.environ["BENCH_BASELINE"]).resolve()
    env = environment()
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(RUNS):
        for name, tree in trees.items():
            for kind, measure in (("handshake", handshake), ("full start", full_start)):
                samples.setdefault((kind, name), []).append(measure(tree, env))
    print(f"\nprovider start-up: {RUNS} interleaved runs, medians\n")
    print("| measurement | median | ratio to baseline (median of pairs) |")
    print("|---|---:|---:|")
    for (kind, name), values in samples.items():
        ratio = ""
        if name != "baseline" and (kind, "baseline") in samples:
            pairs = zip(values, samples[(kind, "baseline")], strict=True)
            ratio = f"{statistics.median(a / b for a, b in pairs):.2f}x"
        print(f"| {kind}: {name} | {statistics.median(values) * 1000:.0f} ms | {ratio} |")


if __name__ == "__main__":
    with plugin_sockets():
        main()
