"""Issue 24: zips that Terraform refuses or unpacks outside its plugin directory are
never signed. Each case is a real zip, given to `registry-tools publish`."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_tools import cli
from registry_tools.zip_check import ZipContentError, check_provider_zip
from tests.unit.registry_tools.fakes import provider_zip
from tests.unit.registry_tools.keys import Key, throwaway_keys

VERSION = "1.0.0"
EXECUTABLE = f"terraform-provider-tarmak_v{VERSION}"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Key]:
    with throwaway_keys(tmp_path_factory.mktemp("keys"), "release") as (made,):
        yield made


def entry(name: str, mode: int, creator: int = 3) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = creator
    info.external_attr = mode << 16
    return info


def with_extra(directory: Path, name: str, mode: int, data: bytes = b"x", creator: int = 3) -> Path:
    """A working provider zip plus one more entry."""
    archive = provider_zip(directory, VERSION)
    with zipfile.ZipFile(archive, "a") as package:
        package.writestr(entry(name, mode, creator), data)
    return archive


def only(directory: Path, *entries: tuple[str, int]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / f"terraform-provider-tarmak_{VERSION}_linux_amd64.zip"
    with zipfile.ZipFile(archive, "w") as package:
        for name, mode in entries:
            package.writestr(entry(name, mode), b"#!/bin/sh\n")
    return archive


REG, DIR, LNK = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK
BAD = {
    "dot-dot": (lambda d: with_extra(d, "runtime/../../escape", REG | 0o644), "'..'"),
    "leading dot-dot": (lambda d: with_extra(d, "../escape", REG | 0o644), "'..'"),
    "absolute": (lambda d: with_extra(d, "/etc/cron.d/x", REG | 0o644), "absolute path"),
    "symlink": (lambda d: with_extra(d, "runtime/lib", LNK | 0o777, b"/etc"), "not a regular"),
    # made on a Mac: Go's archive/zip (Terraform's unzip) reads the mode of creator 19 too
    "macOS symlink": (
        lambda d: with_extra(d, "runtime/lib", LNK | 0o777, b"/etc", creator=19),
        "not a regular",
    ),
    "fifo": (lambda d: with_extra(d, "runtime/pipe", stat.S_IFIFO | 0o644), "not a regular"),
    "backslash": (lambda d: with_extra(d, "..\\escape", REG | 0o644), "backslash"),
    "twice": (lambda d: with_extra(d, EXECUTABLE, REG | 0o755), "appears twice"),
    "no executable": (lambda d: only(d, ("runtime/x", REG | 0o755)), f"has no {EXECUTABLE}"),
    "not executable": (lambda d: only(d, (EXECUTABLE, REG | 0o644)), "not an executable"),
    "executable is a link": (lambda d: only(d, (EXECUTABLE, LNK | 0o777)), "not a regular"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")  # the "twice" case, on purpose
@pytest.mark.parametrize("case", BAD, ids=BAD.keys())
def test_publish_refuses_to_sign_an_unsafe_zip(
    case: str,
    key: Key,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make, reason = BAD[case]
    archive = make(tmp_path / "zips")
    monkeypatch.setenv("GNUPGHOME", key.home)
    dist = tmp_path / "dist"
    argv = ["publish", str(archive), "--tree", str(dist / "registry"), "--out", str(dist)]
    argv += ["--base-url", "https://r.example", "--no-mirror", "--gpg-key-id", key.key_id]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert reason in error and archive.name in error and "refusing" in error, error
    assert len(error.strip().splitlines()) == 1
    assert not dist.exists(), "nothing signed or written"


def test_a_good_zip_and_directory_entries_pass(tmp_path: Path) -> None:
    check_provider_zip(provider_zip(tmp_path / "a", VERSION), VERSION)
    check_provider_zip(
        only(tmp_path / "b", ("runtime/", DIR | 0o755), (EXECUTABLE, 0o100755)), VERSION
    )
    with pytest.raises(ZipContentError, match="not a readable zip"):
        (tmp_path / "c.zip").write_bytes(b"not a zip")
        check_provider_zip(tmp_path / "c.zip", VERSION)
