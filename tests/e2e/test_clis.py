"""The command-line programs as a person meets them (issue 12, item 4): clear
messages and exit codes instead of tracebacks, no hangs, sockets and
directories removed on SIGTERM and Ctrl-C, and the provider's protocol
restriction honoured in every mode, a bad value refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from tests.e2e.harness import ROOT

CONNECTOR = [sys.executable, "-m", "connector.relay_cli"]
CONTROLLER = [sys.executable, "-m", "connector.tarmak_side.cli"]
PROVIDER = [sys.executable, "-m", "provider.main"]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text


def wait_for(condition: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; all ended afterwards, whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


# ---- tarmak-connector ---------------------------------------------------------------


@pytest.mark.parametrize("stdin", ["devnull", "file"])
def test_connector_started_by_hand_says_so_and_exits(tmp_path: Path, stdin: str) -> None:
    socket_path = tmp_path / "c.sock"
    path = Path(os.devnull) if stdin == "devnull" else tmp_path / "in"
    path.touch()
    with path.open("rb") as source:
        result = subprocess.run(
            [*CONNECTOR, "--socket", str(socket_path)],
            stdin=source,
            capture_output=True,
            text=True,
            timeout=10,
            cwd=ROOT,
        )
    assert result.returncode == 2
    assert "docker exec -i CONTAINER tarmak-connector" in result.stderr
    no_traceback(result.stderr)
    assert list(tmp_path.iterdir()) == ([] if stdin == "devnull" else [tmp_path / "in"])


def test_connector_whose_socket_is_taken_says_so(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    socket_path = tmp_path / "c.sock"
    first = subprocess.Popen(
        [*CONNECTOR, "--socket", str(socket_path)], stdin=subprocess.PIPE, cwd=ROOT
    )
    started.append(first)
    wait_for(socket_path.is_socket, "the first connector")
    second = subprocess.run(
        [*CONNECTOR, "--socket", str(socket_path)],
        input=b"",
        capture_output=True,
        timeout=10,
        cwd=ROOT,
    )
    assert second.returncode == 1
    assert b"another tarmak-connector is already listening" in second.stderr
    no_traceback(second.stderr.decode())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_connector_signals_remove_socket_and_directory(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], signum: int
) -> None:
    socket_path = tmp_path / "c.sock"
    process = subprocess.Popen(
        [*CONNECTOR, "--socket", str(socket_path)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    started.append(process)
    wait_for(socket_path.is_socket, "the connector's socket")
    process.send_signal(signum)
    assert process.wait(5) == 128 + signum
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    no_traceback(stderr)
    assert list(tmp_path.iterdir()) == []  # neither the socket link nor its directory


def test_connector_exits_when_tarmak_goes_away(tmp_path: Path) -> None:
    socket_path = tmp_path / "c.sock"
    result = subprocess.run(
        [*CONNECTOR, "--socket", str(socket_path)],
        input=b"",
        capture_output=True,
        timeout=10,
        cwd=ROOT,
    )
    assert result.returncode == 0
    no_traceback(result.stderr.decode())
    assert list(tmp_path.iterdir()) == []


# ---- tarmak-controller ----------------------------------------------------------------


def controller_config(tmp_path: Path) -> Path:
    config = tmp_path / "env.yaml"
    config.write_text(
        "environment: cli-test\n"
        f"state_dir: {tmp_path / 'state'}\n"
        "bastion:\n"
        f"  key_path: {tmp_path / 'no-key'}\n"
        f"  known_hosts_path: {tmp_path / 'no-known-hosts'}\n"
    )
    return config


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_controller_stops_cleanly_and_its_connector_cleans_up(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], how: str
) -> None:
    socket_path = tmp_path / "c.sock"
    connector = " ".join([*CONNECTOR, "--socket", str(socket_path)])
    process = subprocess.Popen(
        [*CONTROLLER, "--config", str(controller_config(tmp_path)), "--exec", connector],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    started.append(process)
    wait_for(socket_path.is_socket, "the connector the controller started")
    if how == "SIGTERM":
        process.send_signal(signal.SIGTERM)
        expected = 128 + signal.SIGTERM
    else:  # a terminal sends SIGINT to the whole foreground group: controller and connector
        os.killpg(process.pid, signal.SIGINT)
        expected = 128 + signal.SIGINT
    assert process.wait(15) == expected
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    no_traceback(stderr)
    assert not socket_path.exists() and not socket_path.is_symlink()
    assert not (tmp_path / "c.sock.d").exists()


def test_controller_with_a_missing_config_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CONTROLLER, "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "cannot read" in result.stderr
    no_traceback(result.stderr)


# ---- the provider's protocol restriction ------------------------------------------------


def provider_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
    env.update(PLUGIN_UNIX_SOCKET_DIR=str(tmp_path), **extra)
    return env


@pytest.mark.parametrize("restrict", ["5", "6", "6,5"])
def test_debug_mode_honours_the_protocol_restriction(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], restrict: str
) -> None:
    process = subprocess.Popen(
        [*PROVIDER, "--debug"],
        env=provider_env(tmp_path, TARMAK_PROVIDER_PROTOCOLS=restrict),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    started.append(process)
    assert process.stdout is not None
    line = ""
    while "TF_REATTACH_PROVIDERS" not in line:
        line = process.stdout.readline().decode()
        assert line, "the provider ended before printing its reattach line"
    value = json.loads(line.split("'")[1])
    assert value["registry.terraform.io/jetstack/tarmak"]["ProtocolVersion"] == max(
        int(v) for v in restrict.split(",")
    )
    process.send_signal(signal.SIGINT)  # by hand, Ctrl-C stops the provider
    assert process.wait(5) == 0
    assert process.stderr is not None
    no_traceback(process.stderr.read().decode())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "plugin"])
@pytest.mark.parametrize("restrict", ["7", "5,7", "five", ","])
def test_a_bad_protocol_restriction_is_refused(tmp_path: Path, debug: bool, restrict: str) -> None:
    extra = {"TARMAK_PROVIDER_PROTOCOLS": restrict}
    if not debug:
        extra.update({MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "5,6"})
    result = subprocess.run(
        [*PROVIDER, *(["--debug"] if debug else [])],
        env=provider_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "TARMAK_PROVIDER_PROTOCOLS" in result.stderr and "5 and 6" in result.stderr
    no_traceback(result.stderr)
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []
