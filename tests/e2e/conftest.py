"""Fixtures shared by the end-to-end tests: self-contained provider packages, built
once per checkout state (cached on sources), and a module's three-node Vault
cluster with the Tarmak side that serves it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.environment import LocalEnvironment
from devenv.raft_cluster import RaftCluster
from devenv.tarmak import TarmakSide, environment_config
from devenv.tarmak_container import native_target
from provider import __version__
from registry_tools.build import cached_package
from registry_tools.platforms import Target


@pytest.fixture(scope="session")
def native_package() -> Path:
    """The linux zip for this machine (built when provider/, connector/ or the recipe changed)."""
    return cached_package(native_target(), __version__)


@pytest.fixture(scope="session")
def arm64_package() -> Path:
    return cached_package(Target("linux", "arm64"), __version__)


@pytest.fixture(scope="module")
def cluster(
    local_env: LocalEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RaftCluster]:
    """A three-node Shamir cluster of the module's own, uninitialised at first."""
    nodes = RaftCluster(tmp_path_factory.mktemp("raft"), local_env.ca).start()
    yield nodes
    nodes.stop()


@pytest.fixture(scope="module")
def cluster_side(
    local_env: LocalEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TarmakSide]:
    """The Tarmak side (in this process) with a state directory of the module's own."""
    state = tmp_path_factory.mktemp("tarmak") / "state"
    side = TarmakSide(environment_config(local_env, state)).start()
    yield side
    side.stop()
    shutil.rmtree(Path(side.socket_path).parent, ignore_errors=True)
