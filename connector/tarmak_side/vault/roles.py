"""Instance roles in Vault: policies, a token role `<cluster>-<role>`, and the
role's init token (kept in a KV v2 mount so every apply finds the same one).

`ensure` writes and is called only while applying; `stored_token` and
`token_valid` only read, for plan and refresh. Every answer is checked here
(`Answer.require`), so a refusal is a final error naming the call and a
node that went away is retried.
"""

from __future__ import annotations

import logging

from connector.tarmak_side.config import EnvironmentConfig, VaultRoleConfig
from connector.tarmak_side.vault.api import VaultApi

log = logging.getLogger(__name__)
# Tokens that instances obtain with their init token (through the token role).
INSTANCE_TOKEN_PERIOD = "768h"


class InstanceRoles:
    def __init__(self, config: EnvironmentConfig) -> None:
        self.config = config

    def _token_path(self, cluster: str, role: str) -> str:
        return f"{self.config.vault.init_tokens_mount}/data/{cluster}/init-tokens/{role}"

    def set_up_all(self, api: VaultApi) -> None:
        for cluster, roles in self.config.vault.clusters.items():
            for role, settings in roles.items():
                self.ensure(api, cluster, role, settings)

    def ensure(self, api: VaultApi, cluster: str, role: str, settings: VaultRoleConfig) -> str:
        """Policies, token role and the role's init token (kept while valid)."""
        policy = settings.policy or (
            f'path "secret/data/{cluster}/{role}/*" {{\n  capabilities = ["read"]\n}}\n'
        )
        api.call("PUT", f"sys/policies/acl/{cluster}/{role}", {"policy": policy}).require(
            f"writing policy {cluster}/{role}"
        )
        creator = (
            f'path "auth/token/create/{cluster}-{role}" {{\n'
            '  capabilities = ["create", "read", "update"]\n}\n'
        )
        api.call("PUT", f"sys/policies/acl/{cluster}/{role}-creator", {"policy": creator}).require(
            f"writing policy {cluster}/{role}-creator"
        )
        api.call(
            "POST",
            f"auth/token/roles/{cluster}-{role}",
            {
                "allowed_policies": [f"{cluster}/{role}"],
                "orphan": True,
                "token_period": INSTANCE_TOKEN_PERIOD,
            },
        ).require(f"writing token role {cluster}-{role}")
        self._ensure_mount(api)
        token = self.stored_token(api, cluster, role)
        if token and self._renew(api, token):
            return token
        period = self.config.vault.init_token_period
        created = api.call(
            "POST",
            "auth/token/create-orphan",
            {
                "policies": [f"{cluster}/{role}-creator"],
                "period": period,
                "display_name": f"{cluster}-{role}-init",
                "meta": {"cluster": cluster, "role": role, "purpose": "tarmak init token"},
            },
        ).require(f"creating the init token of {cluster}/{role}")
        token = str((created.body.get("auth") or {}).get("client_token") or "")
        api.call("POST", self._token_path(cluster, role), {"data": {"init_token": token}}).require(
            f"keeping the init token of {cluster}/{role}"
        )
        log.info("created the init token for %s/%s (period %s)", cluster, role, period)
        return token

    def _ensure_mount(self, api: VaultApi) -> None:
        mount = self.config.vault.init_tokens_mount
        if api.call("GET", f"sys/mounts/{mount}").ok:
            return
        enabled = api.call(
            "POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}}
        )
        if not enabled.ok and "already in use" not in enabled.errors():
            enabled.require(f"enabling the KV mount {mount}")

    def stored_token(self, api: VaultApi, cluster: str, role: str) -> str | None:
        """The init token kept for the role (a read)."""
        stored = api.call("GET", self._token_path(cluster, role))
        if stored.status == 404:
            return None
        stored.require(f"reading the init token of {cluster}/{role}")
        value = ((stored.body.get("data") or {}).get("data") or {}).get("init_token")
        return value if isinstance(value, str) and value else None

    @staticmethod
    def token_valid(api: VaultApi, token: str) -> bool:
        """lookup-self with the token itself: a read, unlike auth/token/lookup."""
        return api.call("GET", "auth/token/lookup-self", token=token).ok

    @staticmethod
    def _renew(api: VaultApi, token: str) -> bool:
        return api.call("POST", "auth/token/renew", {"token": token}).ok
