"""A bare container made on this machine, in the shape users run Terraform in.

The root filesystem holds a static busybox (Debian busybox-static), the
static `terraform` binary, a CA certificate, /etc/hosts and a CLI config:
no Python, no libc, no dynamic loader. Like docker, the container gets /proc
and the basic /dev nodes (null, zero, full, random, urandom) at start.
It runs under `unshare` with its own mount, PID and network namespaces; the
network namespace has only loopback, so the only ways in are exec'd processes,
as with Tarmak's container:

- `Container.exec_argv(...)` is `nsenter` into all three namespaces and the
  container's root, playing `docker exec -i CONTAINER ...`;
- `Container.netns_argv(...)` runs a host program inside the container's
  network namespace only (the registry server: it listens on the
  container's loopback but reads its files from the host).

Needs root (unshare, chroot, nsenter), as docker does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devenv.processes import stop_pid

BUSYBOX = Path("/bin/busybox")
TERRAFORM_IN_CONTAINER = "/usr/local/bin/terraform"
CA_IN_CONTAINER = "/etc/ssl/certs/ca-certificates.crt"
CLI_CONFIG_IN_CONTAINER = "/root/.terraformrc"
PATH_IN_CONTAINER = "/usr/local/bin:/bin"
UNSHARE = ["unshare", "--mount", "--pid", "--net", "--fork", "--kill-child"]
# PID 1 of the container: mount /proc, make the device nodes every container runtime
# gives (grpcio's abseil seeds itself from /dev/urandom), bring loopback up, then wait.
_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}
_INIT = " && ".join(
    [
        "mount -t proc proc /proc",
        "mount -t tmpfs -o mode=755 dev /dev",
        *(
            f"mknod -m 666 /dev/{name} c {major} {minor}"
            for name, (major, minor) in _DEVICES.items()
        ),
        "ip link set lo up",
        "exec sleep 2147483647",
    ]
)


class ContainerError(Exception):
    pass


def is_static(path: Path) -> bool:
    """True for an ELF executable with no PT_INTERP (runs without any libc)."""
    out = subprocess.run(["file", "-L", str(path)], capture_output=True, text=True).stdout
    return "statically linked" in out


def build_rootfs(root: Path, terraform: Path, ca_cert: Path, cli_config: str) -> Path:
    """Lay out the container's root filesystem in `root`."""
    for binary in (BUSYBOX, terraform):
        if not is_static(binary):
            raise ContainerError(
                f"{binary} is not statically linked; it cannot run in the container"
            )
    for directory in (
        "bin",
        "usr/local/bin",
        "etc/ssl/certs",
        "root",
        "tmp",
        "proc",
        "dev",
        "work",
    ):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    shutil.copy2(terraform, root / TERRAFORM_IN_CONTAINER.lstrip("/"))
    shutil.copy2(ca_cert, root / CA_IN_CONTAINER.lstrip("/"))
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    (root / CLI_CONFIG_IN_CONTAINER.lstrip("/")).write_text(cli_config)
    return root


@dataclass
class Container:
    """The running container: unshare + chroot, PID 1 a busybox `sleep`."""

    root: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    pid: int = field(default=0, init=False)  # the container's PID 1, as the host sees it

    def start(self, timeout: float = 10) -> Container:
        self.process = subprocess.Popen(
            [*UNSHARE, "chroot", str(self.root), "/bin/sh", "-c", _INIT],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pid = self._init_pid()
            if self.pid and self._ready():
                return self
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise ContainerError(f"the container did not start: {stderr}")
            time.sleep(0.05)
        self.stop()
        raise ContainerError(f"the container was not ready within {timeout:.0f}s")

    def _init_pid(self) -> int:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            first = children.read_text().split()
        except OSError:
            return 0
        return int(first[0]) if first else 0

    def _ready(self) -> bool:
        """PID 1 has become `sleep`: /proc is mounted and loopback is up."""
        try:
            return Path(f"/proc/{self.pid}/comm").read_text().strip() == "sleep"
        except OSError:
            return False

    def exec_argv(self, argv: Sequence[str], workdir: str = "/") -> list[str]:
        """`docker exec -i CONTAINER argv...`, with nsenter."""
        # The container's own view of its root (with its /proc mount), not the host's path.
        inside = f"/proc/{self.pid}/root"
        namespaces = ["-m", "-p", "-n", f"--root={inside}", f"--wd={inside}{workdir}"]
        return ["nsenter", "-t", str(self.pid), *namespaces, "--", *argv]

    def netns_argv(self, argv: Sequence[str]) -> list[str]:
        """A host program that joins only the container's network namespace."""
        return ["nsenter", "-t", str(self.pid), "-n", "--", *argv]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process exec'd into the container (nothing from the host)."""
        return {
            "PATH": PATH_IN_CONTAINER,
            "HOME": "/root",
            "TMPDIR": "/tmp",
            "SSL_CERT_FILE": CA_IN_CONTAINER,
            "TF_CLI_CONFIG_FILE": CLI_CONFIG_IN_CONTAINER,
            "CHECKPOINT_DISABLE": "1",
            **extra,
        }

    def run(
        self, argv: Sequence[str], workdir: str = "/", timeout: float = 300, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.exec_argv(argv, workdir),
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        """Killing PID 1 ends every process in the container's PID namespace."""
        if self.process is None:
            return
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        stop_pid(self.process.pid, timeout=5)
        self.process.wait(5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
