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


def bastion_files(directory: Path) -> None:
    """A private key (0600) and a known_hosts file, as env.yaml must name."""
    (directory / "key").write_text("not a real key: the controller only checks it exists\n")
    (directory / "key").chmod(0o600)
    (directory / "known_hosts").write_text("")


def controller_config(tmp_path: Path) -> Path:
    bastion_files(tmp_path)
    config = tmp_path / "env.yaml"
    config.write_text(
        "environment: cli-test\n"
        "state_dir: state\n"
        "bastion: {key_path: key, known_hosts_path: known_hosts}\n"
    )
    return config


def start_controller(
    config: Path, command: str, started: list[subprocess.Popen[bytes]], cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [*CONTROLLER, "--config", str(config), "--exec", command],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    started.append(process)
    return process


def run_controller(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """tarmak-controller run to its end, its output kept (from the repository's root:
    relative paths in env.yaml are resolved against env.yaml's directory, not here)."""
    return subprocess.run(
        [*CONTROLLER, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def read_until(process: subprocess.Popen[bytes], wanted: str, timeout: float = 30) -> list[str]:
    """stderr lines up to and including the first that contains `wanted`."""
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not lines or wanted not in lines[-1]:
        assert time.monotonic() < deadline, f"no {wanted!r} in {lines}"
        line = process.stderr.readline().decode()
        assert line, f"stderr ended before {wanted!r}: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_controller_stops_cleanly_and_its_connector_cleans_up(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], how: str
) -> None:
    socket_path = tmp_path / "c.sock"
    connector = " ".join([*CONNECTOR, "--socket", str(socket_path)])
    process = start_controller(controller_config(tmp_path), connector, started)
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


def test_without_exec_the_controller_starts_the_connector_installed_beside_it(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    """`make install` puts tarmak-connector in the venv's bin, which is not on PATH:
    with no --exec the controller still finds it there."""
    socket_path = tmp_path / "c.sock"
    process = subprocess.Popen(
        [*CONTROLLER, "--config", str(controller_config(tmp_path))],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PATH": "/usr/bin:/bin",
            "TARMAK_CONNECTOR_SOCKET": str(socket_path),
        },
        start_new_session=True,
    )
    started.append(process)
    started_line = read_until(process, "connector command:")[-1]
    assert started_line.endswith(str(Path(sys.prefix) / "bin" / "tarmak-connector"))
    wait_for(socket_path.is_socket, "the connector found beside the controller")
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 128 + signal.SIGTERM
    assert not socket_path.exists()


def test_controller_with_a_missing_config_says_so(tmp_path: Path) -> None:
    result = run_controller("--config", str(tmp_path / "nope.yaml"), timeout=20)
    assert result.returncode == 2 and "cannot read" in result.stderr
    no_traceback(result.stderr)


# ---- env.yaml checked at start: one line naming the key, never a traceback -----------

BASTION = "bastion: {key_path: key, known_hosts_path: known_hosts}\n"
TRANSIT = "vault: {key_protection: {kind: transit, address: 'https://kms:8200'"
# (name, env.yaml, what the one line says after "<env.yaml>: "); {dir} is env.yaml's directory
BROKEN_CONFIGS = [
    (
        "top-level-list",
        "- bastion\n- vault\n",
        "the top level: expected a mapping of settings, got a list",
    ),
    ("top-level-text", "bastion\n", "the top level: expected a mapping of settings, got a string"),
    ("bastion-list", "bastion: [key]\n", "bastion: expected a mapping of settings, got a list"),
    (
        "vault-list",
        BASTION + "vault: [demo]\n",
        "vault: expected a mapping of settings, got a list",
    ),
    (
        "clusters-list",
        BASTION + "vault: {clusters: [demo]}\n",
        "vault.clusters: expected a mapping of cluster names, got a list",
    ),
    (
        "roles-list",
        BASTION + "vault: {clusters: {demo: [master, worker]}}\n",
        "vault.clusters.demo: expected a mapping of role names, got a list",
    ),
    (
        "role-list",
        BASTION + "vault: {clusters: {demo: {master: [read]}}}\n",
        "vault.clusters.demo.master: expected a mapping of settings, got a list",
    ),
    (
        "policy-number",
        BASTION + "vault: {clusters: {demo: {master: {policy: [1]}}}}\n",
        "vault.clusters.demo.master.policy: expected a string, got a list",
    ),
    (
        "role-name",
        BASTION + "vault: {clusters: {demo: {'../root': {}}}}\n",
        "vault.clusters.demo: '../root' is not a name (letters, digits, '.', '_' and '-')",
    ),
    (
        "statedir",
        BASTION + "statedir: elsewhere\n",
        "statedir: unknown setting (did you mean state_dir?); known here: environment, state_dir",
    ),
    (
        "vault-near-miss",
        BASTION + "vault: {init_token_perod: 720h}\n",
        "vault.init_token_perod: unknown setting (did you mean vault.init_token_period?)",
    ),
    (
        "bastion-near-miss",
        "bastion: {key_path: key, known_hosts_path: known_hosts, prot: 22}\n",
        "bastion.prot: unknown setting (did you mean bastion.port?)",
    ),
    ("unknown-far", BASTION + "colour: blue\n", "colour: unknown setting; known here: environment"),
    (
        "protection-near-miss",
        BASTION + "vault: {key_protection: {kind: file, adress: x}}\n",
        "vault.key_protection.adress: unknown setting (did you mean vault.key_protection.address?)",
    ),
    (
        "protection-kind",
        BASTION + "vault: {key_protection: {kind: kms}}\n",
        "vault.key_protection.kind: expected one of transit, pgp, file, got 'kms'",
    ),
    (
        "transit-no-token",
        BASTION + TRANSIT + "}}\n",
        "vault.key_protection.token_file: required but not set",
    ),
    (
        "transit-token-missing",
        BASTION + TRANSIT + ", token_file: token}}\n",
        "vault.key_protection.token_file: {dir}/token does not exist",
    ),
    (
        "port-text",
        "bastion: {key_path: key, known_hosts_path: known_hosts, port: ssh}\n",
        "bastion.port: expected a whole number from 1 to 65535, got a string",
    ),
    (
        "port-range",
        BASTION + "vault: {port: 82000}\n",
        "vault.port: expected a whole number from 1 to 65535, got 82000",
    ),
    (
        "period",
        BASTION + "vault: {init_token_period: forever}\n",
        "vault.init_token_period: expected a duration such as 43800h, 720m or 86400s, "
        "got 'forever'",
    ),
    (
        "threshold",
        BASTION + "vault: {key_shares: 3, key_threshold: 5}\n",
        "vault.key_threshold: 5 is more than vault.key_shares (3)",
    ),
    (
        "wing-http",
        "bastion: {key_path: key, known_hosts_path: known_hosts, wing_url: 'http://x'}\n",
        "bastion.wing_url: expected an https:// URL, got 'http://x'",
    ),
    ("no-bastion", "environment: prod\n", "bastion: required but not set"),
    ("empty-file", "", "bastion: required but not set"),
    (
        "no-key-path",
        "bastion: {known_hosts_path: known_hosts}\n",
        "bastion.key_path: required but not set",
    ),
    (
        "key-missing",
        "bastion: {key_path: nokey, known_hosts_path: known_hosts}\n",
        "bastion.key_path: {dir}/nokey does not exist",
    ),
    (
        "known-hosts-missing",
        "bastion: {key_path: key, known_hosts_path: nohosts}\n",
        "bastion.known_hosts_path: {dir}/nohosts does not exist",
    ),
    (
        "known-hosts-directory",
        "bastion: {key_path: key, known_hosts_path: adir}\n",
        "bastion.known_hosts_path: {dir}/adir is a directory, not a file",
    ),
    (
        "key-0644",
        "bastion: {key_path: loose_key, known_hosts_path: known_hosts}\n",
        "bastion.key_path: {dir}/loose_key is mode 0644, open to others (only its owner may "
        "read a secret, as ssh requires of a key): run `chmod 600 {dir}/loose_key`",
    ),
    (
        "wing-ca-missing",
        "bastion: {key_path: key, known_hosts_path: known_hosts, wing_ca_cert: ca.pem}\n",
        "bastion.wing_ca_cert: {dir}/ca.pem does not exist",
    ),
    (
        "state-0777",
        BASTION + "state_dir: open_state\n",
        "state_dir: {dir}/open_state is mode 0777: others may add, rename or delete files in it; "
        "run `chmod 700 {dir}/open_state`",
    ),
    (
        "state-symlink",
        BASTION + "state_dir: linked_state\n",
        "state_dir: {dir}/linked_state is a symbolic link (to {dir}/adir)",
    ),
    (
        "state-file",
        BASTION + "state_dir: known_hosts\n",
        "state_dir: {dir}/known_hosts is not a directory",
    ),
    ("yaml-syntax", "bastion: {key_path: key\n", "not valid YAML: expected ',' or '}'"),
    (
        "yaml-python-tag",
        "!!python/object/apply:os.system ['true']\n",
        "not valid YAML: could not determine a constructor for the tag",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in BROKEN_CONFIGS], ids=[c[0] for c in BROKEN_CONFIGS]
)
def test_a_broken_config_is_one_line_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    directory = tmp_path / "env"
    directory.mkdir()
    bastion_files(directory)
    (directory / "loose_key").write_text("key")
    (directory / "loose_key").chmod(0o644)
    (directory / "adir").mkdir(mode=0o700)
    (directory / "open_state").mkdir()
    (directory / "open_state").chmod(0o777)
    (directory / "linked_state").symlink_to(directory / "adir")
    config = directory / "env.yaml"
    config.write_text(text)
    result = run_controller("--config", str(config), "--exec", "true")
    assert result.returncode == 2, result.stderr
    no_traceback(result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"tarmak-controller: {config}: "), result.stderr
    assert expected.replace("{dir}", str(directory)) in result.stderr


def test_the_default_state_dir_is_checked_like_a_configured_one(tmp_path: Path) -> None:
    config = controller_config(tmp_path)
    config.write_text(BASTION)  # no state_dir: "state" beside env.yaml
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state").chmod(0o775)
    result = run_controller("--config", str(config), "--exec", "true")
    assert result.returncode == 2
    assert result.stderr == (
        f"tarmak-controller: {config}: state_dir: {tmp_path / 'state'} is mode 0775: others may "
        f"add, rename or delete files in it; run `chmod 700 {tmp_path / 'state'}`\n"
    )


def test_a_connector_command_that_does_not_exist_ends_the_controller(tmp_path: Path) -> None:
    result = run_controller(
        "--config", str(controller_config(tmp_path)), "--exec", "no-such-connector -x"
    )
    assert result.returncode == 127
    assert result.stderr == (
        "tarmak-controller: cannot start the connector: 'no-such-connector' is not an "
        "executable file or a command on PATH (check --exec)\n"
    )


def test_a_connector_that_exits_or_vanishes_is_retried_with_growing_delays(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    script = tmp_path / "connector.sh"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o700)
    process = start_controller(controller_config(tmp_path), str(script), started, cwd=tmp_path)
    lines = read_until(process, "starting it again in 1.0s")
    assert lines[0] == (
        f"tarmak-controller: started: config {tmp_path / 'env.yaml'}, connector command: {script}"
    )
    assert lines[1:] == [
        f"tarmak-controller: the connector ({script}) exited with code 3; "
        "starting it again in 0.5s",
        f"tarmak-controller: the connector ({script}) exited with code 3; "
        "starting it again in 1.0s",
    ]
    script.unlink()  # as a container that is gone: it cannot even be started now
    lines = read_until(process, "could not be started")
    assert lines == [
        f"tarmak-controller: the connector ({script}) could not be started: "
        "No such file or directory; starting it again in 2.0s"
    ]
    assert process.poll() is None, "it keeps trying"
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 128 + signal.SIGTERM
    assert process.stderr is not None
    no_traceback(process.stderr.read().decode())


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
