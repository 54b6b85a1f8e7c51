"""The environment's configuration for the Tarmak side (env.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_WING_URL = "https://127.0.0.1:9443/healthz"
# Init tokens are periodic: unused for longer than this, they lapse. Tarmak used
# five years, so two applies months apart still find the token valid.
DEFAULT_INIT_TOKEN_PERIOD = "43800h"
_PERIOD = re.compile(r"^[1-9][0-9]{0,8}[smh]$")


class ConfigError(Exception):
    """The environment config is unusable; the message names the file and the setting."""


@dataclass(frozen=True)
class BastionConfig:
    key_path: str
    known_hosts_path: str
    port: int = 22
    username: str | None = None  # default: the resource's `username`
    host: str | None = None  # default: the resource's `hostname`
    wing_url: str = DEFAULT_WING_URL  # as seen from the bastion
    wing_ca_cert: str | None = None  # None: the tunnel is authenticated by SSH, TLS unverified


@dataclass(frozen=True)
class VaultRoleConfig:
    policy: str | None = None  # HCL; None: read access to secret/data/<cluster>/<role>/*


@dataclass(frozen=True)
class VaultConfig:
    port: int = 8200
    init_tokens_mount: str = "tarmak"
    init_token_period: str = DEFAULT_INIT_TOKEN_PERIOD
    # cluster name -> role name -> role settings
    clusters: dict[str, dict[str, VaultRoleConfig]] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvironmentConfig:
    environment: str
    state_dir: Path
    bastion: BastionConfig
    vault: VaultConfig
    source: str = "the environment config"  # named in errors: where to fix a setting

    @classmethod
    def load(cls, path: str | Path) -> EnvironmentConfig:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        return cls.from_dict(raw, base=Path(path).parent, source=str(Path(path).resolve()))

    def role(self, cluster: str, role: str) -> VaultRoleConfig:
        """The settings of an instance role this environment names, or ConfigError."""
        roles = self.vault.clusters.get(cluster)
        if roles is not None and role in roles:
            return roles[role]
        named = ", ".join(f"{c}/{r}" for c, rs in self.vault.clusters.items() for r in rs)
        raise ConfigError(
            f"{self.source} names no instance role {cluster}/{role} under vault.clusters "
            f"(it names: {named or 'none'}); Tarmak serves only the roles its environment "
            "config names"
        )

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], base: Path = Path(), source: str = "the environment config"
    ) -> EnvironmentConfig:
        vault_raw = raw.get("vault") or {}
        period = str(vault_raw.get("init_token_period", DEFAULT_INIT_TOKEN_PERIOD))
        if not _PERIOD.match(period):
            raise ConfigError(
                f"{source}: vault.init_token_period must be a duration such as 43800h, "
                f"720m or 86400s, not {period!r}"
            )
        clusters = {
            cluster: {role: VaultRoleConfig(**(settings or {})) for role, settings in roles.items()}
            for cluster, roles in (vault_raw.get("clusters") or {}).items()
        }
        return cls(
            environment=str(raw.get("environment", "tarmak")),
            state_dir=base / raw.get("state_dir", "state"),
            bastion=BastionConfig(**(raw.get("bastion") or {})),
            vault=VaultConfig(
                port=int(vault_raw.get("port", 8200)),
                init_tokens_mount=vault_raw.get("init_tokens_mount", "tarmak"),
                init_token_period=period,
                clusters=clusters,
            ),
            source=source,
        )
