"""Artifact names and formats, checked against the scaffolding's conventions."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from registry_tools.archive import h1_hash, write_provider_zip, zip_hash
from registry_tools.checksums import parse_shasums, write_shasums
from registry_tools.manifest import write_manifest
from registry_tools.platforms import DEFAULT_TARGETS, parse_target


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
