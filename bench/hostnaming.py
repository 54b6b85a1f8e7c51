"""tarmak_hostname's allocator against a real OpenBao -dev (part of `make bench`).

Allocations per second from 1 and from 8 concurrent writers (separate
processes, all on one counter), and the CAS retries each allocation needed.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hvac  # noqa: E402

from bench.plots import record  # noqa: E402
from devenv.vault import OpenBaoServer  # noqa: E402
from provider.tarmak.hostnames.allocator import Hostnaming  # noqa: E402
from provider.tarmak.hostnames.records import HostnameKey  # noqa: E402
from provider.tarmak.hostnames.rules import DEFAULT_FORMAT  # noqa: E402
from provider.tarmak.settings import VaultSettings  # noqa: E402
from provider.tarmak.vault_kv import KV2, client_for  # noqa: E402

PER_WRITER = int(os.environ.get("BENCH_ALLOCATIONS", "100"))


def writer(args: tuple[str, str, str, int]) -> tuple[list[int], list[int]]:
    address, token, mount, count = args
    naming = Hostnaming(KV2(client_for(VaultSettings(address, token)), mount), sleep=time.sleep)
    key = HostnameKey("bench", "web", "prod")
    numbers, retries = [], []
    for _ in range(count):
        allocation = naming.allocate(key, DEFAULT_FORMAT, reuse_released=False)
        numbers.append(allocation.number)
        retries.append(allocation.cas_retries)
    return numbers, retries


def run(vault: OpenBaoServer, writers: int) -> tuple[float, float, int]:
    endpoint = vault.endpoint
    mount = f"bench-{secrets.token_hex(3)}"
    hvac.Client(url=endpoint.address, token=endpoint.token).sys.enable_secrets_engine(
        "kv", path=mount, options={"version": "2"}
    )
    jobs = [(endpoint.address, endpoint.token or "", mount, PER_WRITER)] * writers
    started = time.perf_counter()
    with ProcessPoolExecutor(writers) as pool:
        results = list(pool.map(writer, jobs))
    took = time.perf_counter() - started
    numbers = [n for ns, _ in results for n in ns]
    retries = [r for _, rs in results for r in rs]
    assert sorted(numbers) == list(range(1, len(numbers) + 1)), "numbers must be unique"
    return len(numbers) / took, statistics.mean(retries), max(retries)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        vault = OpenBaoServer(Path(scratch), dev=True).start()
        try:
            print(f"\nhostnaming: {PER_WRITER} allocations per writer, OpenBao -dev on loopback\n")
            print("| writers | allocations/s | CAS retries per allocation (mean) | max |")
            print("|---:|---:|---:|---:|")
            rows = []
            for writers in (1, 8):
                rate, mean, worst = run(vault, writers)
                print(f"| {writers} | {rate:.0f} | {mean:.2f} | {worst} |")
                rows.append(
                    {
                        "writers": writers,
                        "allocations_per_second": rate,
                        "cas_retries_mean": mean,
                        "cas_retries_max": worst,
                    }
                )
        finally:
            vault.stop()
    record("hostnaming", {"per_writer": PER_WRITER, "runs": [{"label": "this run", "rows": rows}]})


if __name__ == "__main__":
    main()
