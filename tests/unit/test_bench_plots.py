"""bench/plots.py draws docs/benchmarks/*.png from the results the benches save."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import plots

PNG = b"\x89PNG\r\n\x1a\n"

SAMPLES = {
    "startup": {
        "runs": 3,
        "handshake": {"ours": 0.1, "floor": 0.06, "go-null": 0.03, "tfnull": 0.11},
        "full_start": {"ours": 0.12, "go-null": 0.04, "pyvnull": 0.5},
        "apply": {"ours": 0.9, "go-null": 0.6, "bare": 0.8},
        "plan": {"ours": 0.6, "go-null": 0.4},
        "starts": {"apply": 4, "plan": 3},
        "hostname": {"hostname": 1.4, "null": 0.7},
        "large": {
            "count": 1000,
            "runs": 2,
            "apply": {"ours": 15.3, "go-null": 16.7, "bare": 15.8},
            "plan": {"ours": 4.6, "go-null": 3.0, "bare": 4.1},
        },
    },
    "waits": {
        "runs": [
            {
                "terraform": v,
                "count": n,
                "answer_to_complete": n / 50,
                "floor": n / 70,
                "ctrl_c_to_exit": 1.2,
                "ctrl_c_to_last_cancel": None if n == 500 else 0.3,
                "threads": 8,
                "rss_mib": 100,
            }
            for v in ("1.0.3", "1.15.5")
            for n in (500, 2000)
        ]
    },
    "hostnaming": {
        "per_writer": 100,
        "runs": [
            {
                "label": "this run",
                "rows": [
                    {
                        "writers": 1,
                        "allocations_per_second": 200,
                        "cas_retries_mean": 0,
                        "cas_retries_max": 0,
                    },
                    {
                        "writers": 8,
                        "allocations_per_second": 220,
                        "cas_retries_mean": 0.7,
                        "cas_retries_max": 10,
                    },
                    {
                        "writers": 8,
                        "processes": 1,
                        "allocations_per_second": 150,
                        "cas_retries_mean": 0,
                        "cas_retries_max": 0,
                    },
                    {
                        "writers": 8,
                        "processes": 1,
                        "floor": True,
                        "allocations_per_second": 190,
                        "cas_retries_mean": 0,
                        "cas_retries_max": 0,
                    },
                ],
            }
        ],
    },
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_record_saves_json_and_draws_png(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path))
    drawn = plots.record(name, SAMPLES[name])
    assert drawn == tmp_path / f"{name}.png"
    assert drawn.read_bytes().startswith(PNG)
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    assert saved["date"] and "cores" in saved["conditions"]


def test_main_redraws_every_saved_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path))
    for name, results in SAMPLES.items():
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"date": "2026-12-02", "conditions": "a test", **results})
        )
    plots.main()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "hostnaming.png",
        "startup.png",
        "waits.png",
    ]


def test_the_recorded_results_on_the_benchmarks_page_draw(tmp_path: Path) -> None:
    """docs/benchmarks/*.json (what the page's pictures come from) stay drawable."""
    recorded = plots.ROOT / "docs" / "benchmarks"
    for name in plots.DRAWERS:
        (tmp_path / f"{name}.json").write_text((recorded / f"{name}.json").read_text())
        assert plots.draw(name, tmp_path).read_bytes().startswith(PNG)
