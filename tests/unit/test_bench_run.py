"""make bench's rounds (bench/run.py): every case once in every round, and not
always right after the same other one; the hostname part's CPU table."""

from __future__ import annotations

import os
import statistics
import time

import pytest

from bench.run import HOSTNAME_SIDES, medians, print_hostname_cpu
from devenv.processes import cpu_seconds


def test_every_round_runs_every_case_once_in_an_order_of_its_own() -> None:
    ran: list[str] = []
    names = ("ours", "go", "floor", "peer")

    def case(name: str) -> float:
        ran.append(name)
        return float(len(ran))  # its place in the whole run

    found = medians({n: (lambda n=n: case(n)) for n in names}, runs=8)
    rounds = [ran[i : i + 4] for i in range(0, len(ran), 4)]
    assert len(rounds) == 8 and all(sorted(r) == sorted(names) for r in rounds)
    previous = {n: {ran[i - 1] for i, m in enumerate(ran) if m == n and i > 0} for n in names}
    assert all(len(before) >= 2 for before in previous.values()), previous
    places = {n: [i + 1.0 for i, m in enumerate(ran) if m == n] for n in names}
    assert found == {n: statistics.median(places[n]) for n in names}
    # the same order in every make bench, so runs compare
    again: list[str] = []
    medians({n: (lambda n=n: again.append(n) or 0.0) for n in names}, runs=8)
    assert again == ran


def test_the_hostname_cpu_table_has_a_row_per_side_with_its_wall_and_cpu_times(
    capsys: pytest.CaptureFixture[str],
) -> None:
    walls = {side: 1.0 + i for i, side in enumerate(HOSTNAME_SIDES)}
    runs = (
        walls
        | {f"cpu-{side}": 2.0 * wall for side, wall in walls.items()}
        | {f"vault-cpu-{side}": 0.01 * wall for side, wall in walls.items()}
    )
    print_hostname_cpu(runs)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "ms" in line]
    assert len(rows) == len(HOSTNAME_SIDES)
    assert rows[0] == "| `tarmak_hostname` (OpenBao -dev) | 1000 ms | 2000 ms | 10 ms |"
    assert rows[-1] == "| `null_resource` | 5000 ms | 10000 ms | 50 ms |"


def test_cpu_seconds_counts_what_a_process_has_used() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.03  # clock ticks are 10 ms
