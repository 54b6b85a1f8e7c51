"""tarmak_hostname's allocator against real OpenBao (part of `make bench`).

Allocations per second from 1 and from 8 concurrent writers (separate
processes, all on one counter), and from 8 threads of one process sharing its
BatchReserver (as one `terraform apply -parallelism=8` allocates), and the CAS
retries each allocation needed, against two Vaults (bench/hostname_vaults.py):
OpenBao -dev, and the three-node TLS Raft cluster with the writers given the
addresses of its standby nodes, as when a load balancer sends Terraform to
any node. Each writer then asks that node for the active one (sys/leader,
vault_nodes.py) and sends its requests there. It also says how much CPU an
allocation costs the Vault servers and the writers: on a machine of few
cores, that is what bounds the rate.

Beside them, the floor of the 8-threads shape: 8 threads of one process that
send only the two check-and-set writes an allocation must make (its record and
its name, cas=0, at once, through the same client), with numbers taken from
memory instead of a counter. No allocator that keeps a number and a name from
being held twice sends less, so its rate bounds the allocator's on that run.

Each shape is measured ROUNDS times, the shapes interleaved round by round
and each run on a fresh mount, and the median is reported with the range:
the same shape on the same cluster has moved between 119 and 219
allocations/s from one run to the next on this shared machine (2026-12-03),
more than a single run can be trusted with. BENCH_ALLOCATIONS sets the
allocations per writer (default 100), BENCH_ALLOCATION_ROUNDS the rounds
(default 3); BENCH_VAULTS=dev or raft runs one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.hostname_vaults import Target, dev_server, raft_standbys  # noqa: E402
from bench.plots import record  # noqa: E402
from provider.tarmak.hostnames.allocator import Hostnaming  # noqa: E402
from provider.tarmak.hostnames.records import HostnameKey, allocation_record, render  # noqa: E402
from provider.tarmak.hostnames.reserver import BatchReserver  # noqa: E402
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT  # noqa: E402
from provider.tarmak.settings import VaultSettings  # noqa: E402
from provider.tarmak.vault_kv import open_kv  # noqa: E402

PER_WRITER = int(os.environ.get("BENCH_ALLOCATIONS", "100"))
ROUNDS = int(os.environ.get("BENCH_ALLOCATION_ROUNDS", "3"))
# (writers, processes, floor): 8 writers as 8 processes, and as 8 threads of one
# process; the floor sends only the two writes of each allocation (writes_only).
SHAPES = ((1, 1, False), (8, 8, False), (8, 1, False), (8, 1, True))
VAULTS: dict[str, Callable[[Path], contextlib.AbstractContextManager[Target]]] = {
    "dev": dev_server,
    "raft": raft_standbys,
}


def writer(args: tuple[str, str, str | None, str, int, int]) -> tuple[list[int], list[int], float]:
    """One writer process: `count` allocations from each of `threads` threads sharing
    one BatchReserver, as one provider process makes them; the numbers, the CAS
    retries of each, and the CPU time it took."""
    address, token, ca_cert, mount, count, threads = args
    cpu = time.process_time()
    kv = open_kv(VaultSettings(address, token, ca_cert), mount)
    kv.check_mount()
    naming = Hostnaming(kv, sleep=time.sleep, reserver=BatchReserver())
    key = HostnameKey("bench", "web", "prod")
    numbers: list[int] = []
    retries: list[int] = []

    def allocate() -> None:
        for _ in range(count):
            allocation = naming.allocate(key, DEFAULT_FORMAT, reuse_released=False)
            numbers.append(allocation.number)
            retries.append(allocation.cas_retries)

    workers = [threading.Thread(target=allocate) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return numbers, retries, time.process_time() - cpu


def writes_only(
    args: tuple[str, str, str | None, str, int, int],
) -> tuple[list[int], list[int], float]:
    """The floor: what `writer` returns, for allocations that only write a record
    and a name (cas=0, at once), numbered in memory."""
    address, token, ca_cert, mount, count, threads = args
    cpu = time.process_time()
    kv = open_kv(VaultSettings(address, token, ca_cert), mount)
    kv.check_mount()
    key = HostnameKey("bench", "web", "prod")
    next_number = itertools.count(1).__next__  # atomic in CPython
    numbers: list[int] = []

    def allocate() -> None:
        with ThreadPoolExecutor(1) as alongside:
            for _ in range(count):
                number = next_number()
                name = render(DEFAULT_FORMAT, key, number)
                record = allocation_record(key, number, name, DEFAULT_FORMAT, mount)
                written = alongside.submit(kv.write, f"allocations/{key.path}/{number}", record, 0)
                kv.write(f"names/{name}", record, cas=0)
                written.result()
                numbers.append(number)

    workers = [threading.Thread(target=allocate) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return numbers, [0] * len(numbers), time.process_time() - cpu


def run(target: Target, writers: int, processes: int, floor: bool = False) -> dict[str, Any]:
    mount = f"bench-{secrets.token_hex(3)}"
    target.enable_kv2(mount)
    threads = writers // processes
    jobs = [
        (target.addresses[i % len(target.addresses)], target.token, target.ca_cert, mount)
        for i in range(processes)
    ]
    with ProcessPoolExecutor(processes) as pool:
        # The workers start (and import) before the clock does.
        list(pool.map(_warm, range(processes)))
        vault_cpu = target.cpu_seconds()
        started = time.perf_counter()
        work = writes_only if floor else writer
        results = list(pool.map(work, [(*job, PER_WRITER, threads) for job in jobs]))
        took = time.perf_counter() - started
        vault_cpu = target.cpu_seconds() - vault_cpu
    numbers = [n for ns, _, _ in results for n in ns]
    retries = [r for _, rs, _ in results for r in rs]
    writer_cpu = sum(cpu for _, _, cpu in results)
    assert sorted(numbers) == list(range(1, len(numbers) + 1)), "numbers must be unique"
    return {
        "writers": writers,
        "processes": processes,
        "floor": floor,
        "allocations_per_second": len(numbers) / took,
        "cas_retries_mean": statistics.mean(retries),
        "cas_retries_max": max(retries),
        # CPU per allocation, ms: what bounds the rate on a machine of few cores
        "vault_cpu_ms": vault_cpu / len(numbers) * 1000,
        "writer_cpu_ms": writer_cpu / len(numbers) * 1000,
    }


def median_row(made: list[dict[str, Any]]) -> dict[str, Any]:
    """One shape's rounds as one row: the median of each measure, the
    maximum of the CAS retries, and every round's rate."""
    row = {
        key: statistics.median(r[key] for r in made)
        for key in ("allocations_per_second", "cas_retries_mean", "vault_cpu_ms", "writer_cpu_ms")
    }
    return {
        "writers": made[0]["writers"],
        "processes": made[0]["processes"],
        "floor": made[0]["floor"],
        **row,
        "cas_retries_max": max(r["cas_retries_max"] for r in made),
        "rounds": [r["allocations_per_second"] for r in made],
    }


