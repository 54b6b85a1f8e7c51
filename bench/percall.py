"""Provider CPU per RPC, measured from outside the provider process.

A client sends CALLS of one request, AT_ONCE in flight at a time, over the
TLS Unix socket the handshake names (as Terraform connects), and the
provider's user+system CPU time (/proc/<pid>/stat) before and after is
divided by CALLS. The sides, started afresh each round and interleaved so
background load hits them alike (each round in an order of its own):

- ours: the core serving the test provider's `testing_null` (the bench's
  "ours"; its operations are coroutines, run on the event loop);
- ours-plain: the same core serving `testing_null_plain`, whose operations
  are plain `def`s, handed to a worker thread and back;
- floor: bench/bare_null_plugin.py on grpc's threaded server;
- floor-aio: the same handlers on grpc.aio's server (BARE_SERVER=aio);
- NAME=PATH arguments: the test provider of another checkout (an A/B of a
  change: e.g. `base=/tmp/base` for a copy of the tree before it).

CPU time is what a plan or apply of many resources pays per call, whatever
else runs on the machine; wall time per call is printed beside it but moves
with the load. PERCALL_CALLS (2000), PERCALL_AT_ONCE (10), PERCALL_ROUNDS (3),
PERCALL_KINDS (validate,upgrade,read,plan,apply) and PERCALL_SIDES (every
side) set the run.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgpack  # noqa: E402

from bench.full_start import _channel, plugin_environment  # noqa: E402
from bench.run import BARE_ADDRESS, BARE_AIO_ADDRESS, publish_bare  # noqa: E402
from devenv.mirror import PROVIDERS, build_mirror, platform, write_launcher  # noqa: E402
from devenv.plugin_sockets import plugin_sockets  # noqa: E402
from devenv.processes import cpu_seconds  # noqa: E402
from provider._generated import tfplugin6_pb2 as pb  # noqa: E402
from provider._generated import tfplugin6_pb2_grpc as pb_grpc  # noqa: E402

CALLS = int(os.environ.get("PERCALL_CALLS", "2000"))
AT_ONCE = int(os.environ.get("PERCALL_AT_ONCE", "10"))
ROUNDS = int(os.environ.get("PERCALL_ROUNDS", "3"))
KINDS = os.environ.get("PERCALL_KINDS", "validate,upgrade,read,plan,apply").split(",")
WARM_UP = 50

STATE = msgpack.packb({"id": "4c6f7265", "triggers": {"index": "1"}})
CONFIG = msgpack.packb({"id": None, "triggers": {"index": "1"}})
# A new object's plan as Terraform sends it to apply: `id` unknown (cty's msgpack extension 0).
PLANNED = msgpack.packb({"id": msgpack.ExtType(0, b"\x00"), "triggers": {"index": "1"}})


def request(kind: str, resource: str) -> tuple[str, Any]:
    """The method and request message of one kind of call on `resource`."""
    state, config = pb.DynamicValue(msgpack=STATE), pb.DynamicValue(msgpack=CONFIG)
    if kind == "validate":
        return "ValidateResourceConfig", pb.ValidateResourceConfig.Request(
            type_name=resource, config=config
        )
    if kind == "upgrade":
        raw = pb.RawState(json=b'{"id":"4c6f7265","triggers":{"index":"1"}}')
        return "UpgradeResourceState", pb.UpgradeResourceState.Request(
            type_name=resource, version=0, raw_state=raw
        )
    if kind == "read":
        return "ReadResource", pb.ReadResource.Request(type_name=resource, current_state=state)
    if kind == "plan":
        return "PlanResourceChange", pb.PlanResourceChange.Request(
            type_name=resource, prior_state=state, proposed_new_state=state, config=config
        )
    if kind == "apply":  # a create: the path `terraform apply` takes per new resource
        return "ApplyResourceChange", pb.ApplyResourceChange.Request(
            type_name=resource,
            prior_state=pb.DynamicValue(msgpack=msgpack.packb(None)),
            planned_state=pb.DynamicValue(msgpack=PLANNED),
            config=config,
        )
    raise ValueError(f"unknown kind {kind!r}")


def sides(base: Path, others: list[str]) -> dict[str, tuple[str, str]]:
    """Name -> (launcher, resource type) of every side to measure."""
    build_mirror(base, ("testing",))
    publish_bare(base)
    publish_bare(base, aio=True)
    found = {
        "ours": (
            str(next(base.glob(f"registry.terraform.io/test/testing/*/{platform()}/*"))),
            "testing_null",
        ),
        "ours-plain": (
            str(next(base.glob(f"registry.terraform.io/test/testing/*/{platform()}/*"))),
            "testing_null_plain",
        ),
        "floor": (str(next(base.glob(f"{BARE_ADDRESS}/*/{platform()}/*"))), "barenull_resource"),
        "floor-aio": (
            str(next(base.glob(f"{BARE_AIO_ADDRESS}/*/{platform()}/*"))),
            "barenull_resource",
        ),
    }
    for other in others:
        name, _, checkout = other.partition("=")
        # Launched as ours is (devenv/mirror.py), from that checkout's code.
        launcher = base / f"other-{name}"
        write_launcher(launcher, PROVIDERS["testing"][2], Path(checkout))
        found[name] = (str(launcher), "testing_null")
    wanted = os.environ.get("PERCALL_SIDES")
    if wanted:
        found = {name: found[name] for name in wanted.split(",")}
    return found


def drive(call: Callable[..., Any], message: Any, count: int) -> None:
    """`count` calls, AT_ONCE in flight."""
    pending: list[Any] = []
    for _ in range(count):
        pending.append(call.future(message))
        if len(pending) >= AT_ONCE:
            pending.pop(0).result()
    for future in pending:
        future.result()


def measure(
    launch: str, resource: str, store: Path, env: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """Kind -> (CPU us per call, wall us per call) for one start of one side."""
    proc = subprocess.Popen(
        [launch], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        _core, protocol, network, address, _kind, *rest = proc.stdout.readline().strip().split("|")
        assert protocol == "6", protocol
        channel = _channel(network, address, rest[0] if rest else "")
        stub = pb_grpc.ProviderStub(channel)
        if resource == "testing_null":
            config = msgpack.packb({"store_dir": str(store), "token": None})
            stub.ConfigureProvider(
                pb.ConfigureProvider.Request(config=pb.DynamicValue(msgpack=config))
            )
        out = {}
        for kind in KINDS:
            method, message = request(kind, resource)
            call = getattr(stub, method)
            drive(call, message, WARM_UP)
            cpu, wall = cpu_seconds(proc.pid), time.perf_counter()
            drive(call, message, CALLS)
            out[kind] = (
                (cpu_seconds(proc.pid) - cpu) / CALLS * 1e6,
                (time.perf_counter() - wall) / CALLS * 1e6,
            )
        channel.close()
        return out
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="percall-"))
    try:
        with plugin_sockets():
            found = sides(base, sys.argv[1:])
            env = plugin_environment(os.environ, "6")
            cpu: dict[tuple[str, str], list[float]] = {}
            wall: dict[tuple[str, str], list[float]] = {}
            for turn in range(ROUNDS):
                # Each round in an order of its own, the same in every run (as run.py's
                # rounds): in one fixed order, ours always started first.
                for name in random.Random(turn).sample(list(found), len(found)):
                    launch, resource = found[name]
                    for kind, (c, w) in measure(launch, resource, base / "store", env).items():
                        cpu.setdefault((name, kind), []).append(c)
                        wall.setdefault((name, kind), []).append(w)
        print(
            f"CPU per call, median of {ROUNDS} rounds of {CALLS} calls, {AT_ONCE} at once "
            f"(wall per call in brackets); load {os.getloadavg()[0]:.2f}\n"
        )
        print("| RPC | " + " | ".join(found) + " |")
        print("|---|" + "---:|" * len(found))
        for kind in KINDS:
            cells = [
                f"{statistics.median(cpu[name, kind]):.0f} us "
                f"({statistics.median(wall[name, kind]):.0f})"
                for name in found
            ]
            print(f"| {kind} | " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
