"""Shared fixtures: the Terraform binaries and protocol versions to test against."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.environment import LocalEnvironment
from devenv.plugin_sockets import plugin_sockets
from devenv.processes import descendants, process_table
from devenv.scratch import short_directory
from devenv.terraform_binary import TerraformBinary, terraform_binaries
from devenv.vault import OpenBaoServer, VaultEndpoint, external_vault
from tests.e2e.harness import Terraform, build_mirror

BINARIES = terraform_binaries()


@pytest.fixture(scope="session", autouse=True)
def plugin_socket_dir() -> Iterator[Path]:
    """Every provider a test starts (through Terraform or directly) puts its socket
    in a directory of this session's, removed at its end (devenv/plugin_sockets.py)."""
    with plugin_sockets() as directory:
        yield directory


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (Unix socket paths are limited to ~104 bytes),
    removed after the test."""
    with short_directory() as directory:
        yield directory


@pytest.fixture(scope="session")
def cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mirror(tmp_path_factory.mktemp("mirror"))


def _skip_if_too_old(request: pytest.FixtureRequest, binary: TerraformBinary) -> None:
    """Honour harness.requires_terraform: skip on releases that lack the feature."""
    marker = request.node.get_closest_marker("requires_terraform")
    if marker is None:
        return
    needed, feature = marker.args
    if binary.version < tuple(needed):
        wanted = ".".join(map(str, needed))
        pytest.skip(f"{feature} needs Terraform {wanted}+; this is {binary.version_text}")


@pytest.fixture(params=BINARIES, ids=[f"tf{b.version_text}" for b in BINARIES])
def terraform_binary(request: pytest.FixtureRequest) -> TerraformBinary:
    _skip_if_too_old(request, request.param)
    return request.param


@pytest.fixture(params=[5, 6], ids=["proto5", "proto6"])
def protocol(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def terraform(
    terraform_binary: TerraformBinary, protocol: int, cli_config: Path, tmp_path: Path
) -> Iterator[Terraform]:
    """A Terraform working directory, run by each binary over each protocol."""
    yield Terraform(
        terraform_binary.path,
        tmp_path / "work",
        cli_config,
        {"TARMAK_PROVIDER_PROTOCOLS": str(protocol)},
    )


@pytest.fixture
def terraform_each(
    terraform_binary: TerraformBinary, cli_config: Path, tmp_path: Path
) -> Terraform:
    """Each binary over the protocol it prefers (6), for tests of newer features
    whose protocol handling is shared by both versions."""
    return Terraform(terraform_binary.path, tmp_path / "work", cli_config)


@pytest.fixture
def terraform_latest(cli_config: Path, tmp_path: Path) -> Terraform:
    """One run with the newest Terraform found and its preferred protocol."""
    return Terraform(BINARIES[-1].path, tmp_path / "work", cli_config)


# ---- the local environment (issue: real OpenBao, sshd bastion, wing) -------------


@pytest.fixture(scope="session")
def local_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    env = LocalEnvironment.start(tmp_path_factory.mktemp("devenv"))
    yield env
    env.stop()


@pytest.fixture
def fresh_tls_vault(local_env: LocalEnvironment, tmp_path: Path) -> Iterator[OpenBaoServer]:
    """An uninitialised TLS OpenBao of its own, for tests that initialise it."""
    server = OpenBaoServer(tmp_path / "vault", dev=False, ca=local_env.ca).start()
    yield server
    server.stop()


@pytest.fixture
def vault(local_env: LocalEnvironment) -> VaultEndpoint:
    """An initialised, unsealed Vault: VAULT_ADDR/VAULT_TOKEN when set, else OpenBao -dev."""
    return external_vault() or local_env.vault_dev.endpoint


# ---- nothing the suite starts may outlive it (issue 12, item 5) -----------------------

_DAEMONS = ("gpg-agent", "bao", "sshd")


def surviving_daemons(basetemp: Path) -> list[str]:
    """gpg-agent, bao and sshd processes this session started that still run: our
    descendants, or daemons (re-parented to init) whose command line names this
    session's temporary directory. Other sessions on the machine are not counted."""
    table = process_table()
    ours = {info.pid for info in descendants(os.getpid(), table)}
    found = []
    for info in table.values():
        if not info.name.startswith(_DAEMONS) or info.pid == os.getpid():
            continue
        cmdline = info.cmdline.replace(b"\0", b" ").decode(errors="replace")
        if info.pid in ours or str(basetemp) in cmdline:
            found.append(f"{info.pid} {cmdline.strip()[:160]}")
    return found


_SESSION_STARTED = time.time()


def _served(directory: Path) -> bool:
    """Whether a live provider still listens on a socket in `directory`: another
    session's Terraform on this machine, not one of ours left behind (a provider
    killed after its handshake leaves a socket nobody listens on)."""
    for path in directory.glob("*"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            try:
                probe.connect(str(path))
                return True
            except OSError:
                continue
    return False


def stray_socket_directories(since: float) -> list[str]:
    """Provider socket directories (provider/server/handshake.py) made in /tmp since
    `since` and left behind: every provider the tests start should put its socket
    elsewhere (`plugin_socket_dir`, or a directory of the test's own). Other
    sessions' live providers make such directories too; those are not counted."""
    found = []
    for directory in Path("/tmp").glob("tfp-*"):
        try:
            if directory.stat().st_mtime >= since and not _served(directory):
                found.append(str(directory))
        except OSError:
            continue  # removed meanwhile
    return sorted(found)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or os.environ.get("TARMAK_ALLOW_SURVIVORS") == "1":
        return
    basetemp = factory.getbasetemp()
    deadline = time.monotonic() + 5  # a daemon told to stop may take a moment to go
    while (left := surviving_daemons(basetemp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    writer = session.config.get_terminal_writer()
    if left:
        writer.line(
            "processes started by the tests outlived them:\n  " + "\n  ".join(left), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    strays = stray_socket_directories(_SESSION_STARTED)
    if strays:  # one being made or removed by another session now is gone a moment later
        time.sleep(1)
        strays = [d for d in stray_socket_directories(_SESSION_STARTED) if d in strays]
    if strays:
        writer.line("provider socket directories left in /tmp:\n  " + "\n  ".join(strays), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
