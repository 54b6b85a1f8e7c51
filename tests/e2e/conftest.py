"""Self-contained provider packages, built once per checkout state (cached on sources)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
