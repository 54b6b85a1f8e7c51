"""The pictures on docs/benchmarks.md, drawn from the results the benches save.

bench/run.py, bench/waits.py and bench/hostnaming.py each end by saving what
they measured as JSON (`record`), with the date and the load average, and
drawing their picture from it. `python bench/plots.py` draws all three again
from the saved files (the last step of `make bench`):

- startup.png: handshake, full start, apply and plan of 100 resources, ours
  against the Go null provider, the framework-free floor and both Python peers,
  and apply and plan of 1,000 against the Go provider and the floor;
- waits.png: Tarmak's answer -> apply complete, and Ctrl-C -> Terraform exited,
  against the number of waiting resources, per Terraform release;
- hostnaming.png: hostname allocations per second against concurrent writers.

BENCH_RESULTS names another directory for both (the tests use one of their own).
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS", ROOT / "docs" / "benchmarks"))


def record(name: str, results: dict[str, Any]) -> Path | None:
    """Save one bench's results as <name>.json and draw its picture; the picture's
    path, or None when matplotlib is missing (the JSON is saved either way)."""
    directory = results_dir()
    directory.mkdir(parents=True, exist_ok=True)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    document = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "conditions": f"{os.cpu_count()} cores, load average {load} at the end",
        **results,
    }
    path = directory / f"{name}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    try:
        return draw(name, directory)
    except ImportError:
        print(f"saved {path}; no picture: matplotlib is missing (make install)", file=sys.stderr)
        return None


def draw(name: str, directory: Path) -> Path:
    """Draw <name>.png from <name>.json in `directory`."""
    import matplotlib

    matplotlib.use("Agg")
    results = json.loads((directory / f"{name}.json").read_text())
    target = directory / f"{name}.png"
    figure = DRAWERS[name](results)
    figure.savefig(target, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return target


def _subtitle(results: dict[str, Any], width: int = 100) -> str:
    return textwrap.fill(f"From the run of {results['date']}: {results['conditions']}", width)


# The providers of the start-up picture, in the order drawn: (key, label, colour).
PROVIDERS = [
    ("go-null", "Go null 2.1.2", "#4c72b0"),
    ("floor", "`import grpc` alone", "#bbbbbb"),
    ("ours", "ours (protocol core)", "#dd8452"),
    ("tarmak", "the whole tarmak provider", "#c44e52"),
    ("bare", "floor: bare grpcio-tools null", "#8c8c8c"),
    ("tfnull", "hfern tf 1.2.0", "#55a868"),
    ("pyvnull", "pyvider 0.8.1", "#8172b3"),
]


def startup(results: dict[str, Any]) -> Any:
    """Four panels (handshake, full start, apply 100, plan 100), a bar per provider,
    and two more (apply and plan of 1,000) when the run measured them."""
    import matplotlib.pyplot as plt

    panels: list[tuple[dict[str, float], str]] = [
        (results["handshake"], "handshake (exec -> handshake line)"),
        (results["full_start"], "full start (handshake, TLS, schema, Shutdown)"),
        (results["apply"], "terraform apply, 100 resources"),
        (results["plan"], "terraform plan, 100 resources"),
    ]
    large = results.get("large")
    if large:
        count = f"{large['count']:,}"
        panels += [
            (large["apply"], f"terraform apply, {count} resources"),
            (large["plan"], f"terraform plan, {count} resources"),
        ]
    rows = len(panels) // 2
    figure, axes = plt.subplots(rows, 2, figsize=(11, 3.5 * rows), layout="constrained")
    for axis, (measured, title) in zip(axes.flat, panels, strict=True):
        shown = [(label, measured[k] * 1000, c) for k, label, c in PROVIDERS if k in measured]
        labels = [label for label, _, _ in shown]
        values = [value for _, value, _ in shown]
        bars = axis.barh(labels, values, color=[c for _, _, c in shown])
        axis.bar_label(bars, fmt="%.0f ms", padding=3, fontsize=8)
        axis.invert_yaxis()
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("ms (median)")
        axis.set_xlim(0, max(values) * 1.25)
    figure.suptitle(f"Start-up against the Go provider and the Python peers\n{_subtitle(results)}")
    return figure


def waits(results: dict[str, Any]) -> Any:
    """Seconds against waiting resources: after the answer, and after Ctrl-C."""
    import matplotlib.pyplot as plt

    figure, (release, interrupt) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    by_release: dict[str, list[dict[str, Any]]] = {}
    for run in results["runs"]:
        by_release.setdefault(run["terraform"], []).append(run)
    colours = ["#4c72b0", "#dd8452", "#55a868", "#8172b3"]
    for (version, runs), colour in zip(sorted(by_release.items()), colours * 4, strict=False):
        runs.sort(key=lambda run: run["count"])
        counts = [run["count"] for run in runs]
        name = f"Terraform {version}"
        release.plot(
            counts, [r["answer_to_complete"] for r in runs], "o-", color=colour, label=name
        )
        release.plot(
            counts,
            [r["floor"] for r in runs],
            "s--",
            color=colour,
            alpha=0.6,
            label=f"{name}: testing_null that do nothing (floor)",
        )
        interrupt.plot(counts, [r["ctrl_c_to_exit"] for r in runs], "o-", color=colour, label=name)
        interrupt.plot(
            counts,
            [r["ctrl_c_to_last_cancel"] for r in runs],
            "^:",
            color=colour,
            alpha=0.6,
            label=f"{name}: SIGINT -> the provider's last wait ended",
        )
    interrupt.axhline(2.0, color="#c44e52", linewidth=1, label="target: 2 s")
    release.set_title("Tarmak's answer -> apply complete", fontsize=10)
    interrupt.set_title("Ctrl-C -> Terraform exited", fontsize=10)
    for axis in (release, interrupt):
        axis.set_xlabel("tarmak_bastion_instance waiting at once")
        axis.set_ylabel("seconds")
        axis.set_ylim(bottom=0)
        axis.set_xlim(left=0, right=max(r["count"] for r in results["runs"]) * 1.1)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    figure.suptitle(f"Waiting resources, per Terraform release\n{_subtitle(results)}")
    return figure


def hostnaming(results: dict[str, Any]) -> Any:
    """Allocations per second against concurrent writers, one line per run."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    for number, run in enumerate(results["runs"], 1):
        label = run.get("label", f"run {number}")
        # one writer per process; rows of threads sharing one process get a marker,
        # and the floor (two writes per allocation, no allocator) another
        floors = [r for r in run["rows"] if r.get("floor")]
        allocating = [r for r in run["rows"] if not r.get("floor")]
        apart = [r for r in allocating if r.get("processes", r["writers"]) == r["writers"]]
        rows = sorted(apart, key=lambda row: row["writers"])
        (line,) = axis.plot(
            [row["writers"] for row in rows],
            [row["allocations_per_second"] for row in rows],
            "o-",
            label=label,
        )
        shared = [r for r in allocating if r not in apart]
        for marked, marker, size, what in (
            (floors, "+", 11, "two writes only, threads of one (the floor)"),
            (shared, "x", 9, "threads of one process"),
        ):
            if marked:
                axis.plot(
                    [row["writers"] for row in marked],
                    [row["allocations_per_second"] for row in marked],
                    marker,
                    markersize=size,
                    color=line.get_color(),
                    label=f"{label}: {what}",
                )
    axis.set_xlabel("writers (separate processes; x: threads of one; +: its floor; one counter)")
    axis.set_ylabel("allocations per second")
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_xlim(left=0)
    axis.set_title(f"tarmak_hostname allocations\n{_subtitle(results, 70)}", fontsize=9)
    return figure


DRAWERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "startup": startup,
    "waits": waits,
    "hostnaming": hostnaming,
}


def main() -> None:
    directory = results_dir()
    for name in DRAWERS:
        if (directory / f"{name}.json").exists():
            print(f"drew {draw(name, directory)}")
        else:
            print(f"no {name}.json in {directory}: run its bench first", file=sys.stderr)


if __name__ == "__main__":
    main()
