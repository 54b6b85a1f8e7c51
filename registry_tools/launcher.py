"""Compile the static launcher (launcher.c) for one Linux architecture.

Debian's gcc builds the amd64 one and its aarch64 cross compiler
(gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) the arm64 one, both against
static glibc; `make system-packages` installs them. About 700 KB each.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from registry_tools.elf import read_elf

SOURCE = Path(__file__).with_name("launcher.c")
COMPILERS = {"amd64": "gcc", "arm64": "aarch64-linux-gnu-gcc"}
LOADERS = {"amd64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}


class LauncherError(Exception):
    pass


def build_launcher(arch: str, output: Path) -> Path:
    compiler = COMPILERS[arch]
    if shutil.which(compiler) is None:
        raise LauncherError(f"{compiler} is missing: run `make system-packages`")
    argv = [compiler, "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror"]
    argv += [f'-DLOADER="{LOADERS[arch]}"', "-o", str(output), str(SOURCE)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LauncherError(f"{compiler} failed:\n{proc.stderr}")
    info = read_elf(output)
    if info.interpreter is not None or info.needed or info.machine != MACHINES[arch]:
        raise LauncherError(f"{output} is not a static {MACHINES[arch]} executable: {info}")
    output.chmod(0o755)
    return output
