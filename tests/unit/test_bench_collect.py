"""make bench publishes one run's tables (bench/collect.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.collect import publish


def script(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(body)
    return path


def test_what_each_bench_printed_is_published_with_when_and_where(tmp_path: Path) -> None:
    first = script(tmp_path, "first.py", "print('| a | 1 ms |')\n")
    second = script(tmp_path, "second.py", "print('| b | 2 ms |')\n")
    target = tmp_path / "latest-run.md"
    publish([first, second], target)
    text = target.read_text()
    assert text.index("## bench/first.py") < text.index("| a | 1 ms |")
    assert text.index("| a | 1 ms |") < text.index("## bench/second.py")
    assert "| b | 2 ms |" in text
    assert "- commit: " in text and "load average" in text and "UTC" in text


def test_a_failing_bench_publishes_nothing(tmp_path: Path) -> None:
    good = script(tmp_path, "good.py", "print('fine')\n")
    bad = script(tmp_path, "bad.py", "import sys; sys.exit(3)\n")
    target = tmp_path / "latest-run.md"
    with pytest.raises(SystemExit, match=r"bad\.py failed"):
        publish([good, bad], target)
    assert not target.exists()
