"""Three OpenBao servers as Tarmak runs Vault: integrated (Raft) storage on disk,
`retry_join` to each other, TLS from the throwaway CA, a file audit device, and
**uninitialised** at first start.

A restarted node keeps its data, so it comes back sealed (not uninitialised,
as an `inmem` node would). A wiped node comes back empty and rejoins with the
same `node_id`. Ports (API and cluster) are picked below the kernel's
ephemeral range: a node binds its cluster port only once unsealed, and an SSH
tunnel's local port must never take it first.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devenv import audit_file
from devenv.pki import ThrowawayCA
from devenv.processes import ChildProcess, wait_until
from devenv.vault import VaultEndpoint, bao_binary

WRITE_OPERATIONS = frozenset({"create", "update", "delete"})
# The log line OpenBao writes once per sys/init: counting it counts initialisations.
INITIALISED_LINE = "security barrier initialized"
# What a node with `seal "transit"` logs when it has unsealed itself.
AUTO_UNSEALED_LINE = "unsealed with stored key"


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def low_free_port(taken: set[int]) -> int:
    """A free loopback port below the ephemeral range (bounded attempts)."""
    floor = min(_ephemeral_floor(), 32768)
    for _ in range(200):
        port = random.randrange(20000, floor)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError(f"no free port found between 20000 and {floor}")


@dataclass(frozen=True)
class TransitSeal:
    """`seal "transit"`: auto-unseal through another OpenBao's transit key."""

    address: str
    token: str
    key_name: str
    mount_path: str
    ca_cert: str

    def hcl(self) -> str:
        return textwrap.dedent(
            f"""\
            seal "transit" {{
              address     = "{self.address}"
              token       = "{self.token}"
              key_name    = "{self.key_name}"
              mount_path  = "{self.mount_path}"
              tls_ca_cert = "{self.ca_cert}"
            }}
            """
        )


@dataclass(frozen=True)
class AuditEntry:
    node: str
    type: str  # "request" or "response"
    operation: str
    path: str
    client_token: str = ""  # set only by an audit_raw device
    response_token: str = ""  # a token the response handed out (audit_raw only)
    policies: tuple[str, ...] = ()  # the policies of the token that made the request

    @property
    def is_write(self) -> bool:
        return self.operation in WRITE_OPERATIONS