def _warm(_: int) -> None:
    import provider.tarmak.vault_kv  # noqa: F401


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tarmak-hostnaming-") as scratch:
        yield Path(scratch)


def main() -> None:
    chosen = os.environ.get("BENCH_VAULTS", "dev,raft").split(",")
    runs = []
    print(
        f"\nhostnaming: {PER_WRITER} allocations per writer, Vault on loopback; "
        f"medians of {ROUNDS} rounds (range)\n"
    )
    print(
        "| Vault | writers | processes | sends | allocations/s | CAS retries per allocation "
        "(mean) | max | CPU per allocation: Vault | writers |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for name in chosen:
        with scratch_dir() as scratch, VAULTS[name](scratch) as target:
            rounds = [[run(target, *shape) for shape in SHAPES] for _ in range(ROUNDS)]
        rows = [median_row([made[shape] for made in rounds]) for shape in range(len(SHAPES))]
        for row in rows:
            low, high = min(row["rounds"]), max(row["rounds"])
            print(
                f"| {target.label} | {row['writers']} | {row['processes']} | "
                f"{'two writes only (the floor)' if row['floor'] else 'the allocator'} | "
                f"{row['allocations_per_second']:.0f} ({low:.0f}-{high:.0f}) | "
                f"{row['cas_retries_mean']:.2f} | {row['cas_retries_max']} | "
                f"{row['vault_cpu_ms']:.1f} ms | {row['writer_cpu_ms']:.1f} ms |",
                flush=True,
            )
        runs.append({"label": target.label, "rows": rows})
    record("hostnaming", {"per_writer": PER_WRITER, "rounds": ROUNDS, "runs": runs})


if __name__ == "__main__":
    main()
