"""The Vaults bench/hostnaming.py allocates from: OpenBao -dev, and the three-node
TLS Raft cluster Tarmak runs (devenv/raft_cluster.py), whose writers are
given its standby nodes' addresses, as when a load balancer sends Terraform
to any node (the allocator then finds the active node itself).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devenv.pki import ThrowawayCA
from devenv.processes import cpu_seconds, wait_until
from devenv.raft_cluster import RaftCluster, UnsealedCluster, enable_kv2
from devenv.vault import OpenBaoServer

_AUDIT_BLOCK = re.compile(r'audit "file" "audit" \{.*?\n\}\n', re.S)


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
        return sum(cpu_seconds(pid) for pid in self.pids)

    def enable_kv2(self, mount: str) -> None:
        enable_kv2(self.admin_address, self.addresses, self.token, self.ca_cert, mount)


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
def raft_standbys(scratch: Path, *, audit: bool = True) -> Iterator[Target]:
    """Three nodes, initialised, unsealed, every node a voter; the standbys' addresses.
    `audit=False` leaves out the file audit device Tarmak's nodes have (to measure
    what it costs)."""
    ca = ThrowawayCA(scratch / "ca")
    ca_cert = str(ca.cert_path)
    nodes = RaftCluster(scratch / "raft", ca)
    if not audit:
        for node in nodes:
            config = node.directory / "server.hcl"
            config.write_text(_AUDIT_BLOCK.sub("", config.read_text()))
    nodes.start()
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
