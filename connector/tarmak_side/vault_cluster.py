"""Vault clusters as Tarmak runs them: several nodes with integrated (Raft)
storage, reached through SSH tunnels via the bastion, trusted only through the
cluster's own CA.

Two kinds of request, kept strictly apart:

- **observe** (Terraform's plan and refresh): `sys/health` of every node and,
  for an instance role, reads only. Nothing is unsealed, written or renewed.
- **converge** (Terraform's apply): initialise the cluster if, and only if, no
  keys are stored and every listed node answers uninitialised; store the keys
  durably before anything else; join and unseal every node; ready once every
  listed node is unsealed, one is active and (with Raft) every node votes.

A node that reports uninitialised while keys are stored, or while another node
is initialised, is a new or replaced member: it is joined and unseals with the
stored key, never initialised. Secrets are never logged.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hvac
import requests

from connector.tarmak_side.config import ConfigError, EnvironmentConfig
from connector.tarmak_side.safe_paths import UnsafePath, ensure_private_directory, private_copy
from connector.tarmak_side.server import Call, OperationFailed
from connector.tarmak_side.ssh import BastionError
from connector.tarmak_side.ssh_http import session_through
from connector.tarmak_side.vault_http import http
from connector.tarmak_side.vault_keys import ClusterKeys, KeysConflict, KeyStore
from connector.tarmak_side.vault_roles import InstanceRoles
from connector.tarmak_side.wing import BastionChecker

log = logging.getLogger(__name__)
# Test hook: exit the Tarmak side right after the keys of a new cluster are
# stored, as if it were killed there (proves the next run finds and uses them).
FAULT_EXIT_AFTER_INIT = "TARMAK_FAULT_EXIT_AFTER_INIT"
UNSEALED = (200, 429, 473)


@dataclass(frozen=True)
class Node:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int) -> Node:
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        if port and not port.isdigit():
            raise OperationFailed(f"internal_fqdns entry {text!r} is not host or host:port")
        return cls(host, int(port)) if port else cls(text, default_port)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Seen:
    """One node as sys/health showed it (status is None when it did not answer)."""

    node: Node
    client: hvac.Client
    status: int | None
    problem: str = ""

    @property
    def unsealed(self) -> bool:
        return self.status in UNSEALED

    def describe(self) -> str:
        return f"Vault {self.node}: {self.problem or _health_meaning(self.status)}"


_HEALTH = {
    200: "active",
    429: "standby",
    472: "DR secondary",
    473: "performance standby",
    501: "not initialised",
    503: "sealed",
}


def _health_meaning(status: int | None) -> str:
    return _HEALTH.get(status, f"HTTP {status}") if status is not None else "not answering"


class VaultClusters:
    def __init__(self, config: EnvironmentConfig, bastion: BastionChecker) -> None:
        self.config = config
        self.bastion = bastion
        self.keys = KeyStore(config.state_dir)
        self.roles = InstanceRoles(config)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @contextlib.contextmanager
    def _exclusive(self, name: str) -> Iterator[None]:
        """One converge per cluster at a time, in this process and across processes."""
        with self._locks_lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            try:
                ensure_private_directory(
                    self.config.state_dir, follow_symlink=self.config.follow_state_dir_symlink
                )
            except (UnsafePath, OSError) as err:
                raise OperationFailed(f"refusing the state directory: {err}") from None
            lock_path = self.config.state_dir / f".vault-{name}.lock"
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            with os.fdopen(os.open(lock_path, flags, 0o600), "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield

    def _keys_name(self, params: dict[str, Any]) -> str:
        name = params.get("vault_unseal_key_name") or f"{self.config.environment}-vault"
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            raise OperationFailed(f"vault_unseal_key_name {name!r} cannot name a keys file")
        return name

    def _load_keys(self, name: str) -> ClusterKeys | None:
        try:
            return self.keys.load(name)
        except KeysConflict as err:
            raise OperationFailed(str(err)) from None

    # ---- reaching the nodes -----------------------------------------------------

    def _client(self, node: Node, ca_file: str, token: str | None) -> hvac.Client:
        bastion = self.config.bastion
        if not bastion.host or not bastion.username:
            raise OperationFailed(f"set bastion.host and bastion.username in {self.config.source}")
        try:
            connection = self.bastion.connection(bastion.host, bastion.username)
        except BastionError as err:
            raise OperationFailed(str(err)) from None
        # Over the SSH connection itself, checked against the cluster's CA alone.
        session, url = session_through(connection, node.host, node.port, ca_file)
        return hvac.Client(url=url, token=token, verify=ca_file, session=session, timeout=10)

    def _ca_file(self, params: dict[str, Any]) -> str:
        ca = params.get("vault_ca") or ""
        if not isinstance(ca, str) or "BEGIN CERTIFICATE" not in ca:
            raise OperationFailed("vault_ca must be the PEM text of the cluster's CA certificate")
        digest = hashlib.sha256(ca.encode()).hexdigest()[:16]
        try:
            path = private_copy(
                self.config.state_dir,
                f"vault-ca-{digest}.pem",
                ca.encode(),
                follow_symlink=self.config.follow_state_dir_symlink,
            )
        except (UnsafePath, OSError) as err:
            raise OperationFailed(f"refusing the state directory: {err}") from None
        return str(path)

    @contextlib.contextmanager
    def _survey(self, params: dict[str, Any], token: str | None) -> Iterator[list[Seen]]:
        """Every listed node with its sys/health status; the tunnels close afterwards.
        sys/health is never audited and changes nothing."""
        ca_file = self._ca_file(params)
        listed = params.get("internal_fqdns") or []
        if not isinstance(listed, list) or not listed:
            raise OperationFailed("internal_fqdns names no Vault node")
        nodes = [Node.parse(str(n), self.config.vault.port) for n in listed]
        found: list[Seen] = []
        try:
            for node in nodes:
                found.append(self._look(node, ca_file, token))
            yield found
        finally:
            for seen in found:
                seen.client.adapter.close()

    def _look(self, node: Node, ca_file: str, token: str | None) -> Seen:
        client = self._client(node, ca_file, token)
        try:
            return Seen(node, client, http(client, "GET", "/v1/sys/health").status_code)
        except requests.exceptions.SSLError:
            problem = f"TLS verification failed (is vault_ca the CA that signed {node.host}?)"
        except requests.RequestException as err:
            problem = f"not answering ({type(err).__name__})"
        return Seen(node, client, None, problem)

    @staticmethod
    def _describe(found: list[Seen]) -> str:
        return "; ".join(seen.describe() for seen in found)

    # ---- observing (plan, refresh) ------------------------------------------------

    def init_status(self, call: Call) -> dict[str, Any]:
        """What the cluster looks like, from sys/health alone: no side effects."""
        name = self._keys_name(call.params)
        keys_stored = self._load_keys(name) is not None
        with self._survey(call.params, None) as found:
            answered = [s for s in found if s.status is not None]
            return {
                "reachable": bool(answered),
                "initialized": keys_stored or any(s.status != 501 for s in answered),
                "keys_stored": keys_stored,
                "sealed": any(not s.unsealed for s in found),
                "ready": len(answered) == len(found)
                and all(s.unsealed for s in found)
                and any(s.status == 200 for s in found),
                "nodes": {str(s.node): _health_meaning(s.status) for s in found},
                "detail": self._describe(found),
            }

    # ---- converging (apply) -------------------------------------------------------

    def cluster_status(self, call: Call) -> dict[str, Any]:
        """Converge until ready: initialise once if needed, join and unseal every node,
        then set up every instance role the environment config names."""
        params = call.params
        create = bool(params.get("create"))
        name = self._keys_name(params)
        deadline = call.deadline()
        delay = 0.2
        while True:
            with self._exclusive(name):
                ready, detail = self._converge(params, name, allow_init=create)
                if ready:
                    keys = self._load_keys(name)
                    assert keys is not None
                    with self._survey(params, keys.root_token) as found:
                        active = next((s for s in found if s.status == 200), None)
                        if active is not None:
                            self.roles.set_up_all(active.client)
                            return {"status": "ready", "detail": detail}
            if not params.get("wait", True) or time.monotonic() + delay > deadline:
                return {"status": "not-ready", "detail": detail}
            call.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _converge(self, params: dict[str, Any], name: str, allow_init: bool) -> tuple[bool, str]:
        """One pass over the nodes; (ready, what was seen and done)."""
        keys = self._load_keys(name)
        with self._survey(params, keys.root_token if keys else None) as found:
            detail = self._describe(found)
            if keys is None:
                return False, self._initialise(found, name, params, allow_init, detail)
            acted = []
            active = next((s for s in found if s.status == 200), None)
            for seen in found:
                if seen.status == 503:
                    acted.append(self._unseal(seen, keys, name))
                elif seen.status == 501 and active is not None:
                    acted.append(self._join(seen, active, params))
            if acted:
                return False, f"{detail}; {'; '.join(acted)}"
            if not all(s.unsealed for s in found) or active is None:
                return False, detail
            voting = self._voters(active)
            if voting is not None and voting < len(found):
                return False, (
                    f"{detail}; {voting} of {len(found)} nodes vote in Raft yet (autopilot "
                    "promotes a joined node after it has been stable for about 10 s)"
                )
            return True, detail

    def _initialise(
        self, found: list[Seen], name: str, params: dict[str, Any], allow_init: bool, detail: str
    ) -> str:
        path = self.keys.path(name)
        initialised = [s for s in found if s.status is not None and s.status != 501]
        if initialised:
            raise OperationFailed(
                f"{detail}. Vault {initialised[0].node} is already initialised, but {path} "
                "holds no keys for it. Tarmak never initialises a cluster twice: put the "
                "cluster's root token and unseal key in that file (or set "
                "vault_unseal_key_name to the name they are stored under)"
            )
        if not allow_init:
            return f"{detail}; waiting for tarmak_vault_cluster to initialise it"
        silent = [s for s in found if s.status is None]
        if silent:
            return f"{detail}; every node must answer before the cluster is initialised"
        first = found[0]
        log.info("initialising Vault %s (cluster %s)", first.node, name)
        answer = http(
            first.client, "PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1}
        )
        if answer.status_code != 200:
            raise OperationFailed(
                f"Vault {first.node} refused sys/init: "
                f"HTTP {answer.status_code} {answer.text[:300]}"
            )
        body = answer.json()
        keys = ClusterKeys(body["root_token"], body["keys"][0], params.get("vault_kms_key_id"))
        try:
            self.keys.save(name, keys)  # durable before anything else happens
        except (KeysConflict, OSError) as err:
            raise OperationFailed(
                f"Vault {first.node} was initialised but its keys could not be stored: {err}"
            ) from None
        if os.environ.get(FAULT_EXIT_AFTER_INIT):
            os._exit(70)
        return f"{detail}; initialised Vault {first.node}, keys stored in {path}"

    def _unseal(self, seen: Seen, keys: ClusterKeys, name: str) -> str:
        answer = http(seen.client, "PUT", "/v1/sys/unseal", {"key": keys.unseal_key})
        if answer.status_code == 400:
            raise OperationFailed(
                f"the unseal key in {self.keys.path(name)} does not unseal Vault {seen.node}: "
                f"{answer.text[:300]}"
            )
        if answer.status_code != 200:
            # A node still joining refuses the key (HTTP 500, "invalid key size 0")
            # until the leader has answered its bootstrap challenge: try again soon.
            return f"Vault {seen.node} not ready to unseal yet (HTTP {answer.status_code})"
        log.info("unsealed Vault %s", seen.node)
        return f"unsealed Vault {seen.node}"

    def _join(self, seen: Seen, active: Seen, params: dict[str, Any]) -> str:
        """A new or replaced node joins the active one (retry_join may already be doing it)."""
        answer = http(
            seen.client,
            "PUT",
            "/v1/sys/storage/raft/join",
            {
                "leader_api_addr": f"https://{active.node.host}:{active.node.port}",
                "leader_ca_cert": params["vault_ca"],
            },
        )
        log.info("Vault %s joining %s: HTTP %s", seen.node, active.node, answer.status_code)
        return f"Vault {seen.node} joining {active.node}"

    @staticmethod
    def _voters(active: Seen) -> int | None:
        """How many Raft peers vote; None when the storage is not Raft."""
        answer = http(active.client, "GET", "/v1/sys/storage/raft/configuration")
        if answer.status_code != 200:
            return None
        servers = ((answer.json().get("data") or {}).get("config") or {}).get("servers") or []
        return sum(1 for server in servers if server.get("voter"))

    # ---- instance roles -------------------------------------------------------------

    def instance_role(self, call: Call) -> dict[str, Any]:
        params = call.params
        cluster, role = str(params.get("vault_cluster_name")), str(params.get("role_name"))
        try:
            settings = self.config.role(cluster, role)
        except ConfigError as err:
            raise OperationFailed(str(err)) from None
        name = self._keys_name(params)
        if not params.get("create", True):
            return self._observe_role(params, name, cluster, role)
        deadline = call.deadline()
        delay = 0.2
        while True:
            with self._exclusive(name):
                ready, detail = self._converge(params, name, allow_init=False)
                if ready:
                    keys = self._load_keys(name)
                    assert keys is not None
                    with self._survey(params, keys.root_token) as found:
                        active = next((s for s in found if s.status == 200), None)
                        if active is not None:
                            token = self.roles.ensure(active.client, cluster, role, settings)
                            return {"status": "ready", "init_token": token}
            if not params.get("wait", True) or time.monotonic() + delay > deadline:
                return {"status": "not-ready", "detail": detail}
            call.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _observe_role(
        self, params: dict[str, Any], name: str, cluster: str, role: str
    ) -> dict[str, Any]:
        """Is the role's init token still there and valid? Reads only."""
        keys = self._load_keys(name)
        if keys is None:
            return {"status": "not-ready", "detail": f"no keys in {self.keys.path(name)}"}
        with self._survey(params, keys.root_token) as found:
            active = next((s for s in found if s.status == 200), None)
            if active is None:
                return {"status": "not-ready", "detail": self._describe(found)}
            token = self.roles.stored_token(active.client, cluster, role)
            if token is None:
                return {"status": "gone", "detail": f"no init token for {cluster}/{role}"}
            if not self.roles.token_valid(active.client, token):
                return {
                    "status": "gone",
                    "detail": f"the init token of {cluster}/{role} is revoked or expired",
                }
            return {"status": "ready", "init_token": token}
