"""Start a built package the way Terraform does and wait for go-plugin's handshake line.

amd64 runs natively. arm64 runs through Debian's qemu-user-static: with the
kernel's binfmt_misc handler for aarch64 registered (qemu-user-static's
/usr/lib/binfmt.d/qemu-aarch64.conf, flag F), the launcher and its exec of
the bundled loader both run as they would on an arm64 host. Without binfmt
(an unprivileged container), qemu-aarch64-static cannot follow the
launcher's execve, so the loader is started under qemu with the launcher's
own arguments (see `launcher_argv`).
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from pathlib import Path

from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from registry_tools.arch import LINUX_MACHINES
from registry_tools.launcher import LOADERS, PYTHON_ARGS
from registry_tools.platforms import Target

BINFMT = Path("/proc/sys/fs/binfmt_misc")
BINFMT_RULE = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
# Under qemu an arm64 start takes a few seconds on this machine.
START_TIMEOUT = 120


class SmokeError(Exception):
    pass


def native(target: Target) -> bool:
    return LINUX_MACHINES[target.arch] == platform.machine()


def binfmt_registered(arch: str = "aarch64") -> bool:
    return (BINFMT / f"qemu-{arch}").exists()


def register_binfmt(arch: str = "aarch64") -> bool:
    """Register qemu-user-static's handler when we may (root, binfmt_misc mountable)."""
    if binfmt_registered(arch):
        return True
    rule = Path(f"/usr/lib/binfmt.d/qemu-{arch}.conf")
    if not rule.exists() or os.geteuid() != 0:
        return False
    try:
        if not (BINFMT / "register").exists():
            subprocess.run(
                ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
                check=True,
                capture_output=True,
            )
        (BINFMT / "register").write_text(rule.read_text().strip())
    except (OSError, subprocess.CalledProcessError):
        return False
    return binfmt_registered(arch)


def launcher_argv(executable: Path, arch: str, *args: str) -> list[str]:
    """What the launcher execs (launcher.c), for running it under qemu without binfmt."""
    runtime = executable.parent / "runtime"
    return [
        str(runtime / "lib" / LOADERS[arch]),
        "--inhibit-cache",
        "--library-path",
        str(runtime / "lib"),
        str(runtime / "bin" / "python3.11"),
        *PYTHON_ARGS,
        *args,
    ]


def package_argv(target: Target, executable: Path, *args: str) -> list[str]:
    """How to run `executable` (the launcher) with `args` on this machine."""
    if native(target) or (target.arch == "arm64" and register_binfmt()):
        return [str(executable), *args]
    if target.arch == "arm64":
        return ["qemu-aarch64-static", *launcher_argv(executable, "arm64", *args)]
    raise SmokeError(f"cannot run {target.name} packages on {platform.machine()}")


def how_it_runs(target: Target) -> str:
    if native(target):
        return "natively"
    if target.arch == "arm64":
        return "under qemu-user-static" + (" (binfmt)" if register_binfmt() else "")
    return "it cannot run here"


def start_package(target: Target, executable: Path) -> str:
    """Start it with Terraform's environment; return the handshake line. Then check
    that `<exe> connector` runs the connector from the same package."""
    executable = executable.resolve()
    env = {
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        # Only its presence matters to the server: it then serves TLS (AutoMTLS).
        "PLUGIN_CLIENT_CERT": "set",
        "PATH": "/nonexistent",  # nothing from the host's PATH
    }
    with tempfile.TemporaryDirectory(prefix="tarmak-smoke-") as home:
        env["TMPDIR"] = home
        # Its socket directory goes here too: it is killed after the line, and
        # could not remove a directory of its own in /tmp.
        env["PLUGIN_UNIX_SOCKET_DIR"] = home
        proc = subprocess.Popen(
            package_argv(target, executable),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=home,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode(errors="replace").strip()
        finally:
            proc.kill()
            _, stderr = proc.communicate(timeout=START_TIMEOUT)
    if not line.startswith("1|"):
        raise SmokeError(
            f"the built package did not start: {line!r}\n{stderr.decode(errors='replace')[-2000:]}"
        )
    connector = subprocess.run(
        package_argv(target, executable, "connector", "--help"),
        env={"PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    if connector.returncode != 0 or "tarmak-connector" not in connector.stdout:
        raise SmokeError(f"`connector --help` failed:\n{connector.stderr[-2000:]}")
    return line
