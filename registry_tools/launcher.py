"""Compile the static launcher (launcher.c) for one Linux architecture.

Debian's gcc builds the amd64 one and its aarch64 cross compiler
(gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) the arm64 one, both against
static glibc; `make system-packages` installs them.

The interpreter's arguments live here and are compiled into the launcher,
so the launcher and `registry_tools.smoke` (which runs the loader itself
under qemu when binfmt is not available) cannot drift apart.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from registry_tools.arch import LINUX_MACHINES
from registry_tools.elf import read_elf

SOURCE = Path(__file__).with_name("launcher.c")
COMPILERS = {"amd64": "gcc", "arm64": "aarch64-linux-gnu-gcc"}
LOADERS = {"amd64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}
# Where the launcher keeps the real stderr while stderr points at stdout (launcher.c).
STDERR_FD_VARIABLE = "TARMAK_LAUNCHER_STDERR_FD"
# "<fd>,<pid>": the pipe on which the bootstrap tells the stderr holder that
# Python runs, and the holder's pid, to reap it (launcher.c says why it exists).
STARTED_VARIABLE = "TARMAK_LAUNCHER_STARTED"
# Puts stderr back, lets the holder go, then runs provider.main exactly as
# `-m provider.main` does.
BOOTSTRAP = (
    "import os, runpy\n"
    f"fd = os.environ.pop('{STDERR_FD_VARIABLE}', '')\n"
    "if fd.isdigit():\n"
    "    os.dup2(int(fd), 2)\n"
    "    os.close(int(fd))\n"
    f"started = os.environ.pop('{STARTED_VARIABLE}', '').split(',')\n"
    "if len(started) == 2 and all(part.isdigit() for part in started):\n"
    # Each step on its own: a holder already gone fails the write, and its pipe must
    # still close and the holder still be reaped.
    "    try:\n"
    "        os.write(int(started[0]), b'.')\n"
    "    except OSError:\n"
    "        pass\n"
    "    try:\n"
    "        os.close(int(started[0]))\n"
    "    except OSError:\n"
    "        pass\n"
    "    try:\n"
    "        os.waitpid(int(started[1]), 0)\n"
    "    except OSError:\n"
    "        pass\n"
    "del fd, started\n"
    "runpy._run_module_as_main('provider.main')\n"
)
# -I: no PYTHON* variables, user site or current directory from the host.
PYTHON_ARGS = ("-I", "-X", "utf8", "-c", BOOTSTRAP)


class LauncherError(Exception):
    pass


def c_string_list(values: tuple[str, ...]) -> str:
    """`"a", "b"` as C string literals (JSON's escapes are C's for ASCII text)."""
    return ", ".join(json.dumps(value, ensure_ascii=True) for value in values)


def build_launcher(arch: str, output: Path) -> Path:
    compiler = COMPILERS[arch]
    if shutil.which(compiler) is None:
        raise LauncherError(f"{compiler} is missing: run `make system-packages`")
    argv = [compiler, "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror"]
    argv += [f'-DLOADER="{LOADERS[arch]}"', f'-DSTDERR_FD_VARIABLE="{STDERR_FD_VARIABLE}"']
    argv += [f'-DSTARTED_VARIABLE="{STARTED_VARIABLE}"']
    argv += [f"-DPYTHON_ARGS={c_string_list(PYTHON_ARGS)}"]
    argv += ["-o", str(output), str(SOURCE)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LauncherError(f"{compiler} failed:\n{proc.stderr}")
    info = read_elf(output)
    wanted = LINUX_MACHINES[arch]
    if info.interpreter is not None or info.needed or info.machine != wanted:
        raise LauncherError(f"{output} is not a static {wanted} executable: {info}")
    output.chmod(0o755)
    return output
