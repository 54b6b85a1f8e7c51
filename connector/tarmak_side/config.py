"""The environment's configuration for the Tarmak side (env.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
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


PROTECTION_KINDS = ("transit", "pgp", "file")


@dataclass(frozen=True)
class KeyProtectionConfig:
    """How the cluster's key shares and tokens are kept (docs/vault-keys.md)."""

    kind: str  # transit | pgp | file; no default: plaintext only when named
    address: str | None = None  # transit: the KMS OpenBao/Vault
    ca_cert: Path | None = None  # transit
    token_file: Path | None = None  # transit: holds the KMS token (0600)
    mount: str = "transit"  # transit
    pgp_keys: tuple[Path, ...] = ()  # pgp: one armored public key per share
    root_token_pgp_key: Path | None = None  # pgp
    gnupg_home: Path | None = None  # pgp: where gpg finds the private keys


@dataclass(frozen=True)
class VaultConfig:
    port: int = 8200
    init_tokens_mount: str = "tarmak"
    init_token_period: str = DEFAULT_INIT_TOKEN_PERIOD
    key_shares: int = 1  # recovery shares when the cluster auto-unseals
    key_threshold: int = 1
    key_protection: KeyProtectionConfig | None = None
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
        shares, threshold = _shares(vault_raw, source)
        return cls(
            environment=str(raw.get("environment", "tarmak")),
            state_dir=base / raw.get("state_dir", "state"),
            bastion=BastionConfig(**(raw.get("bastion") or {})),
            vault=VaultConfig(
                port=int(vault_raw.get("port", 8200)),
                init_tokens_mount=vault_raw.get("init_tokens_mount", "tarmak"),
                init_token_period=period,
                key_shares=shares,
                key_threshold=threshold,
                key_protection=_key_protection(
                    vault_raw.get("key_protection"), base, source, shares
                ),
                clusters=clusters,
            ),
            source=source,
        )


def _shares(vault_raw: dict[str, Any], source: str) -> tuple[int, int]:
    shares, threshold = vault_raw.get("key_shares", 1), vault_raw.get("key_threshold", 1)
    if not (isinstance(shares, int) and isinstance(threshold, int)):
        raise ConfigError(f"{source}: vault.key_shares and vault.key_threshold must be integers")
    if not 1 <= threshold <= shares <= 10 or (shares > 1 and threshold < 2):
        raise ConfigError(
            f"{source}: vault.key_threshold ({threshold}) must be between 2 and "
            f"vault.key_shares ({shares}), at most 10 (or both 1)"
        )
    return shares, threshold


def _key_protection(raw: Any, base: Path, source: str, shares: int) -> KeyProtectionConfig | None:
    """vault.key_protection, paths resolved against env.yaml's directory."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("kind") not in PROTECTION_KINDS:
        raise ConfigError(
            f"{source}: vault.key_protection.kind must be one of {', '.join(PROTECTION_KINDS)}"
        )
    kind = raw["kind"]
    known = {f.name for f in fields(KeyProtectionConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: vault.key_protection has unknown keys {unknown}")

    def path(key: str) -> Path | None:
        value = raw.get(key)
        return None if value is None else base / str(value)

    def need(*keys: str) -> None:
        missing = [k for k in keys if not raw.get(k)]
        if missing:
            raise ConfigError(
                f"{source}: vault.key_protection of kind {kind} needs {', '.join(missing)}"
            )

    if kind == "transit":
        need("address", "token_file")
    pgp_keys = tuple(base / str(p) for p in raw.get("pgp_keys") or ())
    if kind == "pgp":
        need("pgp_keys", "root_token_pgp_key")
        if len(pgp_keys) != shares:
            raise ConfigError(
                f"{source}: vault.key_protection.pgp_keys names {len(pgp_keys)} keys; "
                f"vault.key_shares is {shares}: give one public key per share"
            )
    return KeyProtectionConfig(
        kind=kind,
        address=raw.get("address"),
        ca_cert=path("ca_cert"),
        token_file=path("token_file"),
        mount=str(raw.get("mount", "transit")).strip("/"),
        pgp_keys=pgp_keys,
        root_token_pgp_key=path("root_token_pgp_key"),
        gnupg_home=path("gnupg_home"),
    )
