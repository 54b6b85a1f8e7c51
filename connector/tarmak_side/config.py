"""The environment's configuration for the Tarmak side (env.yaml).

Read once when the controller starts and refused there, in one line naming
the key, if anything is wrong: its shape against `config_schema.SCHEMA`, and
every path it names (resolved against env.yaml's directory) on disk. env.yaml
and every file it names decide what Tarmak trusts, so each is refused when
someone other than this user or root could change it (safe_paths.check_trusted).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.tarmak_side.config_schema import PathCheck, PathSetting, SchemaError, check
from connector.tarmak_side.safe_paths import (
    UnsafePath,
    check_private_directory,
    check_secret_file,
    check_trusted,
)

DEFAULT_WING_URL = "https://127.0.0.1:9443/healthz"
# Init tokens are periodic: unused for longer than this, they lapse. Tarmak used
# five years, so two applies months apart still find the token valid.
DEFAULT_INIT_TOKEN_PERIOD = "43800h"


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
class KeyProtectionConfig:
    """How the cluster's key shares and tokens are kept (docs/vault-keys.md); paths
    resolved against env.yaml's directory."""

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
    follow_state_dir_symlink: bool = False

    @classmethod
    def load(cls, path: str | Path) -> EnvironmentConfig:
        """The checked config of the env.yaml at `path`, or one-line ConfigError."""
        source = str(Path(path).resolve())
        try:
            # Whoever could rewrite env.yaml would choose the KMS, bastion and keys.
            check_trusted(Path(os.path.abspath(path)))
            data = Path(path).read_bytes()
        except UnsafePath as err:
            raise ConfigError(f"{source}: {err}") from None
        except OSError as err:
            raise ConfigError(f"cannot read {source}: {err.strerror}") from None
        try:
            raw = yaml.safe_load(data)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{source}: not valid YAML: {err.problem}{where}") from None
        except (yaml.YAMLError, ValueError, RecursionError) as err:
            raise ConfigError(f"{source}: not valid YAML: {type(err).__name__}") from None
        return cls.from_dict(raw, base=Path(os.path.abspath(path)).parent, source=source)

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
        cls, raw: Any, base: Path = Path(), source: str = "the environment config"
    ) -> EnvironmentConfig:
        """Checked against the schema, paths resolved against `base` and checked on disk."""
        try:
            settings, paths = check(raw, base)
        except SchemaError as err:
            raise ConfigError(f"{source}: {err}") from None
        follow = bool(settings.get("follow_state_dir_symlink", False))
        if "state_dir" not in settings:  # the default is checked as a configured one would be
            settings["state_dir"] = base / "state"
            paths.append(PathSetting("state_dir", settings["state_dir"], PathCheck.STATE_DIR))
        for setting in paths:
            problem = path_problem(setting.path, setting.check, follow_symlink=follow)
            if problem:
                raise ConfigError(f"{source}: {setting.key}: {problem}")
        vault = settings.get("vault", {})
        problem = _shares_problem(vault)
        if problem:
            raise ConfigError(f"{source}: {problem}")
        return cls(
            environment=settings.get("environment", "tarmak"),
            state_dir=settings["state_dir"],
            bastion=BastionConfig(**_text_paths(settings["bastion"])),
            vault=_vault(vault),
            source=source,
            follow_state_dir_symlink=follow,
        )


def _text_paths(section: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in section.items()}


def _shares_problem(vault: dict[str, Any]) -> str | None:
    """What Vault would refuse in the shares settings, said before anything is done."""
    shares, threshold = vault.get("key_shares", 1), vault.get("key_threshold", 1)
    if threshold > shares:
        return f"vault.key_threshold: {threshold} is more than vault.key_shares ({shares})"
    if shares > 1 and threshold < 2:
        return (
            f"vault.key_threshold: {threshold} with {shares} shares; Vault needs a threshold "
            "of at least 2 when there are several shares"
        )
    protection = vault.get("key_protection") or {}
    pgp_keys = protection.get("pgp_keys", ())
    if protection.get("kind") == "pgp" and len(pgp_keys) != shares:
        return (
            f"vault.key_protection.pgp_keys: names {len(pgp_keys)} keys, vault.key_shares is "
            f"{shares}: give one public key per share"
        )
    return None


def _vault(vault: dict[str, Any]) -> VaultConfig:
    clusters = {
        cluster: {role: VaultRoleConfig(**(settings or {})) for role, settings in roles.items()}
        for cluster, roles in vault.get("clusters", {}).items()
    }
    protection = vault.get("key_protection")
    return VaultConfig(
        **{k: v for k, v in vault.items() if k not in ("clusters", "key_protection")},
        clusters=clusters,
        key_protection=None
        if protection is None
        else KeyProtectionConfig(
            **{**protection, "pgp_keys": tuple(protection.get("pgp_keys", ()))}
        ),
    )


def path_problem(path: Path, kind: PathCheck, *, follow_symlink: bool = False) -> str | None:
    """What is wrong with the path on disk, or None. Every path env.yaml names holds a
    secret or decides what is trusted, so none may be changeable by another user.
    Checked when the config loads and again each time the file is used, as OpenSSH
    does: the Tarmak side runs for a long time."""
    try:
        if kind is PathCheck.STATE_DIR:
            check_private_directory(path, follow_symlink=follow_symlink)
            return None
        st = os.stat(path)
        if kind is PathCheck.DIRECTORY:
            if not stat.S_ISDIR(st.st_mode):
                return f"{path} is not a directory"
            check_trusted(path)
            return None
        if stat.S_ISDIR(st.st_mode):
            return f"{path} is a directory, not a file"
        if not stat.S_ISREG(st.st_mode):
            return f"{path} is not a regular file"
        if kind is PathCheck.SECRET_FILE:
            check_secret_file(path)
        check_trusted(path)
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        return f"{path} does not exist"
    except UnsafePath as err:
        return str(err)
    except OSError as err:
        return f"cannot read {path}: {err.strerror}"
    return None
