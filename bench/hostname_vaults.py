"""The Vaults bench/hostnaming.py allocates from: OpenBao -dev, and the three-node
TLS Raft cluster Tarmak runs (devenv/raft_cluster.py), whose writers are
pointed at its standby nodes so that every write is redirected to the active
one, as when a load balancer sends Terraform to any node.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from devenv.pki import ThrowawayCA
from devenv.processes import wait_until
from devenv.raft_cluster import RaftCluster, RaftNode
from devenv.vault import OpenBaoServer


@dataclass(frozen=True)
class Target:
    """Where the writers go: writer i uses addresses[i % len(addresses)]."""

    label: str
    addresses: tuple[str, ...]
    token: str
    ca_cert: str | None
    # where mounts are made (the active node)
    admin_address: str
    pids: tuple[int, ...]  # the Vault server processes, for their CPU time

    def cpu_seconds(self) -> float:
        """CPU time the Vault servers have used so far (user and system)."""
        return sum(_cpu_seconds(pid) for pid in self.pids)

    def enable_kv2(self, mount: str) -> None:
        requests.post(
            f"{self.admin_address}/v1/sys/mounts/{mount}",
            json={"type": "kv", "options": {"version": "2"}},
            headers={"X-Vault-Token": self.token},
            verify=self.ca_cert or True,
            timeout=30,
        ).raise_for_status()
        # A new KV v2 mount upgrades itself first; standbys say so until they see it done.
        for address in self.addresses:
            ready = functools.partial(self._mount_ready, address, mount)
            wait_until(ready, f"{mount} on {address}", 60)

    def _mount_ready(self, address: str, mount: str) -> bool:
        answer = requests.get(
            f"{address}/v1/{mount}/data/ready",
            headers={"X-Vault-Token": self.token},
            verify=self.ca_cert or True,
            timeout=10,
        )
        return answer.status_code == 404


@contextlib.contextmanager
def dev_server(scratch: Path) -> Iterator[Target]:
    vault = OpenBaoServer(scratch / "dev", dev=True).start()
    try:
        address = vault.endpoint.address
        token = vault.endpoint.token or ""
        pid = vault.process.pid
        yield Target("OpenBao -dev", (address,), token, None, address, (pid,))
    finally:
        vault.stop()


@contextlib.contextmanager
def raft_standbys(scratch: Path) -> Iterator[Target]:
    """Three nodes, initialised, unsealed, every node a voter; the standbys' addresses."""
    ca = ThrowawayCA(scratch / "ca")
    ca_cert = str(ca.cert_path)
    nodes = RaftCluster(scratch / "raft", ca).start()
    try:
        init = requests.put(
            f"{nodes.node(0).endpoint.address}/v1/sys/init",
            json={"secret_shares": 1, "secret_threshold": 1},
            verify=ca_cert,
            timeout=30,
        ).json()
        for node in nodes:
            _unseal(node, init["keys"][0], ca_cert)
        active = nodes.wait_for_active(60)
        token = init["root_token"]
        wait_until(lambda: _all_voters(nodes, token, ca_cert), "every node a voter", 60, 0.5)
        active = nodes.wait_for_active(60)
        standbys = tuple(n.endpoint.address for n in nodes if n is not active)
        label = "three-node TLS Raft, through the standbys"
        pids = tuple(node.process.pid for node in nodes)
        yield Target(label, standbys, token, ca_cert, active.endpoint.address, pids)
    finally:
        nodes.stop()


def _unseal(node: RaftNode, key: str, ca_cert: str) -> None:
    def unsealed() -> bool:
        answer = requests.put(
            f"{node.endpoint.address}/v1/sys/unseal", json={"key": key}, verify=ca_cert, timeout=10
        )
        return answer.status_code == 200 and not answer.json().get("sealed")

    wait_until(unsealed, f"{node.node_id} unsealed", 60, 0.5)


def _all_voters(nodes: RaftCluster, token: str, ca_cert: str) -> bool:
    active = nodes.active()
    if active is None:
        return False
    answer = requests.get(
        f"{active.endpoint.address}/v1/sys/storage/raft/configuration",
        headers={"X-Vault-Token": token},
        verify=ca_cert,
        timeout=10,
    )
    servers = answer.json().get("data", {}).get("config", {}).get("servers", [])
    return len(servers) == len(nodes.nodes) and all(s.get("voter") for s in servers)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
