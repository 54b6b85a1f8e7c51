"""The shell blocks of README.md and docs/*.md do what they say.

A block preceded by the line `<!-- runnable -->` must work when pasted at the
repository's root after `make install`: each runs here with `bash -e` in a
copy of the repository (whose `.venv` is this test's virtualenv), so nothing
it writes stays. Every shell block must name the project's programs as
`.venv/bin/...`: `make install` puts nothing on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from devenv.scratch import short_directory

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- runnable -->"
SHELL = {"sh", "bash", "shell", "console"}
TIME_LIMIT = 120  # seconds per block
# Programs `make install` puts in .venv/bin, or that must come from there.
VENV_PROGRAMS = {
    "registry-tools",
    "tarmak-controller",
    "tarmak-connector",
    "terraform-provider-tarmak",
    "python",
    "pytest",
    "ruff",
}
COPY_IGNORES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "*.egg-info",
    ".terraform",
)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    runnable: bool

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    """README.md and the hand-written pages of docs/ (its subdirectories are generated)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def fenced_blocks(path: Path) -> tuple[list[Block], list[int]]:
    """The fenced blocks of a Markdown file, and the lines of marks that precede
    no shell block."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    stray_marks: list[int] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped == MARK:
            following = index + 1
            while following < len(lines) and not lines[following].strip():
                following += 1
            fence = lines[following].strip() if following < len(lines) else ""
            if not (fence.startswith("```") and fence[3:].strip() in SHELL):
                stray_marks.append(index + 1)
        if stripped.startswith("```"):
            indent = len(line) - len(line.lstrip())
            language = stripped[3:].strip()
            body = []
            end = index + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                body.append(lines[end][indent:])
                end += 1
            previous = index - 1
            while previous >= 0 and not lines[previous].strip():
                previous -= 1
            runnable = previous >= 0 and lines[previous].strip() == MARK
            blocks.append(Block(path, index + 1, language, "\n".join(body) + "\n", runnable))
            index = end
        index += 1
    return blocks, stray_marks


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in fenced_blocks(path)[0]]


RUNNABLE = [block for block in all_blocks() if block.runnable and block.language in SHELL]


def test_some_blocks_are_marked_runnable() -> None:
    assert RUNNABLE, f"no block in README.md or docs/*.md is preceded by {MARK}"


def test_every_mark_precedes_a_shell_block() -> None:
    stray = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in documents()
        for line in fenced_blocks(path)[1]
    ]
    assert not stray, f"{MARK} followed by no shell block: {', '.join(stray)}"


def test_runnable_blocks_are_shell() -> None:
    wrong = [b.name for b in all_blocks() if b.runnable and b.language not in SHELL]
    assert not wrong, f"marked runnable but not a shell block: {wrong}"


def commands(text: str) -> list[str]:
    """The first word of each command line (env assignments and `$ ` skipped);
    continuation lines (indented, or after a backslash) are not commands."""
    found = []
    continued = False
    for line in text.splitlines():
        starts_command = not continued and line[:1] not in (" ", "\t", "")
        continued = line.rstrip().endswith("\\")
        if not starts_command or line.startswith("#"):
            continue
        words = line.removeprefix("$ ").split()
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", words[0]):
            words.pop(0)
        if words:
            found.append(words[0])
    return found


def test_commands_name_the_virtualenv_programs() -> None:
    bare = [
        f"{block.name}: {word}"
        for block in all_blocks()
        if block.language in SHELL
        for word in commands(block.text)
        if word in VENV_PROGRAMS
    ]
    assert not bare, (
        "shell blocks run programs that are not on PATH (write .venv/bin/NAME): " + "; ".join(bare)
    )


def test_commands_are_read_as_a_user_types_them() -> None:
    text = (
        "FOO=1 .venv/bin/python -m x\n"
        "registry-tools new-key \\\n"
        "  --out key.asc\n"
        "$ tarmak-controller --config env.yaml --exec 'docker exec -i C\n"
        "    tarmak-connector'\n"
        "# python in a comment\n"
    )
    assert commands(text) == [".venv/bin/python", "registry-tools", "tarmak-controller"]


def virtualenv() -> Path:
    """The repository's .venv, or the virtualenv running the tests."""
    venv = ROOT / ".venv"
    return venv.resolve() if venv.exists() else Path(sys.prefix)


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.name for block in RUNNABLE])
def test_runnable_block_works_from_the_root(block: Block, tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    shutil.copytree(ROOT, root, symlinks=True, ignore=COPY_IGNORES)
    (root / ".venv").symlink_to(virtualenv())
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONPATH"] = str(root)  # the copy's code, not the one the venv was installed from
    # A block's temporary files (publishing.md's `mktemp -d` holds a release key and
    # a CA key) go to a directory removed afterwards, not to /tmp. It is short:
    # gpg's agent puts its socket in a home made there (a tmp_path under xdist is
    # too long for a socket's path).
    with short_directory("tk-doc-") as scratch:
        env["TMPDIR"] = str(scratch)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.text],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 0, (
        f"{block.name} failed ({result.returncode}):\n{block.text}\n"
        f"stdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-2000:]}"
    )
