"""Run the Tarmak side against the local environment (tests and the demo).

The connector runs as a local subprocess in place of `docker exec -i
CONTAINER tarmak-connector`; everything else is what Tarmak would do. The
Tarmak side reads its config from an env.yaml written here, as a user's would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer
from connector.tarmak_side.services import TarmakServices
from devenv.environment import LocalEnvironment
from devenv.kms import DEMO_KEY
from devenv.mirror import ROOT
from devenv.processes import stop_pid
from devenv.vault import OpenBaoServer

ROLES = ("master", "worker")
CLUSTER_NAME = "demo"
# Shamir shares of the cluster's unseal key (recovery key when it auto-unseals).
KEY_SHARES = 3
KEY_THRESHOLD = 2


def relay_argv(socket_path: str) -> list[str]:
    """This checkout's tarmak-connector, relaying `socket_path`: how the local
    environment, its tests and benches start the connector."""
    return [sys.executable, "-m", "connector.relay_cli", "--socket", socket_path]


def short_socket_path() -> str:
    """Unix socket paths are limited to ~104 bytes: keep them out of deep temp dirs."""
    return str(Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp")) / "connector.sock")


def local_config(
    bastion: dict[str, Any],
    ca_cert: str,
    state_dir: Path,
    *,
    wing_url: str | None = None,
    known_hosts: str | None = None,
    init_token_period: str | None = None,
    kms: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """env.yaml's content for the local bastion (host, port, user, key, known_hosts);
    `kms` is vault.key_protection (`KmsServer.key_protection()`, or state.json's
    "kms"): the stored keys are protected by the devenv's KMS."""
    vault: dict[str, Any] = {"key_shares": KEY_SHARES, "key_threshold": KEY_THRESHOLD}
    if kms is not None:
        vault["key_protection"] = dict(kms)
    vault["clusters"] = {CLUSTER_NAME: {role: {} for role in ROLES}}
    if init_token_period:
        vault["init_token_period"] = init_token_period
    return {
        "environment": "demo",
        "state_dir": str(state_dir),
        "bastion": {
            "host": bastion["host"],
            "port": bastion["port"],
            "username": bastion["username"],
            "key_path": bastion["key_path"],
            "known_hosts_path": known_hosts or bastion["known_hosts_path"],
            "wing_url": wing_url or bastion["wing_url"],
            "wing_ca_cert": ca_cert,
        },
        "vault": vault,
    }


def environment_config(
    env: LocalEnvironment,
    state_dir: Path,
    wing_url: str | None = None,
    known_hosts: str | None = None,
) -> dict[str, Any]:
    access = env.bastion.access
    bastion = {
        "host": access.host,
        "port": access.port,
        "username": access.username,
        "key_path": access.key_path,
        "known_hosts_path": access.known_hosts_path,
        "wing_url": env.wing_url,
    }
    return local_config(
        bastion,
        str(env.ca.cert_path),
        state_dir,
        wing_url=wing_url,
        known_hosts=known_hosts,
        kms=env.kms.key_protection(),
    )


def write_config(config: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def tfvars(
    bastion: dict[str, Any], vault_addresses: Sequence[str], ca_cert: str, **more: Any
) -> str:
    """terraform.tfvars for examples/tarmak-environment against the local environment
    (`more`: any other of the example's variables)."""
    values = {
        "bastion_hostname": bastion["host"],
        "bastion_username": bastion["username"],
        "vault_fqdns": [address for address in vault_addresses if address],
        "vault_ca_file": ca_cert,
        **more,
    }
    width = max(map(len, values))
    return "".join(f"{name:<{width}} = {json.dumps(value)}\n" for name, value in values.items())


def terraform_variables(
    env: LocalEnvironment, vault: OpenBaoServer | Sequence[str]
) -> dict[str, str]:
    """TF_VAR_* for examples/tarmak-environment: one TLS node, or a cluster's
    addresses; the KMS key that protects Tarmak's stored keys is the demo's."""
    if isinstance(vault, OpenBaoServer):
        addresses = [f"127.0.0.1:{vault.endpoint.address.rsplit(':', 1)[1]}"]
    else:
        addresses = list(vault)
    return {
        "TF_VAR_bastion_hostname": env.bastion.access.host,
        "TF_VAR_bastion_username": env.bastion.access.username,
        "TF_VAR_vault_fqdns": json.dumps(addresses),
        "TF_VAR_vault_ca_file": str(env.ca.cert_path),
        "TF_VAR_vault_kms_key_id": DEMO_KEY,
    }


@dataclass
class TarmakSide:
    """The controller with its connector, serving one socket path, in this process."""

    config: dict[str, Any]
    socket_path: str = field(default_factory=short_socket_path)

    def __post_init__(self) -> None:
        self.config_path = write_config(self.config, Path(self.socket_path).parent / "env.yaml")
        self.services = TarmakServices(EnvironmentConfig.load(self.config_path))
        self.server = RequestServer(self.services.handlers())
        self.controller = ConnectorController(
            relay_argv(self.socket_path), self.server, restart_delay=0.2
        )

    def start(self) -> TarmakSide:
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop, and remove the env.yaml and socket directory this made."""
        self.controller.stop()
        self.services.close()
        directory = Path(self.socket_path).parent
        with contextlib.suppress(OSError):
            self.config_path.unlink()
            if directory.name.startswith("tk-"):
                shutil.rmtree(directory, ignore_errors=True)


def generate_root(config_path: Path, nodes: Sequence[str], ca_file: Path) -> str:
    """A root token made from the stored shares, as an operator gets one
    (`tarmak-controller generate-root`; Tarmak keeps none): revoke it when done."""
    argv = [sys.executable, "-m", "connector.tarmak_side.cli", "--config", str(config_path)]
    argv += ["generate-root", *(arg for node in nodes for arg in ("--node", node))]
    argv += ["--vault-ca", str(ca_file)]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"tarmak-controller generate-root failed: {done.stderr}")
    return done.stdout.strip()


@dataclass
class TarmakSideProcess:
    """`tarmak-controller` as its own process (so a test can kill it like Tarmak dying)."""

    config_path: Path
    socket_path: str
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    # The module run as tarmak-controller (a test may run one with a fault built in).
    module: str = "connector.tarmak_side.cli"

    def start(self) -> TarmakSideProcess:
        connector = shlex.join(relay_argv(self.socket_path))
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.extra_env}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    self.module,
                    "--config",
                    str(self.config_path),
                    "--exec",
                    connector,
                    "-v",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        return self

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        """End it and its connector (the whole process group)."""
        if self.process is None:
            return
        stop_pid(self.process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(5)
