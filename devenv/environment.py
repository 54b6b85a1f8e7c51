"""The whole local environment: CA, OpenBao in both modes, sshd bastion, wing."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from devenv.bastion import Bastion
from devenv.pki import ThrowawayCA
from devenv.processes import ChildProcess, free_port, wait_until
from devenv.vault import OpenBaoServer
from devenv.wing import WingStandIn


@dataclass
class LocalEnvironment:
    directory: Path
    ca: ThrowawayCA
    vault_dev: OpenBaoServer
    vault_tls: OpenBaoServer
    bastion: Bastion
    wing_url: str
    wing: WingStandIn | ChildProcess

    @classmethod
    def start(cls, directory: Path, *, wing_in_process: bool = True) -> LocalEnvironment:
        """Start everything; a failure part-way stops what had started."""
        directory.mkdir(parents=True, exist_ok=True)
        ca = ThrowawayCA(directory / "pki")
        started: list[OpenBaoServer | Bastion | WingStandIn | ChildProcess] = []
        try:
            vault_dev = OpenBaoServer(directory / "vault-dev", dev=True)
            vault_tls = OpenBaoServer(directory / "vault-tls", dev=False, ca=ca)
            bastion = Bastion(directory / "bastion")
            for part in (vault_dev, vault_tls, bastion):
                part.process.start()
                started.append(part)
            wing_cert = ca.issue("wing")
            wing: WingStandIn | ChildProcess
            if wing_in_process:
                wing = WingStandIn(wing_cert).start()
                wing_url = wing.url
            else:
                port = free_port()
                wing = ChildProcess(
                    [
                        sys.executable,
                        "-m",
                        "devenv.wing",
                        str(port),
                        str(wing_cert.cert),
                        str(wing_cert.key),
                    ],
                    directory / "wing.log",
                )
                wing.start()
                wing_url = f"https://127.0.0.1:{port}/healthz"
            started.append(wing)
            vault_dev.start_wait()
            vault_tls.start_wait()
            bastion.start_wait()
            if isinstance(wing, ChildProcess):
                import requests

                wait_until(
                    lambda: requests.get(wing_url, verify=str(ca.cert_path), timeout=1).ok,
                    "the wing stand-in",
                )
        except BaseException:
            for part in reversed(started):
                part.stop()
            raise
        return cls(directory, ca, vault_dev, vault_tls, bastion, wing_url, wing)

    def stop(self) -> None:
        for part in (self.wing, self.bastion, self.vault_tls, self.vault_dev):
            part.stop()

    def env(self) -> dict[str, str]:
        """What a user exports to use this environment."""
        access = self.bastion.access
        return {
            **self.vault_dev.endpoint.env(),
            "VAULT_CACERT": str(self.ca.cert_path),
            "TARMAK_DEVENV_VAULT_TLS_ADDR": self.vault_tls.endpoint.address,
            "TARMAK_DEVENV_SSH_HOST": access.host,
            "TARMAK_DEVENV_SSH_PORT": str(access.port),
            "TARMAK_DEVENV_SSH_USER": access.username,
            "TARMAK_DEVENV_SSH_KEY": access.key_path,
            "TARMAK_DEVENV_SSH_KNOWN_HOSTS": access.known_hosts_path,
            "TARMAK_DEVENV_WING_URL": self.wing_url,
        }

    def pids(self) -> list[int]:
        parts = [self.vault_dev.process, self.vault_tls.process, self.bastion.process]
        if isinstance(self.wing, ChildProcess):
            parts.append(self.wing)
        return [p.pid for p in parts]

    def save(self) -> None:
        state = {"pids": self.pids(), "env": self.env()}
        (self.directory / "state.json").write_text(json.dumps(state, indent=2))
