"""Run the Tarmak side against the local environment (tests and the demo).

The connector runs as a local subprocess in place of `docker exec -i
CONTAINER tarmak-connector`; everything else is what Tarmak would do.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer
from connector.tarmak_side.services import TarmakServices
from devenv.environment import LocalEnvironment
from devenv.vault import OpenBaoServer

ROLES = ("master", "worker")


def short_socket_path() -> str:
    """Unix socket paths are limited to ~104 bytes: keep them out of deep temp dirs."""
    return str(Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp")) / "connector.sock")


def environment_config(
    env: LocalEnvironment,
    state_dir: Path,
    wing_url: str | None = None,
    known_hosts: str | None = None,
) -> dict[str, Any]:
    access = env.bastion.access
    return {
        "environment": "demo",
        "state_dir": str(state_dir),
        "bastion": {
            "host": access.host,
            "port": access.port,
            "username": access.username,
            "key_path": access.key_path,
            "known_hosts_path": known_hosts or access.known_hosts_path,
            "wing_url": wing_url or env.wing_url,
            "wing_ca_cert": str(env.ca.cert_path),
        },
        "vault": {"clusters": {"demo": {role: {} for role in ROLES}}},
    }


def terraform_variables(env: LocalEnvironment, vault: OpenBaoServer) -> dict[str, str]:
    """TF_VAR_* for examples/tarmak-environment."""
    port = vault.endpoint.address.rsplit(":", 1)[1]
    return {
        "TF_VAR_bastion_hostname": env.bastion.access.host,
        "TF_VAR_bastion_username": env.bastion.access.username,
        "TF_VAR_vault_fqdns": f'["127.0.0.1:{port}"]',
        "TF_VAR_vault_ca_file": str(env.ca.cert_path),
    }


@dataclass
class TarmakSide:
    """The controller with its connector, serving one socket path."""

    config: dict[str, Any]
    socket_path: str = field(default_factory=short_socket_path)

    def __post_init__(self) -> None:
        self.services = TarmakServices(EnvironmentConfig.from_dict(self.config))
        self.server = RequestServer(self.services.handlers())
        argv = [sys.executable, "-m", "connector.relay_cli", "--socket", self.socket_path]
        self.controller = ConnectorController(argv, self.server, restart_delay=0.2)

    def start(self) -> TarmakSide:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.services.close()
