"""Shared fixtures: the Terraform binaries and protocol versions to test against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.environment import LocalEnvironment
from devenv.terraform_binary import TerraformBinary, terraform_binaries
from devenv.vault import OpenBaoServer, VaultEndpoint, external_vault
from tests.e2e.harness import Terraform, build_mirror

BINARIES = terraform_binaries()


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
