"""The release flow without a real build: versions, protocols read from the
provider's handshake, signing with the real gpg, staging/production trees,
promotion, key rotation, the mirror's hostname rule and the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from registry_tools import cli
from registry_tools.archive import sha256_hex
from registry_tools.checksums import parse_shasums, shasums_name
from registry_tools.manifest import ROOT_MANIFEST, manifest_name, manifest_protocols
from registry_tools.platforms import Target
from registry_tools.promote import Promotion, PromotionError, promote
from registry_tools.protocols import ProtocolError, offered_majors, release_protocols
from registry_tools.provenance import provenance_name
from registry_tools.registry import (
    PublishError,
    RegistryTree,
    mirror_hostname,
    publish,
    publish_mirror,
    rotate_key,
    signing_keys,
)
from registry_tools.release import Release, sign_release
from registry_tools.sign import SigningError, detach_sign, keyring, verify_detached
from registry_tools.versions import VersionError, parse_version, sort_key
from tests.unit.registry_tools.fakes import provider_zip
from tests.unit.registry_tools.keys import Key, assert_no_daemons, gpg_daemons, throwaway_keys

LINUX = Target("linux", "amd64")
DARWIN = Target("darwin", "arm64")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Key]]:
    with throwaway_keys(tmp_path_factory.mktemp("keys"), "staging", "production", "next") as made:
        yield made


def release(tmp: Path, version: str, key: Key, **fake: object) -> Release:
    zips = {LINUX: provider_zip(tmp / "zips" / version, version, **fake)}  # type: ignore[arg-type]
    return sign_release(version, zips, tmp / "releases" / version, key.home, key.key_id)


def tree(tmp: Path, name: str) -> RegistryTree:
    return RegistryTree(tmp / name, "jetstack", f"https://{name}.example.com")


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".publish.lock"
    }


# ---- versions --------------------------------------------------------------------


def test_versions_follow_semver_precedence() -> None:
    ordered = ["0.1.0", "0.2.0-alpha", "0.2.0-rc.1", "0.2.0-rc.2", "0.2.0-rc.10", "0.2.0", "0.10.0"]
    assert sorted(reversed(ordered), key=sort_key) == ordered
    assert parse_version("0.2.0-rc.1").is_prerelease and not parse_version("0.2.0").is_prerelease


# Every class of bad version: not SemVer, SemVer plus a trailing newline or other
# characters (re.match with `$` let "0.9.1\n" through), path traversal, build
# metadata (two builds Terraform cannot tell apart), empty.
BAD_VERSIONS = {
    "short": "1.2",
    "prefixed": "v1.2.3",
    "leading zero": "01.2.3",
    "empty pre-release": "1.2.3-",
    "empty identifier": "1.2.3-rc..1",
    "trailing newline": "0.9.1\n",
    "trailing space": "0.9.1 ",
    "embedded newline": "0.9.1\n-rc.1",
    "traversal": "0.9.0/../../../outside",
    "build metadata": "0.9.0+a",
    "empty": "",
}


@pytest.mark.parametrize("bad", BAD_VERSIONS.values(), ids=BAD_VERSIONS.keys())
def test_every_bad_version_is_refused_by_package_publish_and_promote(
    bad: str,
    keys: list[Key],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 24: refused with one line naming the version, before anything is built
    or written, in each command that takes a version."""
    staging_key, production_key, _ = keys
    with pytest.raises(VersionError):
        parse_version(bad)
    monkeypatch.setenv("GNUPGHOME", staging_key.home)
    monkeypatch.setenv("TARMAK_GPG_KEY_ID", staging_key.key_id)
    monkeypatch.setattr(cli, "build_package", lambda *a, **k: pytest.fail("built it"))
    work = tmp_path / "work"
    out = work / "a" / "b" / "c" / "dist"
    common = ["--base-url", "https://r.example", "--no-mirror", "--out", str(out)]

    def refused(argv: list[str]) -> None:
        assert cli.main(argv) == 1
        error = capsys.readouterr().err
        assert repr(bad) in error and len(error.strip().splitlines()) == 1, error
        made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
        assert made == sorted(p.relative_to(tmp_path) for p in inputs), "nothing written"

    inputs: list[Path] = []
    refused(["package", "--version", bad, "--platform", "linux_amd64", *common])
    if "/" not in bad and bad:  # a file name cannot hold a '/'
        zipped = provider_zip(tmp_path / "zips", bad)
        inputs = [zipped.parent, zipped]
        refused(["publish", str(zipped), "--tree", str(work / "tree"), *common])
    staging = tree(tmp_path / "trees", "staging")
    publish(release(tmp_path / "made", "0.9.0", staging_key), staging)
    inputs = list(tmp_path.rglob("*"))
    monkeypatch.setenv("GNUPGHOME", production_key.home)
    monkeypatch.setenv("TARMAK_GPG_KEY_ID", production_key.key_id)
    argv = ["promote", bad, "--from", str(staging.root), "--to", str(work / "production")]
    argv += ["--base-url", "https://p.example", "--staging-fingerprint"]
    refused([*argv, staging_key.public.fingerprint])


