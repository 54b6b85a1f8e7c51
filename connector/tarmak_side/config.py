"""The environment's configuration for the Tarmak side (env.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_WING_URL = "https://127.0.0.1:9443/healthz"


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
    # cluster name -> role name -> role settings
    clusters: dict[str, dict[str, VaultRoleConfig]] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvironmentConfig:
    environment: str
    state_dir: Path
    bastion: BastionConfig
    vault: VaultConfig

    @classmethod
    def load(cls, path: str | Path) -> EnvironmentConfig:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        return cls.from_dict(raw, base=Path(path).parent)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], base: Path = Path()) -> EnvironmentConfig:
        vault_raw = raw.get("vault") or {}
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
                clusters=clusters,
            ),
        )
