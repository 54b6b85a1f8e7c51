"""What a write and an allocation cost the three-node TLS Raft cluster (issue #21).

Not part of `make bench`: `python bench/vault_ceiling.py` starts its own
clusters. It counts the requests of each allocation by kind (wrapping
NodeClient.request in the writers), and measures the Vault servers' CPU (user
and system, from /proc) per request, per plain KV v2 write and per allocation,
in these shapes:

- plain writes (distinct keys, cas=0, no conflicts), 8 writer processes on
  kept-alive connections: through the standbys, straight to the active node,
  and the same on a cluster without its audit device and on one whose Raft
  data is on /dev/shm;
- allocations of one counter by 8 writer processes (as bench/hostnaming.py),
  by 8 threads of one process sharing its BatchReserver (one `terraform apply
  -parallelism=8`), and by one writer;
- with BENCH_SHAPES=ahead, the 8-threads shape against the same, interleaved,
  with batches that reserve AHEAD numbers at least (not only one per caller
  waiting): what the counter writes cost, and what giving up gap-free numbers
  under concurrent applies would buy (docs/benchmarks/vault-ceiling.md, "Built
  end to end and measured again"). Its 800 allocations use up the last batch of
  16 exactly, so it leaves no number unused here: the gap shows when applies
  stop mid-batch, as tests/e2e/test_hostname.py's concurrent applies do.

BENCH_REPEATS (default 3) repeats each shape; medians are printed.
BENCH_ALLOCATIONS (default 100) is the allocations or writes per writer.
"""

from __future__ import annotations

import collections
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.hostname_vaults import Target, raft_standbys  # noqa: E402
from provider.tarmak import vault_http  # noqa: E402
from provider.tarmak.hostnames import reserver  # noqa: E402
from provider.tarmak.hostnames.allocator import Hostnaming  # noqa: E402
from provider.tarmak.hostnames.records import HostnameKey  # noqa: E402
from provider.tarmak.hostnames.reserver import BatchReserver  # noqa: E402
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT  # noqa: E402
from provider.tarmak.settings import VaultSettings  # noqa: E402
from provider.tarmak.vault_kv import open_kv  # noqa: E402