# ---- protocols from the handshake ------------------------------------------------


def test_protocols_are_read_from_the_handshake(tmp_path: Path) -> None:
    assert release_protocols({("linux", "amd64"): provider_zip(tmp_path / "a", "1.0.0")}) == (
        "6.0",
        "5.0",
    )
    only6 = provider_zip(tmp_path / "b", "1.0.0", offers=(6,))
    assert release_protocols({("linux", "amd64"): only6}) == ("6.0",)


def test_go_plugin_fallback_answer_is_not_an_offer(tmp_path: Path) -> None:
    fallback = provider_zip(tmp_path, "1.0.0", offers=(5,), style="fallback")
    assert release_protocols({("linux", "amd64"): fallback}) == ("5.0",)


def test_a_provider_that_cannot_start_is_refused(tmp_path: Path) -> None:
    broken = provider_zip(tmp_path, "1.0.0", style="broken")
    with pytest.raises(ProtocolError, match="cannot start, so it must not be published"):
        release_protocols({("linux", "amd64"): broken})


def test_packages_that_cannot_run_here_take_the_answer_of_one_that_can(tmp_path: Path) -> None:
    darwin = provider_zip(tmp_path / "d", "1.0.0", "darwin_arm64", style="broken")
    with pytest.raises(ProtocolError, match="can run on this machine"):
        release_protocols({("darwin", "arm64"): darwin})
    linux = provider_zip(tmp_path / "l", "1.0.0", offers=(6,))
    assert release_protocols({("darwin", "arm64"): darwin, ("linux", "amd64"): linux}) == ("6.0",)


def test_root_manifest_agrees_with_the_provider_handshake() -> None:
    """terraform-registry-manifest.json states what the provider really offers."""
    body = json.loads(ROOT_MANIFEST.read_text())
    assert body["version"] == 1
    executable = Path(sys.prefix) / "bin" / "terraform-provider-tarmak"  # make install's
    offered = offered_majors(executable)
    assert offered, "the development provider completed no handshake"
    assert manifest_protocols(ROOT_MANIFEST) == tuple(f"{m}.0" for m in offered)


# ---- signing ---------------------------------------------------------------------


def test_signing_and_verifying_leave_no_gpg_daemon(keys: list[Key], tmp_path: Path) -> None:
    staging, production, _ = keys
    armored = tmp_path / "staging.asc"
    armored.write_text(
        subprocess.run(
            ["gpg", "--batch", "--armor", "--export-secret-keys", staging.key_id],
            env={**os.environ, "GNUPGHOME": staging.home},
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )
    data = tmp_path / "data"
    data.write_text("hello\n")
    with keyring(armored, None) as home:
        assert home is not None
        detach_sign(data, home, staging.key_id)
        assert gpg_daemons(home), "signing started the throwaway keyring's agent"
    assert_no_daemons(home)
    assert not Path(home).exists(), "the throwaway keyring is removed"
    fingerprint = verify_detached(
        data, data.with_name("data.sig"), staging.public.armored_public_key
    )
    assert fingerprint.endswith(staging.key_id)
    with pytest.raises(SigningError, match="not a valid signature"):
        verify_detached(data, data.with_name("data.sig"), production.public.armored_public_key)
    data.write_text("changed\n")
    with pytest.raises(SigningError, match="not a valid signature"):
        verify_detached(data, data.with_name("data.sig"), staging.public.armored_public_key)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="does not exist"), keyring(tmp_path / "nope.asc", None):
        pass


