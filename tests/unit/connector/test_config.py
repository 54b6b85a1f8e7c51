"""env.yaml has one schema: it matches the config classes other code uses, and no
input, however malformed, gets anything but a one-line ConfigError."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.tarmak_side.config import (
    BastionConfig,
    ConfigError,
    EnvironmentConfig,
    KeyProtectionConfig,
    VaultConfig,
    VaultRoleConfig,
)
from connector.tarmak_side.config_schema import KEY_PROTECTION, ROLE, SCHEMA, MapOf, Section


def section(name: str) -> Section:
    kind = SCHEMA.keys[name]
    assert isinstance(kind, Section)
    return kind


def fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_the_schema_and_the_config_classes_name_the_same_settings() -> None:
    assert set(section("bastion").keys) == fields(BastionConfig)
    assert set(section("vault").keys) == fields(VaultConfig)
    assert set(KEY_PROTECTION.keys) == fields(KeyProtectionConfig)
    assert set(ROLE.keys) == fields(VaultRoleConfig)
    assert set(SCHEMA.keys) == fields(EnvironmentConfig) - {"source"}
    clusters = section("vault").keys["clusters"]
    assert isinstance(clusters, MapOf) and isinstance(clusters.value, MapOf)


def make_files(directory: Path) -> None:
    (directory / "key").write_text("k")
    (directory / "key").chmod(0o600)
    (directory / "kh").write_text("")


def test_a_full_config_loads_with_paths_resolved_against_env_yaml(tmp_path: Path) -> None:
    make_files(tmp_path)
    (tmp_path / "token").write_text("t")
    (tmp_path / "token").chmod(0o600)
    (tmp_path / "ca.pem").write_text("ca")
    config_path = tmp_path / "env.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "environment": "prod",
                "state_dir": "keys",
                "bastion": {"host": "b", "port": 2222, "key_path": "key", "known_hosts_path": "kh"},
                "vault": {
                    "key_shares": 3,
                    "key_threshold": 2,
                    "key_protection": {
                        "kind": "transit",
                        "address": "https://kms.example:8200",
                        "ca_cert": "ca.pem",
                        "token_file": "token",
                        "mount": "transit",
                    },
                    "clusters": {"prod": {"master": None, "worker": {"policy": "p"}}},
                },
            }
        )
    )
    config = EnvironmentConfig.load(config_path)
    assert config.state_dir == tmp_path / "keys"
    assert config.bastion.key_path == str(tmp_path / "key")
    assert config.bastion.known_hosts_path == str(tmp_path / "kh")
    assert (config.vault.key_shares, config.vault.key_threshold) == (3, 2)
    assert config.vault.key_protection == KeyProtectionConfig(
        kind="transit",
        address="https://kms.example:8200",
        ca_cert=tmp_path / "ca.pem",
        token_file=tmp_path / "token",
        mount="transit",
    )
    assert config.vault.clusters["prod"] == {
        "master": VaultRoleConfig(),
        "worker": VaultRoleConfig(policy="p"),
    }


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=12), st.floats()
)


def shaped(keys: list[str]) -> st.SearchStrategy[Any]:
    """Values that are sometimes right and often wrong, under keys env.yaml knows."""
    names = st.sampled_from([*keys, "demo", "master", "kh", "key", "prot"])
    return st.recursive(
        scalars | names,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=5),
        max_leaves=25,
    )


ALL_KEYS = sorted(
    {*SCHEMA.keys, *section("bastion").keys, *section("vault").keys, *KEY_PROTECTION.keys}
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(shaped(ALL_KEYS))
def test_any_shape_is_a_config_or_one_line_error(tmp_path: Path, raw: Any) -> None:
    make_files(tmp_path)
    try:
        EnvironmentConfig.from_dict(raw, base=tmp_path, source="env.yaml")
    except ConfigError as err:
        assert "\n" not in str(err) and str(err).startswith("env.yaml: ")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_any_bytes_are_a_config_or_one_line_error(tmp_path: Path, data: bytes) -> None:
    make_files(tmp_path)
    path = tmp_path / "env.yaml"
    path.write_bytes(data)
    try:
        EnvironmentConfig.load(path)
    except ConfigError as err:
        assert "\n" not in str(err)