KEY = HostnameKey("bench", "web", "prod")
PER_WRITER = int(os.environ.get("BENCH_ALLOCATIONS", "100"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
# The smallest batch of the "ahead" shape's reserving side.
AHEAD = 16


@dataclass(frozen=True)
class Job:
    """One writer process: `threads` threads, each `count` allocations (or plain writes)."""

    address: str
    token: str
    ca_cert: str
    mount: str
    count: int
    threads: int
    plain: bool
    ahead: int = 0  # reserve at least this many numbers per counter write


@dataclass(frozen=True)
class Done:
    done: int
    retries: list[int]
    cpu: float
    requests: dict[str, int]


def _kind(method: str, path: str, status: int) -> str:
    """`POST data/counters 200`: the method, the KV area or sys path, the status."""
    parts = path.split("?")[0].split("/")  # "", "v1", mount or "sys", ...
    area = "/".join(parts[2:4]) if parts[2] == "sys" else "/".join(parts[3:5])
    return f"{method} {area} {status}"


def _count_requests(counts: collections.Counter[str]) -> None:
    """Count every request this process sends, by kind (threads included)."""
    lock = threading.Lock()
    original = vault_http.NodeClient.request

    def request(self: vault_http.NodeClient, method: str, path: str, **kw: Any) -> Any:
        reply = original(self, method, path, **kw)
        with lock:
            counts[_kind(method, path, reply.status)] += 1
        return reply

    vault_http.NodeClient.request = request  # type: ignore[method-assign]


def writer(job: Job) -> Done:
    counts: collections.Counter[str] = collections.Counter()
    _count_requests(counts)
    cpu = time.process_time()
    kv = open_kv(VaultSettings(job.address, job.token, job.ca_cert), job.mount)
    kv.check_mount()
    if job.ahead:
        _reserve_ahead(job.ahead)
    naming = Hostnaming(kv, sleep=time.sleep, reserver=BatchReserver())
    retries: list[int] = []
    done: list[int] = []
    failed: list[BaseException] = []

    def one_thread() -> None:
        try:
            writes()
        except BaseException as err:
            failed.append(err)

    def writes() -> None:
        prefix = secrets.token_hex(4)
        for n in range(job.count):
            if job.plain:
                kv.write(f"plain/{prefix}/{n}", {"n": n}, cas=0)
            else:
                retries.append(naming.allocate(KEY, DEFAULT_FORMAT, False).cas_retries)
            done.append(n)

    threads = [threading.Thread(target=one_thread) for _ in range(job.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return Done(len(done), retries, time.process_time() - cpu, dict(counts))


def _reserve_ahead(least: int) -> None:
    """In this writer process only: batches of at least `least` numbers, which
    leave numbers reserved and unused when the writers stop (a gap)."""
    one_per_waiter = reserver.Turn.batch_size

    def batch_size(self: reserver.Turn) -> int:
        return max(least, one_per_waiter(self))

    reserver.Turn.batch_size = batch_size  # type: ignore[method-assign]


def _counter_last(target: Target, mount: str) -> int:
    kv = open_kv(VaultSettings(target.admin_address, target.token, target.ca_cert or ""), mount)
    entry = kv.read(f"counters/{KEY.path}")
    return int(entry.data["last"]) if entry.data else 0


def _warm(_: int) -> None:
    import provider.tarmak.vault_kv  # noqa: F401


def run(
    target: Target,
    addresses: list[str],
    processes: int,
    threads: int,
    plain: bool,
    ahead: int = 0,
) -> dict[str, Any]:
    mount = f"ceiling-{secrets.token_hex(3)}"
    target.enable_kv2(mount)
    jobs = [
        Job(
            addresses[i % len(addresses)],
            target.token,
            target.ca_cert or "",
            mount,
            PER_WRITER,
            threads,
            plain,
            ahead,
        )
        for i in range(processes)
    ]
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_warm, range(processes)))
        vault_cpu = target.cpu_seconds()
        started = time.perf_counter()
        results = list(pool.map(writer, jobs))
        took = time.perf_counter() - started
        vault_cpu = target.cpu_seconds() - vault_cpu
    done = sum(r.done for r in results)
    # Numbers the counter moved past that no allocation took: a gap in the names.
    unused = 0 if plain else _counter_last(target, mount) - done
    requests: collections.Counter[str] = collections.Counter()
    for r in results:
        requests.update(r.requests)
    return {
        "per_second": done / took,
        "vault_ms": vault_cpu / done * 1000,
        "writer_ms": sum(r.cpu for r in results) / done * 1000,
        "requests": sum(requests.values()) / done,
        "vault_ms_per_request": vault_cpu / sum(requests.values()) * 1000,
        "retries": statistics.mean(x for r in results for x in r.retries) if not plain else 0,
        "kinds": {k: v / done for k, v in sorted(requests.items())},
        "seconds": took,
        "unused": unused,
    }


@contextlib.contextmanager
def cluster(scratch: Path, *, audit: bool = True) -> Iterator[tuple[Target, str, list[str]]]:
    """Three nodes, unsealed, all voters: the target, the active node, the standbys."""
    with raft_standbys(scratch, audit=audit) as target:
        yield target, target.admin_address, list(target.addresses)


def idle_ms_per_second(target: Target, seconds: float = 5) -> float:
    before = target.cpu_seconds()
    time.sleep(seconds)
    return (target.cpu_seconds() - before) / seconds * 1000


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in rows[0]:
        if name == "kinds":
            kinds = {k for r in rows for k in r["kinds"]}
            out[name] = {k: statistics.median(r["kinds"].get(k, 0) for r in rows) for k in kinds}
        else:
            out[name] = statistics.median(r[name] for r in rows)
    out["all"] = rows
    return out


def report(label: str, rows: list[dict[str, Any]]) -> None:
    row = median_row(rows)
    print(
        f"| {label} | {row['per_second']:.0f} | {row['vault_ms']:.2f} | "
        f"{row['requests']:.2f} | {row['vault_ms_per_request']:.2f} | {row['retries']:.2f} | "
        f"{row['writer_ms']:.2f} | {row['unused']:.0f} | "
        + " ".join(f"{r['per_second']:.0f}/{r['vault_ms']:.1f}" for r in rows)
        + " |",
        flush=True,
    )
    print(
        "    kinds per unit: " + ", ".join(f"{k}={v:.2f}" for k, v in sorted(row["kinds"].items())),
        flush=True,
    )


SHAPES = os.environ.get("BENCH_SHAPES", "plain,alloc").split(",")
CLUSTERS = os.environ.get("BENCH_CLUSTERS", "disk,noaudit,shm,shm-noaudit").split(",")


def main() -> None:
    print(
        f"{PER_WRITER} per writer, {REPEATS} repeats; medians; "
        "| shape | per s | Vault CPU ms per unit | requests per unit | Vault ms per request "
        "| CAS retries | writer ms | numbers left unused | each run (per s / Vault ms) |"
    )
    for which in CLUSTERS:
        base = "/dev/shm" if "shm" in which else None
        with (
            tempfile.TemporaryDirectory(prefix="tarmak-ceiling-", dir=base) as scratch,
            cluster(Path(scratch), audit="noaudit" not in which) as (target, active, standbys),
        ):
            print(
                f"\n## cluster: {which}; idle Vault CPU {idle_ms_per_second(target):.1f} ms/s",
                flush=True,
            )
            if "plain" in SHAPES:
                report(
                    f"{which} plain, 8 proc, standbys",
                    [run(target, standbys, 8, 1, True) for _ in range(REPEATS)],
                )
                report(
                    f"{which} plain, 8 proc, active",
                    [run(target, [active], 8, 1, True) for _ in range(REPEATS)],
                )
            if "ahead" in SHAPES:
                compare_reserving_ahead(target, standbys[:1])
            if "alloc" not in SHAPES:
                continue
            shapes = [
                ("8 proc, standbys", standbys, 8, 1),
                ("1 proc x 8 threads, standby", standbys[:1], 1, 8),
                ("8 proc, active", [active], 8, 1),
                ("1 proc x 8 threads, active", [active], 1, 8),
                ("1 writer, standby", standbys[:1], 1, 1),
            ]
            if which != "disk" or os.environ.get("BENCH_BEST_ONLY"):  # the best shape only
                shapes = shapes[3:4]
            for label, addresses, processes, threads in shapes:
                rows = [run(target, addresses, processes, threads, False) for _ in range(REPEATS)]
                report(f"{which} alloc, {label}", rows)


def compare_reserving_ahead(target: Target, standby: list[str]) -> None:
    """8 threads through a standby, one batch per waiting caller against batches
    of at least AHEAD, interleaved (REPEATS rounds of each)."""
    sides: dict[str, list[dict[str, Any]]] = {"one per waiting caller": [], f"at least {AHEAD}": []}
    for round_ in range(REPEATS):
        for name in sorted(sides, reverse=round_ % 2 == 1):
            ahead = AHEAD if name.startswith("at least") else 0
            sides[name].append(run(target, standby, 1, 8, False, ahead))
    for name, rows in sides.items():
        report(f"alloc, 1 proc x 8 threads, standby, batches {name}", rows)


if __name__ == "__main__":
    main()