def test_a_key_file_others_can_change_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """Whoever can replace the signing key decides what the registry's users trust."""
    key_file = tmp_path / "signing.asc"
    key_file.write_text("not read: refused first\n")
    key_file.chmod(0o664)
    with pytest.raises(SigningError, match="chmod go-w"), keyring(key_file, None):
        pass


def test_new_key_never_writes_into_a_file_that_appeared_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key takes seconds to generate: a file (or a link) put at --out in that
    time is refused, never filled with the private key."""
    out = tmp_path / "new.asc"

    def generate_then_someone_creates_out(*args: object) -> str:
        out.write_text("someone else's\n")
        out.chmod(0o644)
        return "KEYID"

    monkeypatch.setattr(cli, "generate_key", generate_then_someone_creates_out)
    monkeypatch.setattr(cli, "export_secret_key", lambda home, key_id: "PRIVATE KEY")
    described = types.SimpleNamespace(fingerprint="F" * 40)
    monkeypatch.setattr(cli, "describe_key", lambda home, key_id: described)
    argv = ["new-key", "--name", "n", "--email", "n@example.invalid", "--out", str(out)]
    assert cli.main(argv) == 1
    assert out.read_text() == "someone else's\n"


# ---- trees: publishing, key rotation ---------------------------------------------


def test_release_documents_carry_the_protocols_of_the_build(
    keys: list[Key], tmp_path: Path
) -> None:
    made = release(tmp_path, "1.0.0", keys[0], offers=(6,))
    registry = tree(tmp_path, "staging")
    publish(made, registry)
    assert manifest_protocols(made.manifest) == ("6.0",)
    assert registry.version_entry("1.0.0")["protocols"] == ["6.0"]  # type: ignore[index]
    document = json.loads(registry.download_path("1.0.0", "linux", "amd64").read_text())
    assert document["protocols"] == ["6.0"]
    sums = (registry.store_dir("1.0.0") / shasums_name("1.0.0")).read_text()
    assert manifest_name("1.0.0") in sums, "the manifest is covered by the signature"


def test_a_tree_signs_new_versions_with_its_current_key_only(
    keys: list[Key], tmp_path: Path
) -> None:
    old, _, new = keys
    registry = tree(tmp_path, "production")
    publish(release(tmp_path, "0.1.0", old), registry)
    assert signing_keys(registry)["current"] == old.key_id  # type: ignore[index]
    with pytest.raises(PublishError, match=f"signs new versions with key {old.key_id}"):
        publish(release(tmp_path, "0.2.0", new), registry)

    staging = keys[1].public.fingerprint  # neither old nor new: the one production trusts
    assert rotate_key(registry, new.public, staging)
    assert not rotate_key(registry, new.public, staging)
    publish(release(tmp_path, "0.2.0", new), registry)
    with pytest.raises(PublishError, match=f"signs new versions with key {new.key_id}"):
        publish(release(tmp_path, "0.3.0", old), registry)

    def signer(version: str) -> str:
        document = json.loads(registry.download_path(version, "linux", "amd64").read_text())
        return str(document["signing_keys"]["gpg_public_keys"][0]["key_id"])

    assert (signer("0.1.0"), signer("0.2.0")) == (old.key_id, new.key_id)
    before = snapshot(registry.root)
    publish(release(tmp_path, "0.1.0", new), registry)  # re-running an old release
    assert snapshot(registry.root) == before, "an old version keeps its signature and key"
    ids = [k["key_id"] for k in signing_keys(registry)["keys"]]  # type: ignore[index]
    assert ids == [old.key_id, new.key_id]


def test_other_bytes_for_a_published_version_are_refused_before_writing(
    keys: list[Key], tmp_path: Path
) -> None:
    registry = tree(tmp_path, "staging")
    publish(release(tmp_path / "a", "1.0.0", keys[0]), registry)
    before = snapshot(registry.root)
    with pytest.raises(PublishError, match="already published with different contents"):
        publish(release(tmp_path / "b", "1.0.0", keys[0], extra=b"# other build\n"), registry)
    assert snapshot(registry.root) == before


def test_versions_document_is_in_semver_order(keys: list[Key], tmp_path: Path) -> None:
    registry = tree(tmp_path, "staging")
    for version in ("0.2.0", "0.2.0-rc.2", "0.10.0", "0.2.0-rc.1"):
        publish(release(tmp_path, version, keys[0]), registry)
    order = [v["version"] for v in registry.versions()]
    assert order == ["0.2.0-rc.1", "0.2.0-rc.2", "0.2.0", "0.10.0"]


def _publish_one(args: tuple[str, str, str, str]) -> str:
    version, home, key_id, root = args
    zipped = provider_zip(Path(root) / "zips" / version, version)
    made = sign_release(version, {LINUX: zipped}, Path(root) / "releases" / version, home, key_id)
    publish(made, RegistryTree(Path(root) / "registry", "jetstack", "https://localhost"))
    return version


def test_concurrent_publishes_keep_every_version(keys: list[Key], tmp_path: Path) -> None:
    versions = [f"0.{minor}.0" for minor in range(1, 7)]
    jobs = [(v, keys[0].home, keys[0].key_id, str(tmp_path)) for v in versions]
    with ProcessPoolExecutor(len(jobs)) as pool:
        assert sorted(pool.map(_publish_one, jobs)) == versions
    registry = RegistryTree(tmp_path / "registry", "jetstack", "https://localhost")
    assert [v["version"] for v in registry.versions()] == versions


# ---- promotion -------------------------------------------------------------------


def promote_with(
    staging: RegistryTree, production: RegistryTree, version: str, trusted: Key, signer: Key
) -> Promotion:
    """Promote trusting `trusted` as the staging key, signing with `signer`."""
    return promote(
        staging, production, version, trusted.public.fingerprint, signer.home, signer.key_id
    )


def test_promotion_copies_the_very_bytes_and_resigns(keys: list[Key], tmp_path: Path) -> None:
    staging_key, production_key, _ = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path, "0.2.0-rc.1", staging_key), staging)
    done = promote_with(staging, production, "0.2.0-rc.1", staging_key, production_key)
    assert done.changed and done.key_id == production_key.key_id
    source, target = staging.store_dir("0.2.0-rc.1"), production.store_dir("0.2.0-rc.1")
    for name in (
        "terraform-provider-tarmak_0.2.0-rc.1_linux_amd64.zip",
        shasums_name("0.2.0-rc.1"),
        provenance_name("0.2.0-rc.1"),
    ):
        assert (source / name).read_bytes() == (target / name).read_bytes()
    sums = target / shasums_name("0.2.0-rc.1")
    verify_detached(
        sums, sums.with_name(sums.name + ".sig"), production_key.public.armored_public_key
    )
    document = json.loads(production.download_path("0.2.0-rc.1", "linux", "amd64").read_text())
    assert document["download_url"].startswith("https://production.example.com/store/")
    assert document["signing_keys"]["gpg_public_keys"][0]["key_id"] == production_key.key_id
    again = promote_with(staging, production, "0.2.0-rc.1", staging_key, production_key)
    assert not again.changed, "promoting twice is a no-op"


def launder(staging: RegistryTree, version: str, attacker: Key, tmp: Path) -> None:
    """What someone who can write the staging tree, but holds no staging key, can do:
    replace the zip, SHA256SUMS, its signature (by their own key), the download
    document's key and signing-keys.json, all consistent with each other."""
    store = staging.store_dir(version)
    zipped = store / f"terraform-provider-tarmak_{version}_linux_amd64.zip"
    evil = provider_zip(tmp / "evil", version, extra=b"# attacker's code\n")
    zipped.unlink()
    shutil.copyfile(evil, zipped)
    sums = store / shasums_name(version)
    sums.write_text(
        "".join(
            f"{sha256_hex(store / name)}  {name}\n"
            for name in sorted(parse_shasums(sums.read_text()))
        )
    )
    (store / (sums.name + ".sig")).unlink()
    detach_sign(sums, attacker.home, attacker.key_id)
    document_path = staging.download_path(version, "linux", "amd64")
    document = json.loads(document_path.read_text())
    document["shasum"] = sha256_hex(zipped)
    document["signing_keys"]["gpg_public_keys"][0].update(
        key_id=attacker.key_id, ascii_armor=attacker.public.armored_public_key
    )
    document_path.write_text(json.dumps(document))
    entry = {"key_id": attacker.key_id, "ascii_armor": attacker.public.armored_public_key}
    staging.keys_path.write_text(json.dumps({"current": attacker.key_id, "keys": [entry]}))


