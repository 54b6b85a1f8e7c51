"""Instance roles in Vault: policies, a token role `<cluster>-<role>`, and the
role's init token (kept in a KV v2 mount so every apply finds the same one).

`ensure` writes and is called only while applying; `stored_token` and
`token_valid` only read, for plan and refresh.
"""

from __future__ import annotations

import logging

import hvac

from connector.tarmak_side.config import EnvironmentConfig, VaultRoleConfig
from connector.tarmak_side.vault_http import http

log = logging.getLogger(__name__)
# Tokens that instances obtain with their init token (through the token role).
INSTANCE_TOKEN_PERIOD = "768h"


class InstanceRoles:
    def __init__(self, config: EnvironmentConfig) -> None:
        self.config = config

    def _token_path(self, cluster: str, role: str) -> str:
        return f"/v1/{self.config.vault.init_tokens_mount}/data/{cluster}/init-tokens/{role}"

    def set_up_all(self, client: hvac.Client) -> None:
        for cluster, roles in self.config.vault.clusters.items():
            for role, settings in roles.items():
                self.ensure(client, cluster, role, settings)

    def ensure(
        self, client: hvac.Client, cluster: str, role: str, settings: VaultRoleConfig
    ) -> str:
        """Policies, token role and the role's init token (kept while valid)."""
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
                "token_period": INSTANCE_TOKEN_PERIOD,
            },
        )
        mount = self.config.vault.init_tokens_mount
        mounts = client.sys.list_mounted_secrets_engines()
        if f"{mount}/" not in (mounts.get("data") or mounts):
            client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
        token = self.stored_token(client, cluster, role)
        if token and self._renew(client, token):
            return token
        period = self.config.vault.init_token_period
        created = client.adapter.post(
            "/v1/auth/token/create-orphan",
            json={
                "policies": [f"{cluster}/{role}-creator"],
                "period": period,
                "display_name": f"{cluster}-{role}-init",
                "meta": {"cluster": cluster, "role": role, "purpose": "tarmak init token"},
            },
        )
        token = created["auth"]["client_token"]
        http(client, "POST", self._token_path(cluster, role), {"data": {"init_token": token}})
        log.info("created the init token for %s/%s (period %s)", cluster, role, period)
        return token

    def stored_token(self, client: hvac.Client, cluster: str, role: str) -> str | None:
        """The init token kept for the role (a read)."""
        stored = http(client, "GET", self._token_path(cluster, role))
        if stored.status_code != 200:
            return None
        value = ((stored.json().get("data") or {}).get("data") or {}).get("init_token")
        return value if isinstance(value, str) and value else None

    @staticmethod
    def token_valid(client: hvac.Client, token: str) -> bool:
        """lookup-self with the token itself: a read, unlike auth/token/lookup."""
        return http(client, "GET", "/v1/auth/token/lookup-self", token=token).status_code == 200

    @staticmethod
    def _renew(client: hvac.Client, token: str) -> bool:
        return http(client, "POST", "/v1/auth/token/renew", {"token": token}).status_code == 200
