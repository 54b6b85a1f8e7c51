"""Waiting resources hold no thread: hundreds wait at once in one provider
process whose thread count stays small, one answer from the Tarmak side
completes them all, and Ctrl-C stops them all (and tells Tarmak). A
correctness test, not a timed one: `make bench` (bench/waits.py) times it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connector.protocol import Method
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import Call, CallCancelled, RequestServer
from devenv.processes import descendants
from devenv.tarmak import relay_argv, short_socket_path
from provider.server.serve import WORKERS
from tests.e2e.harness import Terraform

pytestmark = pytest.mark.e2e
WAITING = 300
# The pool for plain (non-waiting) work, plus what grpc and the loop keep.
THREAD_BOUND = WORKERS + 16


@dataclass
class HoldingTarmak:
    """A Tarmak side whose bastion check answers only when released (or cancelled)."""

    socket_path: str = field(default_factory=short_socket_path)
    arrived: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    release: threading.Event = field(default_factory=threading.Event)
    cancelled: list[str] = field(default_factory=list)

    def hold(self, call: Call) -> dict[str, str]:
        self.arrived.release()
        while not self.release.is_set():
            if call.cancelled.wait(0.5):
                self.cancelled.append(call.id)
                raise CallCancelled(call.id)
        return {"status": "ready"}

    def wait_for_all(self, count: int, timeout: float = 240) -> None:
        for seen in range(count):
            assert self.arrived.acquire(timeout=timeout), f"only {seen} resources reached Tarmak"


@pytest.fixture
def holding_tarmak() -> Iterator[HoldingTarmak]:
    side = HoldingTarmak()
    server = RequestServer({Method.BASTION_INSTANCE_STATUS: side.hold}, workers=WAITING + 16)
    controller = ConnectorController(relay_argv(side.socket_path), server).start()
    yield side
    side.release.set()
    controller.stop()
    shutil.rmtree(Path(side.socket_path).parent, ignore_errors=True)


def provider_threads(terraform_pid: int) -> int:
    """Threads of the tarmak provider process somewhere under `terraform_pid`."""
    for info in descendants(terraform_pid):
        if b"terraform-provider-tarmak" in info.cmdline:
            return info.threads
    raise AssertionError("no tarmak provider process under terraform")


def start_apply(terraform: Terraform) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the apply and keep reading its output (the plan of hundreds of
    resources would fill the pipe and stop Terraform)."""
    apply = terraform.start("apply", "-auto-approve", f"-parallelism={WAITING + 10}")
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(apply.stdout or ()), daemon=True).start()
    return apply, output


def held_then(
    apply: subprocess.Popen[str],
    lines: list[str],
    side: HoldingTarmak,
    then: Callable[[], None],
    timeout: float,
) -> str:
    """Once every create waits at Tarmak, do `then`; Terraform's output once it has
    ended (its process group is killed if it still runs `timeout` seconds later)."""
    try:
        side.wait_for_all(WAITING)
        then()
        apply.wait(timeout)
    finally:
        if apply.poll() is None:
            os.killpg(apply.pid, signal.SIGKILL)
    time.sleep(0.5)  # the last lines
    return "".join(lines)


def many_bastions(terraform: Terraform, side: HoldingTarmak) -> None:
    terraform.env["TARMAK_CONNECTOR_SOCKET"] = side.socket_path
    terraform.write(
        f"""
        terraform {{
          required_providers {{
            tarmak = {{ source = "jetstack/tarmak" }}
          }}
        }}
        resource "tarmak_bastion_instance" "b" {{
          count    = {WAITING}
          hostname = "bastion-${{count.index}}"
          username = "centos"
        }}
        """
    )
    terraform.init()


def test_hundreds_of_waits_share_a_few_threads_and_one_answer_ends_them(
    terraform_latest: Terraform, holding_tarmak: HoldingTarmak
) -> None:
    many_bastions(terraform_latest, holding_tarmak)
    apply, lines = start_apply(terraform_latest)

    def few_threads_then_answer() -> None:
        threads = provider_threads(apply.pid)
        assert threads <= THREAD_BOUND, f"{threads} threads for {WAITING} waiting resources"
        holding_tarmak.release.set()

    output = held_then(apply, lines, holding_tarmak, few_threads_then_answer, timeout=240)
    assert apply.returncode == 0, output
    assert f"{WAITING} added" in output
    assert not holding_tarmak.cancelled


def test_ctrl_c_stops_hundreds_of_waits_and_tells_tarmak(
    terraform_latest: Terraform, holding_tarmak: HoldingTarmak
) -> None:
    many_bastions(terraform_latest, holding_tarmak)
    apply, lines = start_apply(terraform_latest)

    def interrupt() -> None:
        os.killpg(apply.pid, signal.SIGINT)  # as a terminal's Ctrl-C

    output = held_then(apply, lines, holding_tarmak, interrupt, timeout=120)
    assert apply.returncode == 1
    text = " ".join(output.split())
    assert text.count("Error: Stopped creating tarmak_bastion_instance") == WAITING, output[-3000:]
    assert "Traceback" not in output
    deadline = time.monotonic() + 10
    while len(holding_tarmak.cancelled) < WAITING and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(holding_tarmak.cancelled) == WAITING, "every cancel notice reached Tarmak"