def test_promotion_refuses_a_staging_tree_rewritten_without_the_staging_key(
    keys: list[Key], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: promote trusted the key the staging tree names, so a rewritten
    package was promoted and signed by production's key."""
    staging_key, production_key, attacker = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path, "0.9.0", staging_key), staging)
    launder(staging, "0.9.0", attacker, tmp_path)
    argv = ["promote", "0.9.0", "--from", str(staging.root), "--to", str(production.root)]
    argv += ["--base-url", "https://production.example.com", "--gpg-key-id", production_key.key_id]
    argv += ["--staging-fingerprint", staging_key.public.fingerprint]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GNUPGHOME", production_key.home)
        assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert f"signed by key {attacker.public.fingerprint}" in error, error
    assert staging_key.public.fingerprint in error and len(error.strip().splitlines()) == 1
    assert not production.root.exists() or not production.versions(), "production unchanged"


def needs_the_staging_fingerprint(
    argv: list[str], staging_key: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command `argv` is refused without the staging key's fingerprint, and with
    its short key id in place of one."""
    assert cli.main(argv) == 1
    assert "TARMAK_STAGING_FINGERPRINT" in capsys.readouterr().err
    assert cli.main([*argv, "--staging-fingerprint", staging_key.key_id]) == 1
    assert "not a key fingerprint" in capsys.readouterr().err, "a short key id is not enough"


def test_promotion_needs_the_staging_fingerprint_from_outside(
    keys: list[Key],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    staging_key, production_key, _ = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path, "0.9.0", staging_key), staging)
    monkeypatch.delenv("TARMAK_STAGING_FINGERPRINT", raising=False)
    monkeypatch.setenv("GNUPGHOME", production_key.home)
    argv = ["promote", "0.9.0", "--from", str(staging.root), "--to", str(production.root)]
    argv += ["--base-url", "https://p.example.com", "--gpg-key-id", production_key.key_id]
    needs_the_staging_fingerprint(argv, staging_key, capsys)
    monkeypatch.setenv("TARMAK_STAGING_FINGERPRINT", staging_key.public.fingerprint)
    assert cli.main(argv) == 0
    assert f"signed by {production_key.key_id}" in capsys.readouterr().out


def test_a_tree_is_never_rotated_to_the_staging_key(
    keys: list[Key],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 24: rotate-key took any key, the staging key too."""
    staging_key, production_key, _ = keys
    production = tree(tmp_path, "production")
    publish(release(tmp_path, "0.1.0", production_key), production)
    before = snapshot(production.root)
    with pytest.raises(PublishError, match=f"{staging_key.key_id} is the staging key"):
        rotate_key(production, staging_key.public, staging_key.public.fingerprint)
    assert snapshot(production.root) == before

    monkeypatch.delenv("TARMAK_STAGING_FINGERPRINT", raising=False)
    monkeypatch.setenv("GNUPGHOME", staging_key.home)
    argv = ["rotate-key", "--tree", str(production.root), "--gpg-key-id", staging_key.key_id]
    needs_the_staging_fingerprint(argv, staging_key, capsys)
    spaced = " ".join(textwrap.wrap(staging_key.public.fingerprint.lower(), 4))
    assert cli.main([*argv, "--staging-fingerprint", spaced]) == 1
    error = capsys.readouterr().err
    assert f"{staging_key.key_id} is the staging key; refusing to rotate" in error, error
    monkeypatch.setenv("TARMAK_STAGING_FINGERPRINT", staging_key.public.fingerprint)
    assert cli.main(argv) == 1
    assert "is the staging key" in capsys.readouterr().err
    assert snapshot(production.root) == before, "nothing written"


def test_a_new_production_tree_refuses_the_staging_key(keys: list[Key], tmp_path: Path) -> None:
    """Issue 24: a new production tree adopted whatever key its first promotion used."""
    staging_key, _, _ = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path, "0.9.0", staging_key), staging)
    with pytest.raises(PromotionError, match="must sign with a key of its own"):
        promote_with(staging, production, "0.9.0", staging_key, staging_key)
    assert not production.keys_path.exists() and not production.versions()