class RaftNode:
    def __init__(
        self,
        directory: Path,
        node_id: str,
        api_port: int,
        cluster_port: int,
        peers: list[int],
        ca: ThrowawayCA,
        seal: TransitSeal | None = None,
        audit_raw: bool = False,
    ) -> None:
        self.directory = directory
        self.seal = seal
        self.node_id = node_id
        self.api_port = api_port
        self.cluster_port = cluster_port
        self.data_dir = directory / "data"
        # The audit table is replicated: every node must declare the same device
        # (a per-node file_path stops a standby from ever taking over), so each
        # node audits to its stdout, which is its log file.
        self.audit_log = directory / "bao.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        files = ca.issue(node_id)
        joins = "".join(
            textwrap.dedent(
                f"""
                  retry_join {{
                    leader_api_addr     = "https://127.0.0.1:{peer}"
                    leader_ca_cert_file = "{ca.cert_path}"
                  }}"""
            )
            for peer in peers
        )
        config = directory / "server.hcl"
        raw = '\n    log_raw   = "true"' if audit_raw else ""
        config.touch(mode=0o600)  # a transit seal's token is in it
        config.write_text(
            f'storage "raft" {{\n'
            f'  path    = "{self.data_dir}"\n'
            f'  node_id = "{node_id}"\n'
            f"  performance_multiplier = 1{joins}\n}}\n"
            + textwrap.dedent(
                f"""\
                listener "tcp" {{
                  address         = "127.0.0.1:{api_port}"
                  cluster_address = "127.0.0.1:{cluster_port}"
                  tls_cert_file   = "{files.cert}"
                  tls_key_file    = "{files.key}"
                }}
                api_addr     = "https://127.0.0.1:{api_port}"
                cluster_addr = "https://127.0.0.1:{cluster_port}"
                audit "file" "audit" {{
                  options {{
                    file_path = "stdout"{raw}
                  }}
                }}
                """
            )
            + (seal.hcl() if seal else "")
        )
        self.endpoint = VaultEndpoint(f"https://127.0.0.1:{api_port}", None, str(ca.cert_path))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        self.process = ChildProcess(
            [bao_binary(), "server", f"-config={config}"], directory / "bao.log", env
        )

    @property
    def address(self) -> str:
        """`host:port` as the bastion reaches it (an entry of internal_fqdns)."""
        return f"127.0.0.1:{self.api_port}"

    def health(self) -> int | None:
        """sys/health's status code (200 active, 429 standby, 501, 503), None if down."""
        try:
            return self.endpoint.health_status()
        except requests.RequestException:
            return None

    def seal_status(self) -> dict[str, Any] | None:
        """sys/seal-status (never audited): `sealed`, `type` ("shamir", "transit"),
        `recovery_seal`; None if the node does not answer."""
        try:
            answer = requests.get(
                f"{self.endpoint.address}/v1/sys/seal-status",
                verify=self.endpoint.ca_cert or True,
                timeout=2,
            )
            status: dict[str, Any] = answer.json()
            return status
        except (requests.RequestException, ValueError):
            return None

    def start(self) -> RaftNode:
        self.process.start()
        return self

    def start_wait(self) -> RaftNode:
        def answers() -> bool:
            if not self.process.running():
                raise TimeoutError(f"OpenBao {self.node_id} exited:\n{self.process.log_tail()}")
            return self.health() is not None

        try:
            wait_until(answers, f"OpenBao {self.node_id} on port {self.api_port}", timeout=30)
        except TimeoutError as err:
            self.stop()
            raise TimeoutError(f"{err}\n{self.process.log_tail()}") from None
        return self

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL, as a crash: no step-down, no flush; the node keeps its data on disk."""
        child = self.process.process
        if child is None or child.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)

    def restart(self) -> RaftNode:
        """Stop and start again: the node keeps its data and comes back sealed."""
        self.stop()
        return self.start().start_wait()

    def wipe(self) -> RaftNode:
        """Stop, delete its data, start again: an empty node that rejoins (a replacement)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        return self.start().start_wait()

    def initialisations(self) -> int:
        return self.log_count(INITIALISED_LINE)

    def log_count(self, line: str) -> int:
        """How often the server log holds `line` (e.g. AUTO_UNSEALED_LINE)."""
        try:
            return self.process.log_path.read_text(errors="replace").count(line)
        except OSError:
            return 0

    def audit_size(self) -> int:
        return audit_file.size(self.audit_log)

    def audit_entries(self, since: int = 0) -> list[AuditEntry]:
        """Request and response entries of the audit log from byte offset `since`."""
        entries = []
        for raw in audit_file.records(self.audit_log, since):
            request = raw.get("request") or {}
            auth = raw.get("auth") or {}
            handed_out = ((raw.get("response") or {}).get("auth") or {}).get("client_token")
            entries.append(
                AuditEntry(
                    self.node_id,
                    str(raw["type"]),
                    str(request.get("operation", "")),
                    str(request.get("path", "")),
                    str(auth.get("client_token") or ""),
                    str(handed_out or ""),
                    tuple(str(p) for p in auth.get("policies") or ()),
                )
            )
        return entries


class RaftCluster:
    """Three (or `size`) nodes that know each other; started together, stopped together."""

    def __init__(
        self,
        directory: Path,
        ca: ThrowawayCA,
        size: int = 3,
        *,
        seal: TransitSeal | None = None,
        audit_raw: bool = False,
        retry_join: bool = True,
    ) -> None:
        """`retry_join` False: the nodes know no peers and join only when told to."""
        self.directory = directory
        self.seal = seal
        taken: set[int] = set()
        api_ports = [low_free_port(taken) for _ in range(size)]
        cluster_ports = [low_free_port(taken) for _ in range(size)]
        self.nodes = [
            RaftNode(
                directory / f"vault-{i + 1}",
                f"vault-{i + 1}",
                api_ports[i],
                cluster_ports[i],
                [p for p in api_ports if p != api_ports[i]] if retry_join else [],
                ca,
                seal,
                audit_raw,
            )
            for i in range(size)
        ]

    def __iter__(self) -> Iterator[RaftNode]:
        return iter(self.nodes)

    def start(self) -> RaftCluster:
        started: list[RaftNode] = []
        try:
            for node in self.nodes:
                node.start()
                started.append(node)
            for node in self.nodes:
                node.start_wait()
        except BaseException:
            for node in started:
                node.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    @property
    def addresses(self) -> list[str]:
        return [node.address for node in self.nodes]

    def node(self, name_or_index: str | int) -> RaftNode:
        if isinstance(name_or_index, int):
            return self.nodes[name_or_index]
        return next(n for n in self.nodes if n.node_id == name_or_index)

    def health(self) -> dict[str, int | None]:
        return {node.node_id: node.health() for node in self.nodes}

    def active(self) -> RaftNode | None:
        return next((n for n in self.nodes if n.health() == 200), None)

    def wait_for_active(self, timeout: float = 30) -> RaftNode:
        wait_until(lambda: self.active() is not None, "an active Vault node", timeout, 0.2)
        node = self.active()
        assert node is not None
        return node

    def initialisations(self) -> int:
        return sum(node.initialisations() for node in self.nodes)

    def audit_marks(self) -> dict[str, int]:
        """Where each audit log ends now, to read only what comes after."""
        return {node.node_id: node.audit_size() for node in self.nodes}

    def audit_since(self, marks: dict[str, int]) -> list[AuditEntry]:
        """Request entries logged after `marks` (every node's)."""
        return [
            e
            for n in self.nodes
            for e in n.audit_entries(marks.get(n.node_id, 0))
            if e.type == "request"
        ]

    def audit_everything(self) -> list[AuditEntry]:
        """Requests and responses from the start of every node's log."""
        return [e for n in self.nodes for e in n.audit_entries(0)]

    def env(self) -> dict[str, str]:
        return {
            "TARMAK_DEVENV_VAULT_CLUSTER": ",".join(self.addresses),
        }


