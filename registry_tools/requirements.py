"""What a provider package ships: the code Terraform's machine runs, and its dependencies.

Terraform's machine runs two programs from the package: the provider
(provider/) and the relay that `<executable> connector` starts (connector/
without connector/tarmak_side/). Between them they import grpc,
google.protobuf and msgpack, and certifi's CA bundle when Vault's CA is not
given (provider/tarmak/vault_http.py: Vault is spoken to over the standard
library's http.client, so hvac and requests are not shipped). paramiko,
PyYAML, cryptography, hvac and requests are pyproject dependencies for the
Tarmak side (SSH to the bastion, its YAML configuration, Vault), which runs
on Tarmak's machine and is not in the package; the provider makes its AutoMTLS
certificate without cryptography (provider/server/p256.py).

Leaving them out, measured here from the pex's listing: about 10 MB of each
darwin pex for three CPython versions (cryptography's universal2 wheel alone
is 7.8 MB compressed); each linux zip went from 33.6/32.7 MB to 26.0/25.2 MB
(amd64/arm64). The pins stay pyproject's.
tests/unit/registry_tools/test_package_requirements.py checks every import in
the shipped code against SHIPPED_DISTRIBUTIONS, so a new import cannot slip
past this list.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_PACKAGES = ("provider", "connector")
NOT_SHIPPED = (Path("connector") / "tarmak_side",)  # runs on Tarmak's machine
SHIPPED_DISTRIBUTIONS = ("grpcio", "protobuf", "msgpack", "certifi")


def shipped_sources(project: Path = ROOT) -> list[Path]:
    """Every .py file the package carries, relative to `project`."""
    found = []
    for package in SHIPPED_PACKAGES:
        for path in sorted((project / package).rglob("*.py")):
            relative = path.relative_to(project)
            if "__pycache__" in relative.parts:
                continue
            if any(relative.is_relative_to(skipped) for skipped in NOT_SHIPPED):
                continue
            found.append(relative)
    return found


def package_requirements(project: Path = ROOT) -> list[str]:
    """pyproject's requirements (with their pins) for the distributions the package ships."""
    with open(project / "pyproject.toml", "rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    wanted = {canonicalize_name(name) for name in SHIPPED_DISTRIBUTIONS}
    chosen = [text for text in declared if canonicalize_name(Requirement(text).name) in wanted]
    missing = wanted - {canonicalize_name(Requirement(text).name) for text in chosen}
    if missing:
        raise ValueError(f"pyproject.toml does not declare {sorted(missing)}")
    return chosen