def test_promotion_of_tampered_staging_files_is_refused(keys: list[Key], tmp_path: Path) -> None:
    staging_key, production_key, _ = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path, "0.1.0", staging_key), staging)
    publish(release(tmp_path, "0.2.0", staging_key), staging)
    promote_with(staging, production, "0.1.0", staging_key, production_key)
    before = snapshot(production.root)
    store = staging.store_dir("0.2.0")
    manifest = store / manifest_name("0.2.0")
    manifest.write_text(manifest.read_text().replace("5.0", "4.0"))
    with pytest.raises(PromotionError, match="has sha256"):
        promote_with(staging, production, "0.2.0", staging_key, production_key)
    assert snapshot(production.root) == before
    with pytest.raises(PromotionError, match="not published"):
        promote_with(staging, production, "9.9.9", staging_key, production_key)


def test_promotion_refuses_when_production_holds_other_bytes(
    keys: list[Key], tmp_path: Path
) -> None:
    staging_key, production_key, _ = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path / "s", "1.0.0", staging_key), staging)
    publish(release(tmp_path / "p", "1.0.0", production_key, extra=b"# hotfix\n"), production)
    before = snapshot(production.root)
    with pytest.raises(PromotionError, match="already published with different contents"):
        promote_with(staging, production, "1.0.0", staging_key, production_key)
    assert snapshot(production.root) == before


