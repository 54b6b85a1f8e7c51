"""Vault clusters as Tarmak runs them: reached through SSH tunnels via the
bastion, trusted only through the cluster's own CA, initialised and unsealed
on first use, then set up for each instance role.

Secrets (root token, unseal key, init tokens) are never logged; the root
token and unseal key live in the environment's state directory, mode 0600.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import requests
from requests.adapters import HTTPAdapter

from connector.tarmak_side.config import EnvironmentConfig, VaultRoleConfig
from connector.tarmak_side.server import Call, OperationFailed
from connector.tarmak_side.ssh import BastionError
from connector.tarmak_side.wing import BastionChecker

log = logging.getLogger(__name__)
TOKEN_PERIOD = "768h"


class _VerifyAs(HTTPAdapter):
    """Verify the node's certificate for its own name while connecting to a tunnel."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_hostname"] = self._hostname
        kwargs["server_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


@dataclass(frozen=True)
class Node:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int) -> Node:
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        return cls(host, int(port)) if port else cls(text, default_port)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class ClusterSecrets:
    root_token: str
    unseal_key: str
    kms_key_id: str | None = None


class SecretStore:
    """Root token and unseal key per cluster, in files only the owner can read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / f"vault-{name}.json"

    def load(self, name: str) -> ClusterSecrets | None:
        path = self._path(name)
        return ClusterSecrets(**json.loads(path.read_text())) if path.exists() else None

    def save(self, name: str, secrets: ClusterSecrets) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=self.directory)
        with os.fdopen(handle, "w") as out:
            json.dump(secrets.__dict__, out)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self._path(name))


class VaultClusters:
    def __init__(self, config: EnvironmentConfig, bastion: BastionChecker) -> None:
        self.config = config
        self.bastion = bastion
        self.secrets = SecretStore(config.state_dir)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def _secrets_name(self, params: dict[str, Any]) -> str:
        return params.get("vault_unseal_key_name") or f"{self.config.environment}-vault"

    # ---- reaching the nodes -----------------------------------------------------

    def _client(
        self, node: Node, ca_file: str, token: str | None = None
    ) -> tuple[hvac.Client, Any]:
        bastion = self.config.bastion
        if not bastion.host or not bastion.username:
            raise OperationFailed("set bastion.host and bastion.username in the environment config")
        try:
            connection = self.bastion.connection(bastion.host, bastion.username)
        except BastionError as err:
            raise OperationFailed(str(err)) from None
        forward = connection.forward(node.host, node.port)
        session = requests.Session()
        session.mount("https://", _VerifyAs(node.host))
        # Only the cluster's CA: hvac ignores `verify` when handed a session, and
        # requests lets REQUESTS_CA_BUNDLE override a session's verify unless told not to.
        session.verify = ca_file
        session.trust_env = False
        client = hvac.Client(
            url=f"https://127.0.0.1:{forward.local_port}",
            token=token,
            verify=ca_file,
            session=session,
            timeout=10,
        )
        return client, forward

    def _with_ca(self, params: dict[str, Any]) -> str:
        ca = params.get("vault_ca") or ""
        if "BEGIN CERTIFICATE" not in ca:
            raise OperationFailed("vault_ca must be the PEM text of the cluster's CA certificate")
        self.config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.config.state_dir / "vault-ca.pem"
        path.write_text(ca)
        return str(path)

    def _survey(
        self, params: dict[str, Any], token: str | None
    ) -> list[tuple[Node, int | str, hvac.Client, Any]]:
        """Every node with its sys/health status code, or the error reaching it."""
        ca_file = self._with_ca(params)
        nodes = [Node.parse(n, self.config.vault.port) for n in params.get("internal_fqdns") or []]
        if not nodes:
            raise OperationFailed("internal_fqdns names no Vault node")
        found = []
        for node in nodes:
            client, forward = self._client(node, ca_file, token)
            try:
                status: int | str = _http(client, "GET", "/v1/sys/health").status_code
            except requests.exceptions.SSLError:
                status = f"TLS verification failed (is vault_ca the CA that signed {node.host}?)"
            except requests.RequestException as err:
                status = f"not answering ({type(err).__name__})"
            found.append((node, status, client, forward))
        return found

    @staticmethod
    def _describe(found: list[tuple[Node, int | str, Any, Any]]) -> str:
        return "; ".join(f"Vault {node}: {_health_meaning(status)}" for node, status, _, _ in found)

    # ---- the requests -----------------------------------------------------------

    def init_status(self, call: Call) -> dict[str, Any]:
        found = self._survey(call.params, None)
        try:
            statuses = [s for _, s, _, _ in found if isinstance(s, int)]
            return {
                "reachable": bool(statuses),
                "initialized": any(s != 501 for s in statuses),
                "sealed": bool(statuses) and all(s == 503 for s in statuses),
                "detail": self._describe(found),
            }
        finally:
            _close(found)

    def cluster_status(self, call: Call) -> dict[str, Any]:
        """Wait until some node is active; initialise and unseal it if asked to create."""
        params = call.params
        name = self._secrets_name(params)
        deadline = call.deadline()
        delay = 0.2
        while True:
            with self._lock(name):
                detail, ready = self._converge(params, name, create=bool(params.get("create")))
            if ready:
                return {"status": "ready", "detail": detail}
            if not params.get("wait", True) or time.monotonic() + delay > deadline:
                return {"status": "not-ready", "detail": detail}
            call.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _converge(self, params: dict[str, Any], name: str, create: bool) -> tuple[str, bool]:
        secrets = self.secrets.load(name)
        found = self._survey(params, secrets.root_token if secrets else None)
        try:
            detail = self._describe(found)
            for node, status, client, _ in found:
                if status in (200, 429) and secrets is not None:
                    active = next((c for _, s, c, _ in found if s == 200), None)
                    if active is None:
                        return detail, False
                    self._setup(active, self.config.vault.clusters)
                    return detail, True
                if status in (200, 429):
                    return (
                        f"{detail}; initialised elsewhere: "
                        f"no root token in {self.config.state_dir}",
                        False,
                    )
                if status == 501 and create:
                    log.info("initialising Vault %s", node)
                    keys = client.sys.initialize(secret_shares=1, secret_threshold=1)
                    secrets = ClusterSecrets(
                        keys["root_token"], keys["keys"][0], params.get("vault_kms_key_id")
                    )
                    self.secrets.save(name, secrets)
                    return self._converge(params, name, create)
                if status == 503:
                    if secrets is None:
                        return f"{detail}; no unseal key in {self.config.state_dir}", False
                    log.info("unsealing Vault %s", node)
                    client.sys.submit_unseal_key(secrets.unseal_key)
                    return self._converge(params, name, create)
            return detail, False
        except hvac.exceptions.VaultError as err:
            return f"{self._describe(found)}; Vault refused: {err}", False
        finally:
            _close(found)

    def _setup(self, client: hvac.Client, clusters: dict[str, dict[str, VaultRoleConfig]]) -> None:
        for cluster, roles in clusters.items():
            for role, settings in roles.items():
                self._ensure_role(client, cluster, role, settings)

    def _ensure_role(
        self, client: hvac.Client, cluster: str, role: str, settings: VaultRoleConfig
    ) -> str:
        """Policies, token role and the role's init token (reused while valid)."""
        policy = settings.policy or (
            f'path "secret/data/{cluster}/{role}/*" {{\n  capabilities = ["read"]\n}}\n'
        )
        client.sys.create_or_update_policy(f"{cluster}/{role}", policy)
        creator = (
            f'path "auth/token/create/{cluster}-{role}" {{\n'
            '  capabilities = ["create", "read", "update"]\n}\n'
        )
        client.sys.create_or_update_policy(f"{cluster}/{role}-creator", creator)
        client.adapter.post(
            f"/v1/auth/token/roles/{cluster}-{role}",
            json={
                "allowed_policies": [f"{cluster}/{role}"],
                "orphan": True,
                "token_period": TOKEN_PERIOD,
            },
        )
        mount = self.config.vault.init_tokens_mount
        mounts = client.sys.list_mounted_secrets_engines()
        if f"{mount}/" not in (mounts.get("data") or mounts):
            client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
        path = f"/v1/{mount}/data/{cluster}/init-tokens/{role}"
        stored = _http(client, "GET", path)
        token = (
            stored.json()["data"]["data"].get("init_token") if stored.status_code == 200 else None
        )
        if token and self._renew(client, token):
            return token
        created = client.adapter.post(
            "/v1/auth/token/create-orphan",
            json={
                "policies": [f"{cluster}/{role}-creator"],
                "period": TOKEN_PERIOD,
                "display_name": f"{cluster}-{role}-init",
                "meta": {"cluster": cluster, "role": role, "purpose": "tarmak init token"},
            },
        )
        token = created["auth"]["client_token"]
        client.adapter.post(path, json={"data": {"init_token": token}})
        log.info("created the init token for %s/%s", cluster, role)
        return token

    @staticmethod
    def _renew(client: hvac.Client, token: str) -> bool:
        return _http(client, "POST", "/v1/auth/token/renew", {"token": token}).status_code == 200

    def instance_role(self, call: Call) -> dict[str, Any]:
        params = call.params
        cluster, role = params["vault_cluster_name"], params["role_name"]
        name = self._secrets_name(params)
        deadline = call.deadline()
        delay = 0.2
        while True:
            with self._lock(name):
                detail, ready = self._converge(params, name, create=False)
                if ready:
                    return self._role_token(params, name, cluster, role)
            if not params.get("wait", True) or time.monotonic() + delay > deadline:
                return {"status": "not-ready", "detail": detail}
            call.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _role_token(
        self, params: dict[str, Any], name: str, cluster: str, role: str
    ) -> dict[str, Any]:
        secrets = self.secrets.load(name)
        assert secrets is not None
        found = self._survey(params, secrets.root_token)
        try:
            active = next(c for _, s, c, _ in found if s == 200)
            if not params.get("create", True):
                mount = self.config.vault.init_tokens_mount
                stored = _http(active, "GET", f"/v1/{mount}/data/{cluster}/init-tokens/{role}")
                if stored.status_code != 200:
                    return {"status": "gone", "detail": f"no init token for {cluster}/{role}"}
            settings = self.config.vault.clusters.get(cluster, {}).get(role, VaultRoleConfig())
            with self._lock(f"{name}/{cluster}/{role}"):
                token = self._ensure_role(active, cluster, role, settings)
            return {"status": "ready", "init_token": token}
        except StopIteration:
            return {"status": "not-ready", "detail": self._describe(found)}
        finally:
            _close(found)


_HEALTH = {
    200: "active",
    429: "standby",
    472: "DR secondary",
    473: "performance standby",
    501: "not initialised",
    503: "sealed",
}


def _health_meaning(status: int | str) -> str:
    return _HEALTH.get(status, f"HTTP {status}") if isinstance(status, int) else status


def _http(
    client: hvac.Client, method: str, path: str, body: dict[str, Any] | None = None
) -> requests.Response:
    """A raw request (status code and all) over the client's tunnelled session."""
    headers = {"X-Vault-Token": client.token} if client.token else {}
    return client.adapter.session.request(
        method, f"{client.url}{path}", json=body, headers=headers, timeout=10
    )


def _close(found: list[tuple[Any, Any, Any, Any]]) -> None:
    for _, _, _, forward in found:
        forward.close()
