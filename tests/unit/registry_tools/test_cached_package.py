"""cached_package: one build per change of the sources, and a log of where a build's time went."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry_tools import build
from registry_tools.archive import zip_name
from registry_tools.platforms import Target

TARGET = Target("linux", "arm64")
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \d+ linux_arm64 \+\d+\.\ds (.+)$")


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """build_package replaced by one that reports two steps and writes an empty zip."""
    made: list[Path] = []

    def fake_build(
        target: Target, version: str, directory: Path, cache: Path, project: Path, progress
    ) -> Path:
        progress("wheels")
        progress("zipping")
        directory.mkdir(parents=True, exist_ok=True)
        built = directory / zip_name(version, target.name)
        built.write_bytes(b"")
        made.append(built)
        return built

    monkeypatch.setattr(build, "build_package", fake_build)
    return made


def test_a_build_is_logged_step_by_step_and_made_once(builds: list[Path], tmp_path: Path) -> None:
    first = build.cached_package(TARGET, "1.2.3", cache=tmp_path)
    again = build.cached_package(TARGET, "1.2.3", cache=tmp_path)

    assert first == again == builds[0] and len(builds) == 1
    lines = (tmp_path / "packages" / "build.log").read_text().splitlines()
    steps = [LINE.fullmatch(line) for line in lines]
    assert all(steps), lines
    assert [s.group(1) for s in steps if s] == [
        "wants a build",
        "build lock taken",
        "wheels",
        "zipping",
        "built",
    ]


def test_another_version_builds_again_and_replaces_the_old_build(
    builds: list[Path], tmp_path: Path
) -> None:
    old = build.cached_package(TARGET, "1.2.3", cache=tmp_path)
    new = build.cached_package(TARGET, "1.2.4", cache=tmp_path)

    assert len(builds) == 2 and new != old
    assert not old.exists() and new.exists()  # one build kept per platform
