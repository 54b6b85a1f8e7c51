"""Tarmak's own Vault token, so no root token is kept standing.

Once a cluster is ready (in apply only), Tarmak creates a periodic orphan
token whose policy names exactly what it does (instance roles' policies and
token roles, init tokens, its KV mount, Raft's peer list), stores it
protected as a new generation of the keys file, checks it works, revokes the
root token and stores the keys without it. Each step is recorded before the
next, so a run stopped anywhere carries on where it stopped. Later applies
renew the token; plan and refresh never do.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.generate_root import revoked_unless_kept
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.keystore import KeyStore

log = logging.getLogger(__name__)
POLICY = "tarmak-controller"


def tarmak_policy(config: EnvironmentConfig) -> str:
    """HCL naming each path Tarmak writes or reads, for the clusters env.yaml names."""
    mount = config.vault.init_tokens_mount
    rules = [
        ("auth/token/create-orphan", '"create", "update", "sudo"'),
        ("auth/token/renew", '"update"'),
        (f"sys/mounts/{mount}", '"create", "read", "update"'),
        ("sys/storage/raft/configuration", '"read"'),
        ("sys/generate-root-token/*", '"create", "read", "update", "delete"'),
        ("sys/rotate/root/*", '"create", "read", "update", "delete"'),
        ("sys/rotate/recovery/*", '"create", "read", "update", "delete"'),
    ]
    for cluster in sorted(config.vault.clusters):
        rules += [
            (f"sys/policies/acl/{cluster}/*", '"create", "read", "update"'),
            (f"auth/token/roles/{cluster}-*", '"create", "read", "update"'),
            (f"{mount}/data/{cluster}/init-tokens/*", '"create", "read", "update"'),
        ]
    return "".join(f'path "{p}" {{\n  capabilities = [{c}]\n}}\n' for p, c in rules)


class TarmakToken:
    def __init__(self, config: EnvironmentConfig, store: KeyStore) -> None:
        self.config = config
        self.store = store

    def create(self, api: VaultApi, root: str) -> str:
        """A new Tarmak token, made with a root token (its policy written first)."""
        api.call(
            "PUT", f"sys/policies/acl/{POLICY}", {"policy": tarmak_policy(self.config)}, token=root
        ).require(f"writing the policy {POLICY}")
        created = api.call(
            "POST",
            "auth/token/create",
            {
                "policies": [POLICY],
                "no_parent": True,
                "period": self.config.vault.init_token_period,
                "display_name": POLICY,
                "meta": {"purpose": "the Tarmak side's own token"},
            },
            token=root,
        ).require("creating Tarmak's token")
        token = (created.body.get("auth") or {}).get("client_token")
        assert isinstance(token, str) and token
        return token

    def settle(self, api: VaultApi, keys: ClusterKeys, name: str) -> ClusterKeys:
        """Bring the stored tokens to "Tarmak's own, no root" and renew Tarmak's (apply)."""
        stored, protect = keys.stored, keys.protection.protect
        if stored.tarmak_token is None:
            token = self.create(api, keys.root_token())
            with revoked_unless_kept(api, token, "new Tarmak token"):
                protected = protect(token.encode())
            stored = self.store.advance(name, replace(stored, tarmak_token=protected))
            log.info("stored Tarmak's own token for Vault cluster %s", name)
            keys = replace(keys, stored=stored)
        token = keys.token()
        api.call("POST", "auth/token/renew-self", {}, token=token).require(
            f"renewing Tarmak's token (stored in {keys.path})"
        )
        for field in ("root_token", "retired_token"):
            blob = getattr(stored, field) if field == "root_token" else stored.pending_step(field)
            if blob is None:
                continue
            revoked = api.call(
                "POST",
                "auth/token/revoke-self",
                {},
                token=keys.reveal(blob, field.replace("_", " ")),
            )
            if not revoked.ok and revoked.status != 403:  # 403: revoked already
                revoked.require(f"revoking the {field.replace('_', ' ')}")
            stored = self.store.advance(
                name,
                replace(stored, root_token=None)
                if field == "root_token"
                else stored.without_step(field),
            )
            log.info("revoked the %s of Vault cluster %s", field.replace("_", " "), name)
            keys = replace(keys, stored=stored)
        return keys
