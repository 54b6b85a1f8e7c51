"""The platforms we build for, as pex "complete platforms".

pex's abbreviated platforms (`--platform`) cannot evaluate every environment
marker our dependencies use (python_full_version); a complete platform spells
out the marker environment and the wheel tags that interpreter accepts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging import tags

from registry_tools import arch

# The CPython versions the darwin pex carries wheels for. grpcio's macOS wheels
# are universal2 (12.6 MB compressed per CPython version), so three versions
# made a 42 MB pex even with only the provider's dependencies; two keep it
# under the 40 MB budget. The newest two that this machine can test the pex
# recipe with (tests/e2e/test_registry.py starts a linux pex on each).
PYTHONS = ((3, 12), (3, 13))
# glibc 2.17 (manylinux2014) covers every maintained Linux distribution.
_LINUX_GLIBC = [(2, minor) for minor in range(17, 4, -1)]
_MACOS_NEWEST = (14, 0)


@dataclass(frozen=True)
class Target:
    os: str  # Terraform's names: linux, darwin
    arch: str  # amd64, arm64

    @property
    def name(self) -> str:
        return f"{self.os}_{self.arch}"

    @property
    def machine(self) -> str:
        return arch.machine(self.os, self.arch)

    def wheel_platforms(self) -> list[str]:
        if self.os == "linux":
            many = [f"manylinux_{major}_{minor}_{self.machine}" for major, minor in _LINUX_GLIBC]
            return [*many, f"manylinux2014_{self.machine}"]
        # packaging's own rules: e.g. universal2 wheels built for 10.9 also run on arm64.
        return list(tags.mac_platforms(_MACOS_NEWEST, self.machine))

    def complete_platform(self, python: tuple[int, int]) -> dict[str, object]:
        major, minor = python
        version = f"{major}.{minor}"
        interpreter = f"cp{major}{minor}"
        compatible = [
            *tags.cpython_tags(python, [interpreter, "abi3", "none"], self.wheel_platforms()),
            *tags.compatible_tags(python, interpreter, self.wheel_platforms()),
        ]
        return {
            "marker_environment": {
                "implementation_name": "cpython",
                "implementation_version": f"{version}.0",
                "os_name": "posix",
                "platform_machine": self.machine,
                "platform_python_implementation": "CPython",
                "platform_release": "",
                "platform_system": {"linux": "Linux", "darwin": "Darwin"}[self.os],
                "platform_version": "",
                "python_full_version": f"{version}.0",
                "python_version": version,
                "sys_platform": self.os,
            },
            "compatible_tags": [str(tag) for tag in compatible],
        }


DEFAULT_TARGETS = (
    Target("linux", "amd64"),
    Target("linux", "arm64"),
    Target("darwin", "amd64"),
    Target("darwin", "arm64"),
)


DARWIN_PYTHONS = "CPython " + " or ".join(f"{major}.{minor}" for major, minor in PYTHONS)
DARWIN_REQUIREMENT = f"{DARWIN_PYTHONS} on PATH"


def self_contained(target: Target) -> bool:
    return target.os == "linux"


def package_warnings(targets: Iterable[Target]) -> tuple[str, ...]:
    """What `terraform init` should tell users about packages that are not self-contained."""
    darwin = sorted({t.name for t in targets if not self_contained(t)})
    if not darwin:
        return ()
    return (
        f"The {' and '.join(darwin)} packages of terraform-provider-tarmak need "
        f"{DARWIN_PYTHONS} on the Mac's PATH (stock macOS has 3.9: install one from python.org "
        "or Homebrew); the first start unpacks them under ~/.pex. "
        "The linux packages are self-contained and need nothing on the host.",
    )


def parse_target(text: str) -> Target:
    os_name, _, arch = text.partition("_")
    target = Target(os_name, arch)
    if target not in DEFAULT_TARGETS:
        known = ", ".join(t.name for t in DEFAULT_TARGETS)
        raise ValueError(f"unsupported platform {text!r}; choose from {known}")
    return target


def write_complete_platforms(target: Target, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for python in PYTHONS:
        path = directory / f"{target.name}-cp{python[0]}{python[1]}.json"
        path.write_text(json.dumps(target.complete_platform(python)))
        paths.append(path)
    return paths
