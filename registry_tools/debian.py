"""Debian's own packages of the interpreter and the C libraries, for any architecture.

apt-get runs with a private state and cache directory (under the build
cache), reading the machine's Debian sources with `arch=amd64,arm64`, so
fetching arm64 packages needs no `dpkg --add-architecture` and leaves the
machine's apt configuration untouched. Packages are downloaded with
`apt-get download` (checked against Debian's signed indices) and unpacked
with `dpkg-deb -x`; nothing is installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
ARCHITECTURES = ("amd64", "arm64")
# The indices are refreshed when older than this (security updates land often).
_INDEX_MAX_AGE = 12 * 3600


class DebianError(Exception):
    pass


@dataclass(frozen=True)
class DebianArchive:
    """apt-get with its own state under `cache`, for the architectures we build."""

    cache: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache", self.cache.resolve())  # apt reads relative paths oddly

    def _options(self) -> list[str]:
        state, archives = self.cache / "state", self.cache / "cache"
        options = {
            "Dir::State": state,
            "Dir::Cache": archives,
            "Dir::Etc::SourceList": self.cache / "sources.list",
            "Dir::Etc::SourceParts": self.cache / "sources.list.d",
            "Dir::Etc::Preferences": "/dev/null",
            "Dir::Etc::PreferencesParts": self.cache / "preferences.d",
            "APT::Sandbox::User": "root",
            "Debug::NoLocking": "1",
        }
        argv = [f"-o{key}={value}" for key, value in options.items()]
        argv += [f"-oAPT::Architectures::={arch}" for arch in ARCHITECTURES]
        return argv

    def _apt(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            [tool, *self._options(), *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if proc.returncode != 0:
            raise DebianError(f"{tool} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout

    def update(self) -> None:
        """Fetch Debian's indices once per `_INDEX_MAX_AGE`."""
        stamp = self.cache / "updated"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < _INDEX_MAX_AGE:
            return
        for sub in ("state/lists/partial", "cache/archives/partial", "sources.list.d"):
            (self.cache / sub).mkdir(parents=True, exist_ok=True)
        (self.cache / "preferences.d").mkdir(exist_ok=True)
        (self.cache / "sources.list").write_text(sources_list(SOURCES.read_text()))
        self._apt("apt-get", "update")
        stamp.touch()

    def download(self, packages: list[str], arch: str, directory: Path) -> dict[str, str]:
        """Download `packages` for `arch` into `directory`; returns name -> version."""
        directory.mkdir(parents=True, exist_ok=True)
        wanted = [f"{name}:{arch}" for name in packages]
        versions = {}
        for line in self._apt("apt-cache", "show", "--no-all-versions", *wanted).splitlines():
            if line.startswith("Package: "):
                name = line.split(": ", 1)[1]
            elif line.startswith("Version: "):
                versions[name] = line.split(": ", 1)[1]
        missing = [
            f"{name}:{arch}"
            for name in packages
            if not list(directory.glob(f"{name}_{_quote(versions[name])}_{arch}.deb"))
        ]
        if missing:
            self._apt("apt-get", "download", *missing, cwd=directory)
        return versions


def _quote(version: str) -> str:
    """apt-get download writes the epoch's colon as %3a."""
    return version.replace(":", "%3a")


def sources_list(deb822: str) -> str:
    """The machine's Debian sources (deb822 stanzas) as one-line entries for both arches."""
    lines = []
    for stanza in re.split(r"\n\s*\n", deb822.strip()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip()] = value.strip()
        if "deb" not in fields.get("Types", "").split():
            continue
        options = f"arch={','.join(ARCHITECTURES)}"
        if "Signed-By" in fields:
            options += f" signed-by={fields['Signed-By']}"
        for uri in fields["URIs"].split():
            for suite in fields["Suites"].split():
                lines.append(f"deb [{options}] {uri} {suite} {fields['Components']}")
    if not lines:
        raise DebianError("no Debian package sources found in " + str(SOURCES))
    return "\n".join(lines) + "\n"


def unpack(deb: Path, directory: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(directory)], check=True)
