"""The Vaults bench/hostnaming.py allocates from: OpenBao -dev, and the three-node
TLS Raft cluster Tarmak runs (devenv/raft_cluster.py), whose writers are
given its standby nodes' addresses, as when a load balancer sends Terraform
to any node (the allocator then finds the active node itself).
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
from devenv.raft_cluster import RaftCluster, UnsealedCluster
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
        for address in (self.admin_address, *self.addresses):
            ready = functools.partial(self._mount_ready, address, mount)
            wait_until(ready, f"{mount} on {address}", 60)

    def _mount_ready(self, address: str, mount: str) -> bool:
        answer = requests.get(
            f"{address}/v1/{mount}/data/ready",
            headers={"X-Vault-Token": self.token},
            verify=self.ca_cert or True,
            timeout=10,
        )
        # 404 with no errors: no such key. A node that has not seen the mount yet says
        # 404 "no handler for route", and one that has not seen it upgraded 400.
        return answer.status_code == 404 and not answer.json().get("errors")


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
        cluster = UnsealedCluster.initialise(nodes, ca_cert)
        token = cluster.token
        wait_until(cluster.all_voters, "every node a voter", 60, 0.5)
        active = nodes.wait_for_active(60)
        standbys = tuple(n.endpoint.address for n in nodes if n is not active)
        label = "three-node TLS Raft, given the standbys' addresses"
        pids = tuple(node.process.pid for node in nodes)
        yield Target(label, standbys, token, ca_cert, active.endpoint.address, pids)
    finally:
        nodes.stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