def test_promotion_keeps_production_on_its_own_key(keys: list[Key], tmp_path: Path) -> None:
    staging_key, production_key, other = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path, "0.1.0", production_key), production)
    publish(release(tmp_path, "0.2.0", staging_key), staging)
    with pytest.raises(
        PromotionError, match=f"signs new versions with key {production_key.key_id}"
    ):
        promote_with(staging, production, "0.2.0", staging_key, other)


# ---- the network mirror's hostname -----------------------------------------------


def test_registry_and_mirror_hard_link_the_release_s_zips(keys: list[Key], tmp_path: Path) -> None:
    """dist/ holds one copy of each zip (the merged h-release had the mirror copy it)."""
    made = release(tmp_path, "0.1.0", keys[1])
    registry = tree(tmp_path, "registry")
    publish(made, registry)
    mirror = publish_mirror(made, tmp_path / "mirror", "registry.example.com", "jetstack")
    zipped = made.zip_path(LINUX)
    assert (registry.store_dir("0.1.0") / zipped.name).samefile(zipped)
    assert (mirror / zipped.name).samefile(zipped)


def test_mirror_hostname_never_has_a_port() -> None:
    assert mirror_hostname("https://localhost:8443") == "localhost"
    assert (
        mirror_hostname("https://localhost:8443", "registry.example.com") == "registry.example.com"
    )
    with pytest.raises(PublishError, match="whose scheme is the hostname"):
        mirror_hostname("https://localhost:8443", "localhost:8443")


# ---- the CLI ---------------------------------------------------------------------


