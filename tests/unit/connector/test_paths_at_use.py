"""The files env.yaml names are checked again each time they are used, as OpenSSH
does: the Tarmak side runs for a long time, and a file that was safe when the config
loaded may not be safe when the bastion, the KMS or gpg reads it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.ssh import BastionConnection, HostKeyRefused, SSHSettings
from connector.tarmak_side.vault.errors import ProtectionFailed
from connector.tarmak_side.vault.pgp import PgpProtection, dearmor
from connector.tarmak_side.vault.transit import TransitProtection
from connector.tarmak_side.wing import BastionChecker, BastionRefused
from tests.unit.connector.test_config import NOBODY, every_path


def loaded(tmp_path: Path) -> EnvironmentConfig:
    return EnvironmentConfig.load(every_path(tmp_path))


def transit(config: EnvironmentConfig) -> TransitProtection:
    settings = config.vault.key_protection
    assert settings is not None and settings.token_file is not None
    # 127.0.0.1:9 (discard): nothing answers, and the check comes before any request.
    return TransitProtection(
        "https://127.0.0.1:9", "transit", "k", settings.token_file, "c", settings.ca_cert
    )


def connecting(config: EnvironmentConfig) -> BastionConnection:
    """A connection to the configured bastion (127.0.0.1:9: the checks come first)."""
    b = config.bastion
    return BastionConnection(SSHSettings("127.0.0.1", 9, "u", b.key_path, b.known_hosts_path))


def test_the_bastion_s_known_hosts_made_writable_after_loading_is_refused(tmp_path: Path) -> None:
    config = loaded(tmp_path)
    (tmp_path / "known_hosts").chmod(0o666)
    with pytest.raises(HostKeyRefused, match=r"^bastion.known_hosts_path: .* is mode 0666"):
        connecting(config).connect()


def test_the_bastion_key_given_to_another_user_after_loading_is_refused(tmp_path: Path) -> None:
    """Before, its use checked only its mode: not its owner, nor the directories above."""
    config = loaded(tmp_path)
    os.chown(tmp_path / "key", NOBODY, NOBODY)
    with pytest.raises(BastionRefused, match=rf"^bastion.key_path: .* owned by uid {NOBODY}"):
        connecting(config).connect()


def test_the_wing_ca_made_writable_after_loading_is_refused(tmp_path: Path) -> None:
    config = loaded(tmp_path)
    (tmp_path / "wing-ca.pem").chmod(0o666)
    with pytest.raises(BastionRefused, match=r"^bastion.wing_ca_cert: .* is mode 0666"):
        BastionChecker(config.bastion).wing_status("bastion", "u")


def test_the_kms_ca_and_token_changed_after_loading_are_refused(tmp_path: Path) -> None:
    config = loaded(tmp_path)
    (tmp_path / "kms-ca.pem").chmod(0o666)
    with pytest.raises(ProtectionFailed, match=r"^vault.key_protection.ca_cert: .* is mode 0666"):
        transit(config).protect(b"secret")
    (tmp_path / "kms-ca.pem").chmod(0o644)
    (tmp_path / "token").chmod(0o640)
    with pytest.raises(ProtectionFailed, match=r"^vault.key_protection.token_file: .*0640"):
        transit(config).protect(b"secret")


def test_the_pgp_keys_and_gnupg_home_changed_after_loading_are_refused(tmp_path: Path) -> None:
    config = loaded(tmp_path)
    settings = config.vault.key_protection
    assert settings is not None
    protection = PgpProtection.from_config(settings)
    (tmp_path / "ops1.asc").chmod(0o666)
    with pytest.raises(ProtectionFailed, match=r"OpenPGP public key .*ops1.asc: .* mode 0666"):
        protection.init_params(recovery=False)
    with pytest.raises(ProtectionFailed, match=r"ops1.asc: .* mode 0666"):
        dearmor(tmp_path / "ops1.asc")
    (tmp_path / "root.asc").chmod(0o666)
    with pytest.raises(ProtectionFailed, match=r"OpenPGP public key .*root.asc: .* mode 0666"):
        protection.protect(b"secret")
    (tmp_path / "gnupg").chmod(0o777)
    with pytest.raises(ProtectionFailed, match=r"^vault.key_protection.gnupg_home: .*0777"):
        protection.reveal("00")
