"""The whole local environment: CA, OpenBao in both modes, sshd bastion, wing,
a KMS (OpenBao with transit: it protects the keys Tarmak stores, and
auto-unseals nodes), and (when asked) a three-node Raft OpenBao cluster as
Tarmak runs Vault, sealed with Shamir or auto-unsealed by the KMS."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from connector.tarmak_side.safe_paths import write_private_file
from devenv.bastion import Bastion
from devenv.kms import KmsServer
from devenv.pki import ThrowawayCA
from devenv.processes import ChildProcess, free_port, wait_until
from devenv.raft_cluster import RaftCluster
from devenv.vault import OpenBaoServer
from devenv.wing import WingStandIn


def _make_private_directory(directory: Path) -> None:
    """The environment's directory holds keys and the dev Vault's token: ours
    alone (`python -m devenv up` uses a fixed path under /tmp, which another
    user could have made first)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_uid != os.getuid():
        raise RuntimeError(f"{directory} belongs to another user; choose another directory")
    directory.chmod(0o700)


@dataclass
class LocalEnvironment:
    directory: Path
    ca: ThrowawayCA
    vault_dev: OpenBaoServer
    vault_tls: OpenBaoServer
    bastion: Bastion
    wing_url: str
    wing: WingStandIn | ChildProcess
    kms: KmsServer
    vault_cluster: RaftCluster | None = None

    @classmethod
    def start(
        cls,
        directory: Path,
        *,
        wing_in_process: bool = True,
        cluster: bool = False,
        auto_unseal: bool = False,
    ) -> LocalEnvironment:
        """Start everything; a failure part-way stops what had started.
        `auto_unseal`: the cluster's nodes have `seal "transit"` against the KMS."""
        _make_private_directory(directory)
        ca = ThrowawayCA(directory / "pki")
        started: list[
            OpenBaoServer | Bastion | WingStandIn | ChildProcess | RaftCluster | KmsServer
        ] = []
        vault_cluster = None
        try:
            kms = KmsServer(directory / "kms", ca)
            vault_dev = OpenBaoServer(directory / "vault-dev", dev=True)
            vault_tls = OpenBaoServer(directory / "vault-tls", dev=False, ca=ca)
            bastion = Bastion(directory / "bastion")
            for server in (kms, vault_dev, vault_tls, bastion):
                server.process.start()
                started.append(server)
            kms.start_wait()  # initialised, keys made: auto-unsealed nodes need it first
            if cluster:
                seal = kms.transit_seal() if auto_unseal else None
                vault_cluster = RaftCluster(directory / "vault-cluster", ca, seal=seal)
                started.append(vault_cluster)
                vault_cluster.start()
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
        return cls(directory, ca, vault_dev, vault_tls, bastion, wing_url, wing, kms, vault_cluster)

    def stop(self) -> None:
        if self.vault_cluster is not None:
            self.vault_cluster.stop()
        for part in (self.wing, self.bastion, self.vault_tls, self.vault_dev, self.kms):
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
            "TARMAK_DEVENV_KMS_ADDR": self.kms.address,
            "TARMAK_DEVENV_KMS_TOKEN_FILE": str(self.kms.tarmak_token_file),
            **(self.vault_cluster.env() if self.vault_cluster else {}),
        }

    def pids(self) -> list[int]:
        parts = [
            self.vault_dev.process,
            self.vault_tls.process,
            self.bastion.process,
            self.kms.process,
        ]
        if isinstance(self.wing, ChildProcess):
            parts.append(self.wing)
        return [p.pid for p in parts]

    def save(self) -> None:
        """state.json: what `python -m devenv env|restart-node|tarmak-config|down` need."""
        nodes = {
            node.node_id: {
                "pid": node.process.pid,
                "argv": list(node.process.argv),
                "log": str(node.process.log_path),
                "address": node.address,
            }
            for node in (self.vault_cluster or [])
        }
        access = self.bastion.access
        state = {
            "pids": self.pids(),
            "env": self.env(),
            "vault_nodes": nodes,
            "ca_cert": str(self.ca.cert_path),
            # env.yaml's vault.key_protection (devenv.tarmak.local_config(kms=...))
            "kms": self.kms.key_protection(),
            "bastion": {
                "host": access.host,
                "port": access.port,
                "username": access.username,
                "key_path": access.key_path,
                "known_hosts_path": access.known_hosts_path,
                "wing_url": self.wing_url,
            },
        }
        # It holds the dev Vault's root token: readable by us alone.
        write_private_file(self.directory / "state.json", json.dumps(state, indent=2).encode())
