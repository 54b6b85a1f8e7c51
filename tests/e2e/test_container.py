"""The self-contained package where users run it: a bare container with no
Python and no libc, Terraform inside, Tarmak outside reaching it only by exec.

The container is made here (devenv/container.py): unshare with its own mount,
PID and network namespaces (loopback only), chroot into a root filesystem
with a static busybox, the static terraform, a CA certificate and a CLI
config. `terraform init` installs the provider from our signed registry over
HTTPS on the container's loopback, and `terraform apply` of the three waiting
resources completes while the Tarmak side, on the host, execs the connector
from the installed package with nsenter (in place of `docker exec -i`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.container import Container, build_rootfs, is_static
from devenv.environment import LocalEnvironment
from devenv.tarmak_container import (
    NetnsRegistry,
    OutsideTarmak,
    connector_command,
    example_config,
    native_target,
    plugin_executable,
    publish_package,
    terraform_variables,
)
from devenv.terraform_binary import bundled_terraform
from devenv.vault import OpenBaoServer
from provider import __version__
from registry_tools.archive import h1_hash

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="unshare/chroot/nsenter need root"),
]


@pytest.fixture
def container(local_env: LocalEnvironment, tmp_path: Path) -> Iterator[Container]:
    terraform = Path(bundled_terraform())
    root = build_rootfs(
        tmp_path / "rootfs", terraform, local_env.ca.cert_path, "disable_checkpoint = true\n"
    )
    running = Container(root).start()
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_rootfs_has_no_python_and_no_libc(container: Container) -> None:
    files = [p for p in container.root.rglob("*") if p.is_file() and not p.is_symlink()]
    names = sorted(p.relative_to(container.root).as_posix() for p in files)
    assert names == [
        "bin/busybox",
        "etc/hosts",
        "etc/ssl/certs/ca-certificates.crt",
        "root/.terraformrc",
        "usr/local/bin/terraform",
    ]
    assert all(is_static(p) for p in files if p.name in ("busybox", "terraform"))
    probe = container.run(["/bin/sh", "-c", "ls /lib /lib64 /usr/lib; command -v python3"])
    assert probe.returncode != 0 and "python3" not in probe.stdout
    network = container.run(["/bin/ip", "-o", "link"]).stdout
    assert re.findall(r"^\d+: (\S+):", network, re.M) == ["lo"], "only loopback inside"


def test_terraform_in_the_container_installs_the_package_and_applies_with_tarmak_outside(
    container: Container,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    native_package: Path,
    tmp_path: Path,
) -> None:
    target = native_target()
    release, tree = publish_package(native_package, target, __version__, tmp_path / "publish")
    cert = local_env.ca.issue("container-registry", ("localhost", "127.0.0.1"))
    registry = NetnsRegistry(container, tree, cert, tmp_path / "registry.log").start()
    tarmak: OutsideTarmak | None = None
    try:
        (container.root / "work" / "main.tf").write_text(example_config(__version__))
        init = container.run(["terraform", "init", "-input=false", "-no-color"], workdir="/work")
        assert init.returncode == 0, init.stdout + init.stderr
        assert f"Installed localhost:8443/jetstack/tarmak v{__version__}" in init.stdout
        lock = (container.root / "work" / ".terraform.lock.hcl").read_text()
        assert h1_hash(release.zip_path(target)) in lock

        executable = plugin_executable("/work", __version__, target)
        installed = container.root / executable.lstrip("/")
        assert os.access(installed, os.X_OK), "Terraform's unzip kept the exec bit"
        assert os.access(installed.parent / "runtime" / "bin" / "python3.11", os.X_OK)

        command = connector_command(container, executable)
        tarmak = OutsideTarmak.start(local_env, tmp_path / "tarmak-state", command)
        variables = terraform_variables(local_env, fresh_tls_vault)
        apply = container.run(
            ["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
            workdir="/work",
            timeout=300,
            **variables,
        )
        assert apply.returncode == 0, apply.stdout + apply.stderr
        assert "Apply complete! Resources: 4 added" in apply.stdout
        assert 'bastion_status = "ready"' in apply.stdout
        assert 'vault_status = "ready"' in apply.stdout
        assert "init_tokens = <sensitive>" in apply.stdout
        assert fresh_tls_vault.endpoint.health_status() == 200, "Tarmak unsealed Vault"
        assert tarmak.controller.generation >= 1
    finally:
        if tarmak is not None:
            tarmak.stop()
        registry.stop()
