"""Free loopback ports, child processes that are always reaped, waiting, and
what /proc says runs under a process."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A port the kernel just had free on 127.0.0.1 (never a fixed one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], bool], what: str, timeout: float = 30, step: float = 0.05
) -> None:
    """Poll `check` until it is true; bounded in time, and says what it waited for."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(step)


@dataclass
class ChildProcess:
    """A server process in its own session, stopped with its whole group."""

    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5) -> None:
        if self.process is None:
            return
        stop_pid(self.process.pid, timeout)
        self.process.wait(timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_pid(pid: int, timeout: float = 5) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                waited, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                waited = 0
                if not _alive(pid):
                    return
            if waited == pid:
                return
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that is not us to reap it."""
    try:
        state = _stat_fields(Path(f"/proc/{pid}/stat").read_text())[0]
    except (OSError, IndexError, ValueError):
        return False
    return state != "Z"


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(stat: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name, from the state on
    (the name, in parentheses, may itself hold spaces and parentheses)."""
    return stat[stat.rindex(")") + 2 :].split()


def _cpu(fields: list[str]) -> float:
    """User + system CPU seconds, from `_stat_fields`."""
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_seconds(pid: int) -> float:
    """The user + system CPU time process `pid` has used so far."""
    return _cpu(_stat_fields(Path(f"/proc/{pid}/stat").read_text()))


def children_cpu_seconds() -> float:
    """User + system CPU time of every child process this one has reaped (with
    what those children had reaped in turn)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@dataclass(frozen=True)
class ProcessInfo:
    """One process as /proc/<pid>/stat and cmdline describe it."""

    pid: int
    parent: int
    name: str
    cmdline: bytes  # arguments separated by NUL, as the kernel keeps them
    cpu_seconds: float  # user + system
    started: int  # clock ticks after boot

    @property
    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))


def process_table() -> dict[int, ProcessInfo]:
    """Every process on the machine (one that ends while it is read is left out)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        fields = _stat_fields(stat)
        pid = int(entry.name)
        table[pid] = ProcessInfo(
            pid,
            parent=int(fields[1]),
            name=stat[stat.index("(") + 1 : stat.rindex(")")],
            cmdline=cmdline,
            cpu_seconds=_cpu(fields),
            started=int(fields[19]),
        )
    return table


def descendants(root: int, table: dict[int, ProcessInfo] | None = None) -> list[ProcessInfo]:
    """`root` and every process under it (children, grandchildren, ...)."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.parent, []).append(info.pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(table[pid])
        todo.extend(children.get(pid, ()))
    return found
