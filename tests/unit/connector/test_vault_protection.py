"""Key protection with the real parts: a KMS OpenBao's transit engine and gpg
with its agent. Every failure names what failed and changes nothing stored."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from connector.tarmak_side.config import KeyProtectionConfig
from connector.tarmak_side.vault.errors import ProtectionFailed
from connector.tarmak_side.vault.pgp import PgpProtection
from connector.tarmak_side.vault.transit import TransitProtection
from tests.unit.connector.vault_servers import KMS_KEY, GnuPG, Kms, gnupg, kms

__all__ = ["gnupg", "kms"]
pytestmark = pytest.mark.vault


def transit(kms: Kms, key: str = KMS_KEY, cluster: str = "prod") -> TransitProtection:
    settings = KeyProtectionConfig("transit", kms.address, None, kms.token_file)
    return TransitProtection.from_config(settings, key, cluster)


def test_transit_round_trip_keeps_only_a_wrapped_data_key(kms: Kms) -> None:
    protection = transit(kms)
    protection.check()
    blob = protection.protect(b"s3cret-share")
    assert "s3cret-share" not in blob
    assert base64.b64encode(b"s3cret-share").decode() not in blob
    assert json.loads(blob.removeprefix("transit:"))["wrapped"].startswith("vault:v1:")
    assert protection.reveal(blob) == b"s3cret-share"


def test_transit_rotation_rewraps_and_old_blobs_still_reveal(kms: Kms) -> None:
    protection = transit(kms)
    blob = protection.protect(b"share")
    protection.rotate()
    rewrapped = protection.rewrap(blob)
    assert json.loads(rewrapped.removeprefix("transit:"))["wrapped"].startswith("vault:v2:")
    assert protection.reveal(rewrapped) == protection.reveal(blob) == b"share"


def test_a_corrupted_blob_is_refused(kms: Kms) -> None:
    protection = transit(kms)
    fields = json.loads(protection.protect(b"share").removeprefix("transit:"))
    sealed = bytearray(base64.b64decode(fields["sealed"]))
    sealed[0] ^= 1
    fields["sealed"] = base64.b64encode(bytes(sealed)).decode()
    with pytest.raises(ProtectionFailed, match="corrupted"):
        protection.reveal("transit:" + json.dumps(fields))
    with pytest.raises(ProtectionFailed, match="corrupted"):
        protection.reveal("transit:{not json")


def test_a_blob_moved_to_another_cluster_does_not_reveal(kms: Kms) -> None:
    blob = transit(kms, cluster="prod").protect(b"share")
    with pytest.raises(ProtectionFailed, match="another cluster"):
        transit(kms, cluster="staging").reveal(blob)


def test_a_missing_transit_key_is_named(kms: Kms) -> None:
    with pytest.raises(ProtectionFailed, match=r"transit key 'no-such-key'"):
        transit(kms, key="no-such-key").check()


def test_an_unreachable_kms_is_named(kms: Kms) -> None:
    settings = KeyProtectionConfig("transit", "http://127.0.0.1:9", None, kms.token_file)
    protection = TransitProtection.from_config(settings, KMS_KEY, "prod")
    with pytest.raises(ProtectionFailed, match=r"KMS http://127.0.0.1:9 is not answering"):
        protection.protect(b"share")


def test_a_kms_token_file_others_can_read_is_refused(kms: Kms, tmp_path: Path) -> None:
    loose = tmp_path / "token"
    loose.write_text(kms.token_file.read_text())
    loose.chmod(0o644)
    settings = KeyProtectionConfig("transit", kms.address, None, loose)
    with pytest.raises(ProtectionFailed, match=r"mode 0644.*chmod 600"):
        TransitProtection.from_config(settings, KMS_KEY, "prod").protect(b"x")


def pgp(gnupg: GnuPG, home: Path | None = None) -> PgpProtection:
    return PgpProtection(gnupg.public_keys, gnupg.public_keys[0], home or gnupg.home)


def test_pgp_keys_are_checked_and_encrypt_then_decrypt_with_the_agent(gnupg: GnuPG) -> None:
    protection = pgp(gnupg)
    protection.check()
    params = protection.init_params(recovery=False)
    assert len(params["pgp_keys"]) == 2 and params["root_token_pgp_key"]
    gnupg.start_agent()
    blob = protection.protect(b"token")
    assert protection.reveal(blob) == b"token"


def test_pgp_without_an_agent_is_a_clear_error(gnupg: GnuPG) -> None:
    protection = pgp(gnupg)
    blob = protection.protect(b"token")
    gnupg.stop_agent()
    with pytest.raises(ProtectionFailed, match=r"gpg agent running"):
        protection.reveal(blob)
    gnupg.start_agent()
    assert protection.reveal(blob) == b"token"


def test_a_sign_only_pgp_key_is_refused_before_init(gnupg: GnuPG, tmp_path: Path) -> None:
    uid = "signer <signer@tarmak.test>"
    gnupg.gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    signer = tmp_path / "signer.asc"
    signer.write_bytes(gnupg.gpg("--armor", "--export", uid).stdout)
    with pytest.raises(ProtectionFailed, match=rf"{signer} has no valid encryption"):
        PgpProtection((signer,), signer, gnupg.home).check()


def test_a_file_that_is_no_pgp_key_is_named(gnupg: GnuPG, tmp_path: Path) -> None:
    junk = tmp_path / "junk.asc"
    junk.write_text("hello")
    with pytest.raises(ProtectionFailed, match=rf"{junk} is not an ASCII-armored"):
        PgpProtection((junk,), junk, gnupg.home).check()


def test_prepared_data_keys_protect_an_init_answer_with_no_call_to_the_kms(kms: Kms) -> None:
    """The keys fetched before sys/init protect its answer even if the KMS stops
    answering right after: the only copy of the keys never waits on it."""
    protection = transit(kms)
    protection.prepare(4)
    away = replace(protection, address="http://127.0.0.1:9")  # the same fetched keys
    blobs = away.from_init(["share-1", "share-2", "share-3", "root-token"])
    assert [protection.reveal(b) for b in blobs] == [
        b"share-1",
        b"share-2",
        b"share-3",
        b"root-token",
    ]
    assert len({json.loads(b.removeprefix("transit:"))["wrapped"] for b in blobs}) == 4
    with pytest.raises(ProtectionFailed, match="not answering"):
        away.protect(b"a fifth secret")
    assert "share" not in repr(protection) and "_ready" not in repr(protection)
