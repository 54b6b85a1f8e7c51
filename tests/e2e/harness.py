"""Drive a real terraform binary in a temporary directory.

Providers are installed the way users install them: `terraform init` from a
filesystem mirror (CLI config `provider_installation`), in the unpacked
layout, where each provider is a small launcher running our Python code.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devenv.mirror import ROOT, build_mirror

__all__ = ["ROOT", "Result", "Terraform", "build_mirror", "interrupt", "requires_terraform"]


def requires_terraform(version: tuple[int, ...], feature: str) -> pytest.MarkDecorator:
    """Mark a test of a feature that Terraform releases before `version` lack:
    tests/conftest.py skips it on those (saying why) and runs it on the others."""
    return pytest.mark.requires_terraform(version, feature)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def text(self) -> str:
        """The output with Terraform's line wrapping undone, for matching sentences."""
        return " ".join(self.output.split())


@dataclass
class Terraform:
    binary: str
    workdir: Path
    cli_config: Path
    env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            PYTHONPATH=str(ROOT),
        )
        env.update(self.env)
        return env

    def write(self, config: str, name: str = "main.tf") -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / name).write_text(textwrap.dedent(config))

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> Result:
        proc = subprocess.run(
            [self.binary, *args, "-no-color"],
            cwd=self.workdir,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed:\n{result.output}")
        return result

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Run in the background (for interrupting it), in its own process group."""
        return subprocess.Popen(
            [self.binary, *args, "-no-color"],
            cwd=self.workdir,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def init(self) -> Result:
        return self.run("init", "-input=false")

    def apply(self, *args: str, check: bool = True, timeout: float = 180) -> Result:
        return self.run(
            "apply", "-auto-approve", "-input=false", *args, check=check, timeout=timeout
        )

    def plan_exit_code(self, *args: str) -> int:
        """0: no changes, 2: changes (terraform plan -detailed-exitcode)."""
        result = self.run("plan", "-input=false", "-detailed-exitcode", *args, check=False)
        if result.returncode == 1:
            raise AssertionError(f"terraform plan failed:\n{result.output}")
        return result.returncode

    def destroy(self) -> Result:
        return self.run("destroy", "-auto-approve", "-input=false")

    def outputs(self) -> dict[str, Any]:
        raw = json.loads(self.run("output", "-json").stdout)
        return {name: item["value"] for name, item in raw.items()}

    def state(self) -> dict[str, Any]:
        """Resource instances by address, from `terraform show -json`."""
        shown = json.loads(self.run("show", "-json").stdout)
        resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
        return {r["address"]: r["values"] for r in resources}


def kill_group(process: subprocess.Popen[str]) -> None:
    """End a background Terraform and the providers it started (its process group,
    as `Terraform.start` makes one): killing Terraform alone leaves them running."""
    running = process.poll() is None
    with contextlib.suppress(ProcessLookupError):  # the group may be gone already
        os.killpg(process.pid, signal.SIGKILL)
    if running:
        process.communicate()


def interrupt(
    process: subprocess.Popen[str], after_line: str, limit: float = 60
) -> tuple[str, float]:
    """Wait for `after_line` in the output, send SIGINT (Ctrl-C), and return the
    whole output and how long Terraform took to exit after the signal."""
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + limit
    while after_line not in seen:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            kill_group(process)
            raise AssertionError(f"never saw {after_line!r}:\n{seen}")
        seen += line
    time.sleep(0.5)  # let the wait begin
    os.killpg(process.pid, signal.SIGINT)
    sent = time.monotonic()
    try:
        rest, _ = process.communicate(timeout=limit)
    finally:
        kill_group(process)
    return seen + rest, time.monotonic() - sent
