"""Artifact names and formats, checked against the scaffolding's conventions."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from registry_tools import cli, launcher, smoke
from registry_tools.archive import h1_hash, write_provider_zip, write_tree_zip, zip_hash
from registry_tools.checksums import parse_shasums, write_shasums
from registry_tools.debian import sources_list
from registry_tools.elf import ElfInfo, read_elf
from registry_tools.launcher import build_launcher
from registry_tools.manifest import write_manifest
from registry_tools.platforms import DEFAULT_TARGETS, package_warnings, parse_target, self_contained


def test_zip_holds_one_executable_file_entry(tmp_path: Path) -> None:
    exe = tmp_path / "exe"
    exe.write_bytes(b"#!/usr/bin/env python3\n")
    archive = write_provider_zip(exe, "1.2.3", "linux_amd64", tmp_path)
    assert archive.name == "terraform-provider-tarmak_1.2.3_linux_amd64.zip"
    with zipfile.ZipFile(archive) as z:
        (info,) = z.infolist()
    assert info.filename == "terraform-provider-tarmak_v1.2.3"
    assert info.create_system == 3, "Unix creator, so the mode is honoured"
    assert stat.S_IMODE(info.external_attr >> 16) == 0o755
    assert stat.S_ISREG(info.external_attr >> 16)
    again = write_provider_zip(exe, "1.2.3", "linux_arm64", tmp_path)
    assert h1_hash(archive) == h1_hash(again), "reproducible: same content, same h1"


def test_h1_hash_is_terraforms_dirhash(tmp_path: Path) -> None:
    exe = tmp_path / "exe"
    exe.write_bytes(b"hello\n")
    archive = write_provider_zip(exe, "0.0.1", "linux_amd64", tmp_path)
    # sha256("hello\n") = 5891b5b5...; summary line "<hex>  terraform-provider-tarmak_v0.0.1\n"
    import base64
    import hashlib

    digest = hashlib.sha256(b"hello\n").hexdigest()
    line = f"{digest}  terraform-provider-tarmak_v0.0.1\n"
    expected = "h1:" + base64.b64encode(hashlib.sha256(line.encode()).digest()).decode()
    assert h1_hash(archive) == expected
    assert zip_hash(archive) == "zh:" + hashlib.sha256(archive.read_bytes()).hexdigest()


def test_shasums_format(tmp_path: Path) -> None:
    b = tmp_path / "b.zip"
    a = tmp_path / "a.zip"
    b.write_bytes(b"b")
    a.write_bytes(b"a")
    sums = write_shasums([b, a], "1.0.0", tmp_path)
    assert sums.name == "terraform-provider-tarmak_1.0.0_SHA256SUMS"
    lines = sums.read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["a.zip", "b.zip"]
    assert all("  " in line and "*" not in line for line in lines)
    assert parse_shasums(sums.read_text())["a.zip"].startswith("ca978112")


def test_manifest_lists_both_protocols(tmp_path: Path) -> None:
    path = write_manifest("1.0.0", tmp_path, ("6.0", "5.0"))
    assert path.name == "terraform-provider-tarmak_1.0.0_manifest.json"
    assert json.loads(path.read_text()) == {
        "version": 1,
        "metadata": {"protocol_versions": ["6.0", "5.0"]},
    }


def test_platforms() -> None:
    assert [t.name for t in DEFAULT_TARGETS] == [
        "linux_amd64",
        "linux_arm64",
        "darwin_amd64",
        "darwin_arm64",
    ]
    assert parse_target("darwin_arm64").machine == "arm64"
    with pytest.raises(ValueError, match="unsupported platform"):
        parse_target("windows_386")
    complete = parse_target("linux_arm64").complete_platform((3, 12))
    assert complete["marker_environment"]["python_full_version"] == "3.12.0"  # type: ignore[index]
    assert "cp312-cp312-manylinux_2_17_aarch64" in complete["compatible_tags"]  # type: ignore[operator]
    # cryptography ships macOS arm64 support as universal2 wheels built for 10.9
    mac = parse_target("darwin_arm64").complete_platform((3, 11))["compatible_tags"]
    assert "cp311-abi3-macosx_10_9_universal2" in mac  # type: ignore[operator]
    intel = parse_target("darwin_amd64").complete_platform((3, 13))["compatible_tags"]
    assert "cp311-abi3-macosx_10_9_x86_64" in intel  # type: ignore[operator]


def test_tree_zip_keeps_modes_and_has_no_directory_entries(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "runtime" / "bin").mkdir(parents=True)
    launcher = tree / "terraform-provider-tarmak_v1.2.3"
    launcher.write_bytes(b"\x7fELF launcher")
    launcher.chmod(0o700)
    (tree / "runtime" / "bin" / "python3.11").write_bytes(b"\x7fELF python")
    (tree / "runtime" / "bin" / "python3.11").chmod(0o755)
    (tree / "runtime" / "os.py").write_text("pass\n")
    archive = write_tree_zip(tree, "1.2.3", "linux_amd64", tmp_path)
    with zipfile.ZipFile(archive) as z:
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in z.infolist()}
        assert all(i.create_system == 3 and not i.is_dir() for i in z.infolist())
    assert modes == {
        "runtime/bin/python3.11": 0o755,
        "runtime/os.py": 0o644,
        "terraform-provider-tarmak_v1.2.3": 0o755,
    }
    first = h1_hash(archive)
    (tree / "runtime" / "os.py").touch()  # a new mtime changes nothing
    assert h1_hash(write_tree_zip(tree, "1.2.3", "linux_amd64", tmp_path)) == first


def test_tree_zip_needs_the_launcher(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    with pytest.raises(FileNotFoundError, match=r"terraform-provider-tarmak_v1\.0\.0"):
        write_tree_zip(tmp_path / "tree", "1.0.0", "linux_amd64", tmp_path)


def test_launcher_is_static_for_both_architectures(tmp_path: Path) -> None:
    for arch, machine in (("amd64", "x86_64"), ("arm64", "aarch64")):
        info = read_elf(build_launcher(arch, tmp_path / arch))
        assert info == ElfInfo(machine, None, ())
    python = read_elf(Path(sys.executable).resolve())
    assert python.interpreter and python.interpreter.startswith("/lib"), "PT_INTERP is absolute"


def test_each_shared_fact_has_one_home() -> None:
    """The cookie and the CPU names are defined once: no module of registry_tools or
    devenv spells the cookie's value or an arch table of its own."""
    from provider.server import handshake

    assert smoke.MAGIC_COOKIE_VALUE is handshake.MAGIC_COOKIE_VALUE
    root = Path(__file__).resolve().parents[3]
    homes = {"registry_tools/arch.py"}
    for path in [*root.glob("registry_tools/*.py"), *root.glob("devenv/*.py")]:
        relative = path.relative_to(root).as_posix()
        text = path.read_text()
        assert handshake.MAGIC_COOKIE_VALUE not in text, f"{relative} copies the cookie"
        if relative not in homes:
            assert '"x86_64": "amd64"' not in text and '"amd64": "x86_64"' not in text, relative
            assert '"aarch64": "arm64"' not in text and '"arm64": "aarch64"' not in text, relative
    assert launcher.PYTHON_ARGS[-1] in smoke.launcher_argv(Path("/p/x"), "amd64")


