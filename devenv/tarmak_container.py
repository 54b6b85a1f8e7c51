"""Terraform in a bare container, Tarmak outside: the pieces the e2e test and
`make demo` share.

1. The self-contained provider package for this machine's platform is signed
   with a throwaway RSA key and published into a registry tree.
2. A container (devenv/container.py) holds only busybox, terraform, the CA and
   a CLI config; the registry is served over HTTPS on the container's own
   loopback (the server joins only its network namespace).
3. `terraform init` inside installs the provider from that registry.
4. The Tarmak side runs outside and execs the connector from the installed
   package into the container with nsenter, as it would with
   `docker exec -i CONTAINER <plugin dir>/terraform-provider-tarmak_v<V> connector`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from connector.socket_path import DEFAULT_SOCKET
from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer
from connector.tarmak_side.services import TarmakServices
from devenv.container import CA_IN_CONTAINER, PATH_IN_CONTAINER, Container
from devenv.environment import LocalEnvironment
from devenv.kms import DEMO_KEY
from devenv.pki import CertFiles
from devenv.processes import ChildProcess
from devenv.tarmak import environment_config
from devenv.vault import OpenBaoServer
from registry_tools.arch import host_arch
from registry_tools.platforms import Target
from registry_tools.registry import RegistryTree, link_or_copy, publish
from registry_tools.release import Release, sign_release

NAMESPACE = "jetstack"
REGISTRY_PORT = 8443  # on the container's loopback: nothing else listens there
REGISTRY_HOST = f"localhost:{REGISTRY_PORT}"
# The provider inside finds the connector where it looks by default.
SOCKET_IN_CONTAINER = DEFAULT_SOCKET


def native_target() -> Target:
    return Target("linux", host_arch())


def make_signing_key(home: Path) -> str:
    """A throwaway RSA signing key in `home`; returns its long key id."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    params = textwrap.dedent(
        """\
        %no-protection
        Key-Type: RSA
        Key-Length: 2048
        Key-Usage: sign
        Name-Real: Tarmak container demo
        Name-Email: demo@example.invalid
        Expire-Date: 0
        %commit
        """
    )
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--gen-key"], input=params.encode(), env=env, check=True,
                   capture_output=True)  # fmt: skip
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line.split(":")[4] for line in listing.splitlines() if line.startswith("sec"))


def stop_gpg_agent(home: Path) -> None:
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": str(home)},
        capture_output=True,
    )


def publish_package(
    package_zip: Path, target: Target, version: str, base: Path
) -> tuple[Release, RegistryTree]:
    """Sign a built zip with a throwaway key and publish it at https://localhost:8443."""
    release_dir = base / "release" / version
    release_dir.mkdir(parents=True, exist_ok=True)
    placed = release_dir / package_zip.name
    link_or_copy(package_zip, placed)
    home = base / "gnupg"
    key_id = make_signing_key(home)
    try:
        release = sign_release(version, {target: placed}, release_dir, str(home), key_id)
    finally:
        stop_gpg_agent(home)
    tree = RegistryTree(base / "registry", NAMESPACE, f"https://{REGISTRY_HOST}")
    publish(release, tree)
    return release, tree


@dataclass
class NetnsRegistry:
    """`registry-tools serve` on the container's loopback (host files, container network)."""

    container: Container
    tree: RegistryTree
    cert: CertFiles
    log: Path

    def start(self, timeout: float = 30) -> NetnsRegistry:
        argv = [sys.executable, "-m", "registry_tools.cli", "serve", "--dir", str(self.tree.root)]
        argv += ["--cert", str(self.cert.cert), "--key", str(self.cert.key)]
        argv += ["--host", "127.0.0.1", "--port", str(REGISTRY_PORT)]
        self.process = ChildProcess(self.container.netns_argv(argv), self.log)
        self.process.start()
        deadline = time.monotonic() + timeout
        while "serving" not in self.process.log_tail():
            if not self.process.running() or time.monotonic() > deadline:
                raise RuntimeError(f"the registry did not start:\n{self.process.log_tail()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.process.stop()


def plugin_executable(work_in_container: str, version: str, target: Target) -> str:
    """Where `terraform init` unpacked the package, as the container sees it."""
    return (
        f"{work_in_container}/.terraform/providers/{REGISTRY_HOST}/{NAMESPACE}/tarmak/"
        f"{version}/{target.name}/terraform-provider-tarmak_v{version}"
    )


def connector_command(container: Container, executable: str) -> list[str]:
    """`docker exec -i CONTAINER <exe> connector`, with nsenter and the container's env only."""
    inside = ["/bin/env", "-i", f"PATH={PATH_IN_CONTAINER}", "TMPDIR=/tmp"]
    inside += [executable, "connector", "--socket", SOCKET_IN_CONTAINER]
    return container.exec_argv(inside)


@dataclass
class OutsideTarmak:
    """The Tarmak side on the host, reaching the container only through the exec'd connector."""

    services: TarmakServices
    controller: ConnectorController

    @classmethod
    def start(cls, env: LocalEnvironment, state_dir: Path, command: list[str]) -> OutsideTarmak:
        services = TarmakServices(EnvironmentConfig.from_dict(environment_config(env, state_dir)))
        controller = ConnectorController(command, RequestServer(services.handlers()))
        controller.start()
        return cls(services, controller)

    def stop(self) -> None:
        self.controller.stop()
        self.services.close()


def example_config(version: str) -> str:
    """examples/tarmak-environment, installed from the registry in the container."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "examples" / "tarmak-environment" / "main.tf").read_text()
    source = f'source  = "{REGISTRY_HOST}/{NAMESPACE}/tarmak"\n      version = "{version}"'
    return text.replace('source = "jetstack/tarmak"', source, 1)


def terraform_variables(env: LocalEnvironment, vault: OpenBaoServer) -> dict[str, str]:
    """TF_VAR_* for the example; the CA file is the container's copy."""
    port = vault.endpoint.address.rsplit(":", 1)[1]
    return {
        "TF_VAR_bastion_hostname": env.bastion.access.host,
        "TF_VAR_bastion_username": env.bastion.access.username,
        "TF_VAR_vault_fqdns": f'["127.0.0.1:{port}"]',
        "TF_VAR_vault_ca_file": CA_IN_CONTAINER,
        "TF_VAR_vault_kms_key_id": DEMO_KEY,
    }


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