def enable_kv2(active: str, nodes: tuple[str, ...], token: str, ca: str | None, mount: str) -> None:
    """A new KV version 2 mount at `mount`, made on the active node (base URL), and
    waited for until every node in `nodes` serves it: a new mount upgrades itself
    first, and a node that has not seen the mount, or its upgrade, answers 404
    "no handler for route" or 400 where a ready one says a key is absent."""
    requests.post(
        f"{active}/v1/sys/mounts/{mount}",
        json={"type": "kv", "options": {"version": "2"}},
        headers={"X-Vault-Token": token},
        verify=ca or True,
        timeout=30,
    ).raise_for_status()

    def ready(address: str) -> bool:
        answer = requests.get(
            f"{address}/v1/{mount}/data/ready",
            headers={"X-Vault-Token": token},
            verify=ca or True,
            timeout=10,
        )
        return answer.status_code == 404 and not answer.json().get("errors")

    for address in dict.fromkeys((active, *nodes)):
        wait_until(lambda a=address: ready(a), f"{mount} on {address}", 60, 0.2)


@dataclass
class UnsealedCluster:
    """A RaftCluster initialised with one key share, its nodes unsealed: what the
    hostname tests and bench allocate from (Tarmak's own init, with protected
    keys, is the Tarmak side's; this is for arranging a cluster quickly)."""

    nodes: RaftCluster
    ca: str
    key: str
    token: str

    @classmethod
    def initialise(cls, nodes: RaftCluster, ca_cert: str) -> UnsealedCluster:
        init = requests.put(
            f"{nodes.node(0).endpoint.address}/v1/sys/init",
            json={"secret_shares": 1, "secret_threshold": 1},
            verify=ca_cert,
            timeout=30,
        ).json()
        cluster = cls(nodes, ca_cert, init["keys"][0], init["root_token"])
        for node in nodes:
            cluster.unseal(node)
        return cluster

    def unseal(self, node: RaftNode) -> None:
        def unsealed() -> bool:
            answer = requests.put(
                f"{node.endpoint.address}/v1/sys/unseal",
                json={"key": self.key},
                verify=self.ca,
                timeout=10,
            )
            return answer.status_code == 200 and not answer.json().get("sealed")

        wait_until(unsealed, f"{node.node_id} unsealed", 60, 0.5)

    def enable_kv2(self, mount: str) -> None:
        """A new KV version 2 mount, served by every node once this returns."""
        active = self.nodes.wait_for_active(60)
        every = tuple(node.endpoint.address for node in self.nodes)
        enable_kv2(active.endpoint.address, every, self.token, self.ca, mount)

    def all_voters(self) -> bool:
        active = self.nodes.active()
        if active is None:
            return False
        answer = requests.get(
            f"{active.endpoint.address}/v1/sys/storage/raft/configuration",
            headers={"X-Vault-Token": self.token},
            verify=self.ca,
            timeout=10,
        )
        servers = answer.json().get("data", {}).get("config", {}).get("servers", [])
        return len(servers) == len(self.nodes.nodes) and all(s.get("voter") for s in servers)

    def env(self, node: RaftNode) -> dict[str, str]:
        """Terraform's environment for reaching Vault through `node`."""
        return {
            "VAULT_ADDR": node.endpoint.address,
            "VAULT_TOKEN": self.token,
            "VAULT_CACERT": self.ca,
        }
