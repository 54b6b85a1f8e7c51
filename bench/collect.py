"""`make bench`: every bench in one run, its tables published as printed.

Runs each bench script in turn (their output still reaches the terminal) and
writes what they printed to docs/benchmarks/latest-run.md, headed by when, at
which commit, on what machine and under what load the run was made. The
benchmarks page's summary is taken from this file, so the current figures are
always one run's, never a mix. A script that fails stops the run and
publishes nothing.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = (
    "run.py",
    "percall.py",
    "connector.py",
    "hostnaming.py",
    "package_start.py",
    "waits.py",
    "startup.py",
)


def load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        # what the benches write themselves (their JSON and pictures) is not a change
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head or 'unknown'}{' (with uncommitted changes)' if dirty else ''}"


def run_bench(script: Path) -> tuple[str, float, str, str]:
    """One bench: its printed output (also passed through), time taken, load before/after."""
    before = load()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # lines as they come, not at the end
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    if process.wait() != 0:
        sys.exit(f"{script.name} failed (exit code {process.returncode}); nothing published")
    return "".join(lines), time.monotonic() - started, before, load()


def publish(scripts: list[Path], target: Path) -> None:
    """Run `scripts` in turn and write what they printed to `target`."""
    started = datetime.datetime.now(datetime.UTC)
    measured = commit()  # the code measured: what is checked out when the run starts
    sections = []
    for script in scripts:
        output, took, before, after = run_bench(script)
        sections.append(
            f"## bench/{script.name}\n\n{took / 60:.1f} min; load average (1/5/15 min) "
            f"{before} at the start, {after} at the end.\n\n```text\n{output.strip()}\n```\n"
        )
    header = (
        "# The latest `make bench` run\n\n"
        "Written by `bench/collect.py` at the end of `make bench`: what each bench\n"
        "printed, in one run. The summary at the top of\n"
        "[the benchmarks page](../benchmarks.md) is taken from it.\n\n"
        f"- started: {started:%Y-%m-%d %H:%M} UTC, finished "
        f"{datetime.datetime.now(datetime.UTC):%H:%M} UTC\n"
        f"- commit: {measured}\n"
        f"- machine: {os.cpu_count()} CPUs, {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}\n\n"
    )
    target.write_text(header + "\n".join(sections))
    print(f"\npublished {target}")


def main() -> None:
    publish(
        [ROOT / "bench" / name for name in BENCHES],
        ROOT / "docs" / "benchmarks" / "latest-run.md",
    )


if __name__ == "__main__":
    main()
