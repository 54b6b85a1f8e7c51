"""Connector benchmarks (part of `make bench`).

1. Round trip of one call, provider client -> tarmak-connector (a real relay
   subprocess) -> Tarmak side -> back: median and p99, beside a bare Unix
   socket echo on the same machine as the floor.
2. 200 `tarmak_bastion_instance` resources waiting at once in one
   `terraform apply -parallelism=200`, all released by one answer from the
   Tarmak side: time from the release to apply complete.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.protocol import Method  # noqa: E402
from connector.tarmak_side.controller import ConnectorController  # noqa: E402
from connector.tarmak_side.server import Call, RequestServer  # noqa: E402
from devenv.mirror import build_mirror  # noqa: E402
from devenv.plugin_sockets import plugin_sockets  # noqa: E402
from devenv.scratch import short_directory  # noqa: E402
from devenv.tarmak import relay_argv  # noqa: E402
from devenv.terraform_binary import bundled_terraform  # noqa: E402
from provider.framework.context import Context  # noqa: E402
from provider.tarmak.client import TarmakClient  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "2000"))
WAITING = 200


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def echo_floor(directory: Path) -> list[float]:
    path = str(directory / "echo.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        while data := conn.recv(4096):
            conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        client.sendall(b"x" * 200)
        client.recv(4096)
        samples.append(time.perf_counter() - started)
    client.close()
    return samples


def round_trips(directory: Path) -> list[float]:
    socket_path = str(directory / "rt.sock")
    server = RequestServer({Method.BASTION_INSTANCE_STATUS: lambda call: {"status": "ready"}})
    controller = ConnectorController(relay_argv(socket_path), server).start()
    client = TarmakClient(socket_path)
    params = {"hostname": "h", "username": "u"}

    async def calls() -> list[float]:
        await client.call(Method.BASTION_INSTANCE_STATUS, params, Context(timeout=30), "warm-up")
        samples = []
        for _ in range(CALLS):
            started = time.perf_counter()
            await client.call(Method.BASTION_INSTANCE_STATUS, params, Context(timeout=30), "bench")
            samples.append(time.perf_counter() - started)
        return samples

    samples = asyncio.run(calls())
    controller.stop()
    return samples


def release_many(directory: Path) -> tuple[float, float]:
    """(seconds from release to apply complete, seconds for the whole apply)."""
    socket_path = str(directory / "many.sock")
    arrived = threading.Semaphore(0)
    release = threading.Event()

    def hold(call: Call) -> dict[str, str]:
        arrived.release()
        release.wait(600)
        return {"status": "ready"}

    server = RequestServer({Method.BASTION_INSTANCE_STATUS: hold}, workers=WAITING + 16)
    controller = ConnectorController(relay_argv(socket_path), server).start()
    work = directory / "many"
    work.mkdir()
    (work / "main.tf").write_text(
        'terraform {\n  required_providers {\n    tarmak = { source = "jetstack/tarmak" }\n  }\n}\n'
        f'resource "tarmak_bastion_instance" "b" {{\n  count    = {WAITING}\n'
        '  hostname = "bastion-${count.index}"\n  username = "centos"\n}\n'
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TF_")},
        "TF_CLI_CONFIG_FILE": str(build_mirror(directory / "mirror", ("tarmak",))),
        "CHECKPOINT_DISABLE": "1",
        "TARMAK_CONNECTOR_SOCKET": socket_path,
    }
    terraform = bundled_terraform()
    subprocess.run([terraform, "init"], cwd=work, env=env, check=True, capture_output=True)
    started = time.perf_counter()
    apply = subprocess.Popen(
        [terraform, "apply", "-auto-approve", f"-parallelism={WAITING}", "-no-color"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(WAITING):
        if not arrived.acquire(timeout=300):
            apply.kill()
            raise RuntimeError("not every resource reached the Tarmak side")
    released = time.perf_counter()
    release.set()
    if apply.wait(600) != 0:
        raise RuntimeError(f"apply failed: {apply.stderr.read().decode() if apply.stderr else ''}")
    done = time.perf_counter()
    controller.stop()
    return done - released, done - started


def main() -> None:
    with short_directory("tk-bench-") as directory:
        floor = echo_floor(directory)
        trips = round_trips(directory)
        after_release, whole = release_many(directory)
        print(f"\nconnector: {CALLS} sequential calls; {WAITING} resources waiting at once\n")
        print("| measurement | median | p99 |")
        print("|---|---:|---:|")
        print(
            f"| call round trip (client -> relay -> Tarmak side -> back) "
            f"| {statistics.median(trips) * 1e6:.0f} us | {percentile(trips, 0.99) * 1e6:.0f} us |"
        )
        print(
            f"| bare Unix socket echo (floor) | {statistics.median(floor) * 1e6:.0f} us "
            f"| {percentile(floor, 0.99) * 1e6:.0f} us |"
        )
        label = f"{WAITING} waiting resources"
        print(f"| {label}: Tarmak's answer -> apply complete | {after_release:.2f} s | |")
        print(f"| {label}: whole apply | {whole:.2f} s | |")


if __name__ == "__main__":
    with plugin_sockets():
        main()
