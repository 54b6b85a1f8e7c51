"""CPU names: Terraform's (amd64, arm64) against the machine's (x86_64, aarch64).

The one home of this map: the launcher, the bundle, the package platforms,
the protocol probe and devenv all ask here, so a new architecture is added
in one place.
"""

from __future__ import annotations

import platform

# Terraform's arch -> the Linux machine name (uname -m, GNU triplets, ELF).
LINUX_MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
# Terraform's arch -> macOS's machine name (uname -m on a Mac, wheel tags).
DARWIN_MACHINES = {"amd64": "x86_64", "arm64": "arm64"}
# Any machine name either system reports -> Terraform's arch.
TERRAFORM_ARCHES = {
    machine: arch for table in (LINUX_MACHINES, DARWIN_MACHINES) for arch, machine in table.items()
} | {arch: arch for arch in LINUX_MACHINES}


def machine(os_name: str, arch: str) -> str:
    """The machine name `os_name` uses for Terraform's `arch`."""
    return (DARWIN_MACHINES if os_name == "darwin" else LINUX_MACHINES)[arch]


def host_arch() -> str:
    """This machine's CPU in Terraform's words ("unknown" for one we do not build for)."""
    return TERRAFORM_ARCHES.get(platform.machine().lower(), "unknown")