def test_debian_sources_for_both_architectures() -> None:
    deb822 = (
        "Types: deb\n# a comment\nURIs: http://deb.debian.org/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb-src\nURIs: http://x\nSuites: bookworm\nComponents: main\n"
    )
    keyring = "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    assert sources_list(deb822).splitlines() == [
        f"deb [arch=amd64,arm64 {keyring}] http://deb.debian.org/debian bookworm main",
        f"deb [arch=amd64,arm64 {keyring}] http://deb.debian.org/debian bookworm-updates main",
    ]


def test_darwin_packages_carry_their_python_requirement_to_terraform_init() -> None:
    linux, darwin = parse_target("linux_amd64"), parse_target("darwin_arm64")
    assert package_warnings([linux]) == ()
    (warning,) = package_warnings([linux, darwin])
    assert "darwin_arm64" in warning and "CPython 3.12 or 3.13 on the Mac's PATH" in warning
    assert self_contained(linux) and not self_contained(darwin)


def test_missing_signing_key_is_reported_before_anything_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_build(*args: object, **kwargs: object) -> Path:
        raise AssertionError("built before the key was checked")

    monkeypatch.setattr(cli, "build_package", no_build)
    monkeypatch.delenv("TARMAK_GPG_KEY_FILE", raising=False)
    monkeypatch.delenv("TARMAK_GPG_KEY_ID", raising=False)
    home = tmp_path / "empty-keyring"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    try:
        code = cli.main(["package", "--base-url", "https://r.example", "--out", str(tmp_path)])
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True)
    assert code == 1
    error = capsys.readouterr().err
    assert "no signing key" in error
    assert "TARMAK_GPG_KEY_FILE" in error and "TARMAK_GPG_KEY_ID" in error
    monkeypatch.setenv("TARMAK_GPG_KEY_FILE", str(tmp_path / "missing.asc"))
    assert cli.main(["package", "--base-url", "https://r.example", "--out", str(tmp_path)]) == 1
    assert "TARMAK_GPG_KEY_FILE=" in capsys.readouterr().err
    assert not (tmp_path / "release").exists()
