"""make bench's rounds (bench/run.py): every case once in every round, and not
always right after the same other one."""

from __future__ import annotations

import statistics

from bench.run import medians


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
