"""env.yaml has one schema: it matches the config classes other code uses, and no
input, however malformed, gets anything but a one-line ConfigError. env.yaml and
every file it names are refused when another user could change them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
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


# ---- env.yaml and the files it names decide what is trusted: no one else may change them

NOBODY = 65534
TRUSTED_KEYS = [
    ("bastion.known_hosts_path", "known_hosts"),
    ("bastion.wing_ca_cert", "wing-ca.pem"),
    ("vault.key_protection.ca_cert", "kms-ca.pem"),
    ("vault.key_protection.pgp_keys[0]", "ops1.asc"),
    ("vault.key_protection.pgp_keys[1]", "ops2.asc"),
    ("vault.key_protection.root_token_pgp_key", "root.asc"),
    ("vault.key_protection.gnupg_home", "gnupg"),
]


def every_path(directory: Path) -> Path:
    """An env.yaml naming every kind of path, each made as the fixtures and the demo make
    them: files 0644 (0600 for secrets) in a 0755 directory, readable by others."""
    directory.chmod(0o755)
    for name in ("key", "token"):
        (directory / name).write_text("secret")
        (directory / name).chmod(0o600)
    for _, name in TRUSTED_KEYS:
        if name == "gnupg":
            (directory / name).mkdir(mode=0o755)
        else:
            (directory / name).write_text("public")
            (directory / name).chmod(0o644)
    config = directory / "env.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "bastion": {
                    "key_path": "key",
                    "known_hosts_path": "known_hosts",
                    "wing_ca_cert": "wing-ca.pem",
                },
                "vault": {
                    "key_shares": 2,
                    "key_threshold": 2,
                    "key_protection": {
                        "kind": "pgp",
                        "pgp_keys": ["ops1.asc", "ops2.asc"],
                        "root_token_pgp_key": "root.asc",
                        "gnupg_home": "gnupg",
                        # not used by kind pgp, but named: checked all the same
                        "ca_cert": "kms-ca.pem",
                        "token_file": "token",
                    },
                },
            }
        )
    )
    config.chmod(0o644)
    return config


def test_files_others_may_read_but_not_write_are_accepted(tmp_path: Path) -> None:
    config = EnvironmentConfig.load(every_path(tmp_path))
    assert config.vault.key_protection is not None
    assert config.vault.key_protection.ca_cert == tmp_path / "kms-ca.pem"


def test_the_reviews_proof_env_yaml_and_the_files_it_names_at_0666_are_refused(
    tmp_path: Path,
) -> None:
    config = every_path(tmp_path)
    for path in [config, *(tmp_path / name for _, name in TRUSTED_KEYS)]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    with pytest.raises(ConfigError, match=f"is mode 0666: .*chmod go-w {config}"):
        EnvironmentConfig.load(config)


def test_an_env_yaml_others_may_write_is_refused_naming_it_and_the_fix(tmp_path: Path) -> None:
    config = every_path(tmp_path)
    config.chmod(0o664)
    with pytest.raises(ConfigError) as refused:
        EnvironmentConfig.load(config)
    assert str(refused.value) == (
        f"{config}: {config} is mode 0664: group or others may change it, and with it what "
        f"Tarmak trusts; run `chmod go-w {config}`"
    )


def test_an_env_yaml_in_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    config = every_path(tmp_path)
    tmp_path.chmod(0o777)
    with pytest.raises(ConfigError, match=f"{tmp_path} \\(above {config}\\) is mode 0777"):
        EnvironmentConfig.load(config)


def test_a_missing_env_yaml_is_still_reported_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*env\.yaml: No such file"):
        EnvironmentConfig.load(tmp_path / "env.yaml")


@pytest.mark.parametrize(("key", "name"), TRUSTED_KEYS)
def test_a_file_env_yaml_names_that_others_may_write_is_refused_naming_the_key(
    tmp_path: Path, key: str, name: str
) -> None:
    config = every_path(tmp_path)
    path = tmp_path / name
    mode = 0o757 if path.is_dir() else 0o646
    path.chmod(mode)
    with pytest.raises(ConfigError) as refused:
        EnvironmentConfig.load(config)
    assert str(refused.value).startswith(f"{config}: {key}: {path} is mode {mode:04o}: ")
    assert str(refused.value).endswith(f"run `chmod go-w {path}`")
    path.chmod(0o755 if path.is_dir() else 0o644)
    EnvironmentConfig.load(config)


@pytest.mark.parametrize(("key", "name"), TRUSTED_KEYS)
def test_a_file_env_yaml_names_in_a_directory_others_may_write_is_refused(
    tmp_path: Path, key: str, name: str
) -> None:
    """Whoever may write the directory may put a file of their own in its place."""
    config = every_path(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (tmp_path / name).rename(shared / name)
    (tmp_path / name).symlink_to(shared / name)
    shared.chmod(0o777)
    with pytest.raises(ConfigError) as refused:
        EnvironmentConfig.load(config)
    assert str(refused.value).startswith(f"{config}: {key}: {shared} (above ")
    assert "is mode 0777: others may rename " in str(refused.value)
    assert f"run `chmod go-w {shared}`" in str(refused.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
@pytest.mark.parametrize(("key", "name"), [*TRUSTED_KEYS, ("env.yaml", "env.yaml")])
def test_a_file_another_user_owns_is_refused(tmp_path: Path, key: str, name: str) -> None:
    config = every_path(tmp_path)
    path = tmp_path / name
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(ConfigError) as refused:
        EnvironmentConfig.load(config)
    where = "" if name == "env.yaml" else f"{key}: "
    assert str(refused.value).startswith(
        f"{config}: {where}{path} is owned by uid {NOBODY}, not by this user"
    )
    os.chown(path, 0, 0)  # root's is trusted
    EnvironmentConfig.load(config)


def test_a_secret_file_in_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    config = every_path(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (tmp_path / "token").rename(shared / "token")
    (tmp_path / "token").symlink_to(shared / "token")
    with pytest.raises(ConfigError, match=r"vault\.key_protection\.token_file: .*mode 0777"):
        EnvironmentConfig.load(config)


def test_a_token_file_others_can_read_is_refused_with_a_reason_that_fits_a_token(
    tmp_path: Path,
) -> None:
    """The KMS token is a secret like the bastion's key, but no ssh key: the reason
    given fits both."""
    config = every_path(tmp_path)
    (tmp_path / "token").chmod(0o644)
    with pytest.raises(ConfigError) as refused:
        EnvironmentConfig.load(config)
    token = tmp_path / "token"
    assert (
        f"vault.key_protection.token_file: {token} is mode 0644, open to others (only its "
        f"owner may read a secret, as ssh requires of a key): run `chmod 600 {token}`"
    ) in str(refused.value)