def test_package_without_a_key_says_so_before_building(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TARMAK_GPG_KEY_FILE", raising=False)
    monkeypatch.delenv("TARMAK_GPG_KEY_ID", raising=False)
    monkeypatch.setattr(cli, "build_package", lambda *a: pytest.fail("built without a key"))
    assert cli.main(["package", "--base-url", "https://localhost:8443"]) == 1
    error = capsys.readouterr().err
    assert "TARMAK_GPG_KEY_FILE" in error and "TARMAK_GPG_KEY_ID" in error


def test_release_engineer_flow_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """new-key three times, publish an rc and a release to staging, promote, rotate."""
    monkeypatch.delenv("TARMAK_GPG_KEY_ID", raising=False)
    monkeypatch.delenv("TARMAK_GPG_KEY_FILE", raising=False)
    staging_key, production_key = tmp_path / "staging.asc", tmp_path / "production.asc"
    next_key = tmp_path / "next.asc"
    fingerprints = {}
    for path in (staging_key, production_key, next_key):
        argv = ["new-key", "--name", path.stem, "--email", f"{path.stem}@example.invalid"]
        assert cli.main([*argv, "--out", str(path), "--bits", "2048"]) == 0
        assert path.stat().st_mode & 0o077 == 0
        fingerprints[path] = re.findall(r"fingerprint ([0-9A-F]{40})", capsys.readouterr().out)[0]
    assert cli.main([*argv, "--out", str(production_key)]) == 1, "never overwrites a key"
    monkeypatch.setenv("TARMAK_STAGING_FINGERPRINT", fingerprints[staging_key])
    staging, production = tmp_path / "dist/staging", tmp_path / "dist/production"
    common = ["--out", str(tmp_path / "dist"), "--no-mirror", "--gpg-key-file"]
    for version in ("0.2.0-rc.1", "0.2.0"):
        zipped = provider_zip(tmp_path / "zips", version)
        argv = ["publish", str(zipped), "--tree", str(staging), "--base-url", "https://s:8444"]
        assert cli.main([*argv, *common, str(staging_key)]) == 0
    assert "0.2.0-rc.1" in capsys.readouterr().out
    promote_argv = ["promote", "0.2.0", "--from", str(staging), "--to", str(production)]
    promote_argv += ["--base-url", "https://p:8443", "--gpg-key-file", str(production_key)]
    assert cli.main(promote_argv) == 0
    assert "promoted 0.2.0" in capsys.readouterr().out
    rotate = ["rotate-key", "--tree", str(production), "--gpg-key-file", str(next_key)]
    assert cli.main(rotate) == 0
    assert "published ones keep their key" in capsys.readouterr().out
    assert cli.main([*promote_argv[:-1], str(production_key)]) == 0, "0.2.0 already there"
    wrong = ["publish", str(provider_zip(tmp_path / "z", "0.3.0")), "--tree", str(production)]
    assert cli.main([*wrong, "--base-url", "https://p:8443", *common, str(production_key)]) == 1
    assert "rotate the tree's key" in capsys.readouterr().err


def test_the_darwin_requirement_stays_through_publish_and_promote(
    keys: list[Key], tmp_path: Path
) -> None:
    """`terraform init` prints the versions document's warnings. A version with darwin
    packages published from zips built elsewhere, or promoted, carries the darwin
    Python requirement there too, and a later version with linux packages only does
    not drop it (before, only `package` wrote it, and every other publish removed it)."""
    staging_key, production_key, _ = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    zips = {
        LINUX: provider_zip(tmp_path / "zips", "1.0.0"),
        DARWIN: provider_zip(tmp_path / "zips", "1.0.0", "darwin_arm64", style="broken"),
    }
    made = sign_release("1.0.0", zips, tmp_path / "releases", staging_key.home, staging_key.key_id)
    publish(made, staging)
    publish(release(tmp_path, "1.1.0", staging_key), staging)
    promote_with(staging, production, "1.0.0", staging_key, production_key)
    for registry in (staging, production):
        (warning,) = json.loads(registry.versions_path.read_text())["warnings"]
        assert "darwin_arm64" in warning and "on the Mac's PATH" in warning
    linux_only = tree(tmp_path, "linux-only")
    publish(release(tmp_path, "1.2.0", staging_key), linux_only)
    assert "warnings" not in json.loads(linux_only.versions_path.read_text())


def test_a_published_zip_is_a_copy_its_source_cannot_change_later(
    keys: list[Key], tmp_path: Path
) -> None:
    """The store holds bytes of its own: a zip given to publish and then rewritten in
    place (an upload, `cp` over it) does not change what was signed."""
    registry = tree(tmp_path, "staging")
    source = provider_zip(tmp_path / "upload", "1.0.0")
    made = sign_release("1.0.0", {LINUX: source}, tmp_path / "rel", keys[0].home, keys[0].key_id)
    publish(made, registry)
    stored = registry.store_dir("1.0.0") / source.name
    signed = stored.read_bytes()
    with source.open("r+b") as rewritten:
        rewritten.write(b"not the signed bytes")
    assert stored.read_bytes() == signed


@pytest.mark.parametrize("change", ["file name", "platform"])
def test_promotion_refuses_staged_names_that_would_make_paths_of_their_own(
    keys: list[Key], tmp_path: Path, change: str
) -> None:
    """A staging tree changed by someone without the staging key names a file or a
    platform with `..`: promotion refuses before it copies or writes anything."""
    staging_key, production_key, _ = keys
    staging, production = tree(tmp_path, "staging"), tree(tmp_path, "production")
    publish(release(tmp_path, "1.0.0", staging_key), staging)
    if change == "file name":
        document_path = staging.download_path("1.0.0", "linux", "amd64")
        document = json.loads(document_path.read_text())
        document["filename"] = "../../../escaped.zip"
        document_path.write_text(json.dumps(document))
    else:
        versions = json.loads(staging.versions_path.read_text())
        versions["versions"][0]["platforms"][0]["os"] = "../linux"
        staging.versions_path.write_text(json.dumps(versions))
    expected = "unexpected file name" if change == "file name" else "unknown platform"
    with pytest.raises(PromotionError, match=expected):
        promote_with(staging, production, "1.0.0", staging_key, production_key)
    assert not production.root.exists()
