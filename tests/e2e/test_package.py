"""The linux_arm64 package on this amd64 machine, under Debian's qemu-user-static.

With binfmt_misc (registered by registry_tools.smoke when we may), the real
Terraform installs the arm64 zip and starts it: the static arm64 launcher
execs the bundled arm64 loader and CPython, all emulated, and Terraform reads
the provider's schema over gRPC. Without binfmt only the handshake is checked,
by running the loader under qemu-aarch64-static directly.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from devenv.terraform_binary import bundled_terraform
from provider import __version__
from registry_tools.elf import read_elf
from registry_tools.platforms import Target
from registry_tools.smoke import register_binfmt, start_package

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(platform.machine() != "x86_64", reason="emulates arm64 on amd64"),
    pytest.mark.skipif(shutil.which("qemu-aarch64-static") is None, reason="make system-packages"),
]
ARM64 = Target("linux", "arm64")
EXECUTABLE = f"terraform-provider-tarmak_v{__version__}"


def unzip_with_modes(archive: Path, directory: Path) -> None:
    with zipfile.ZipFile(archive) as package:
        for info in package.infolist():
            package.extract(info, directory)
            os.chmod(directory / info.filename, (info.external_attr >> 16) & 0o777)


def test_arm64_package_holds_only_arm64_code_and_starts_under_qemu(
    arm64_package: Path, tmp_path: Path
) -> None:
    unzip_with_modes(arm64_package, tmp_path / "pkg")
    launcher = read_elf(tmp_path / "pkg" / EXECUTABLE)
    assert (launcher.machine, launcher.interpreter, launcher.needed) == ("aarch64", None, ())
    python = read_elf(tmp_path / "pkg" / "runtime" / "bin" / "python3.11")
    assert python.machine == "aarch64" and python.interpreter == "/lib/ld-linux-aarch64.so.1"
    line = start_package(ARM64, tmp_path / "pkg" / EXECUTABLE)
    assert line.startswith("1|6|unix|") and "|grpc|" in line, "with its AutoMTLS certificate"


def test_terraform_runs_the_arm64_package_through_binfmt(
    arm64_package: Path, tmp_path: Path
) -> None:
    if not register_binfmt():
        pytest.skip("binfmt_misc cannot be registered here (not root, or no binfmt_misc)")
    # A packed mirror that offers the arm64 zip as this machine's platform.
    mirror = tmp_path / "mirror" / "registry.terraform.io" / "jetstack" / "tarmak"
    mirror.mkdir(parents=True)
    shutil.copy(arm64_package, mirror / f"terraform-provider-tarmak_{__version__}_linux_amd64.zip")
    config = tmp_path / "terraformrc"
    config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{tmp_path / "mirror"}"\n'
        "  }\n}\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.tf").write_text(
        'terraform {\n  required_providers {\n    tarmak = { source = "jetstack/tarmak" }\n  }\n}\n'
    )
    env = {"PATH": "/usr/bin:/bin", "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"}
    terraform = bundled_terraform()
    subprocess.run([terraform, "init", "-input=false"], cwd=work, env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    shown = subprocess.run(
        [terraform, "providers", "schema", "-json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr
    schemas = json.loads(shown.stdout)["provider_schemas"]
    (schema,) = schemas.values()
    assert "tarmak_vault_cluster" in schema["resource_schemas"]
