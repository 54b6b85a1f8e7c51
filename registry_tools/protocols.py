"""Which plugin protocol versions a built provider offers, read from the build.

The registry documents (`versions`, each download document, `_manifest.json`)
tell Terraform which protocol versions a release speaks; Terraform skips
releases whose protocols it cannot speak. Typing those numbers in by hand
risks a mislabelled release (the Teleport RFD's hazard), so we ask the built
provider itself, the way Terraform does: start the packaged executable with
go-plugin's magic cookie and `PLUGIN_PROTOCOL_VERSIONS=N` for one N at a time,
and read the handshake line it prints (`1|N|unix|<socket>|grpc|`). A provider
that does not offer N either exits with a message (ours) or answers with a
different version (go-plugin's fallback); either way N is not offered.

The handshake carries only the major version; the registry writes `N.0`, as
the scaffolding's manifest does (Terraform compares majors only).

Only packages this machine can run are probed: the host's own platform, and
a foreign Linux CPU when its executable is an ELF file and qemu-user is
registered with binfmt_misc. darwin packages cannot run here; they are built
from the same source tree in the same run, and the protocol list is
platform-independent Python (provider/server/handshake.py), so they carry the
answer of the package that was probed. A release with no package this machine
can run is refused rather than labelled by guesswork.
"""

from __future__ import annotations

import hashlib
import os
import platform
import select
import signal
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from registry_tools.arch import LINUX_MACHINES, host_arch

# Terraform has used plugin protocols 4 (0.11 and older), 5 and 6; probing a
# few beyond keeps a future protocol from going unnoticed.
CANDIDATES = tuple(range(1, 10))
EXECUTABLE_PREFIX = "terraform-provider-tarmak"


class ProtocolError(Exception):
    pass


def host_platform() -> tuple[str, str]:
    return platform.system().lower(), host_arch()


def can_run_here(os_name: str, arch: str, executable: Path) -> bool:
    if (os_name, arch) == host_platform():
        return True
    if os_name != "linux" or host_platform()[0] != "linux" or arch not in LINUX_MACHINES:
        return False
    with open(executable, "rb") as handle:
        if handle.read(4) != b"\x7fELF":
            return False  # e.g. a script that would run the host's interpreter
    binfmt = Path(f"/proc/sys/fs/binfmt_misc/qemu-{LINUX_MACHINES[arch]}")
    try:
        return binfmt.read_text().startswith("enabled")
    except OSError:
        return False


def registry_protocols(majors: Iterable[int]) -> tuple[str, ...]:
    """`(6, 5)` -> `("6.0", "5.0")`: newest first, as the scaffolding writes them."""
    return tuple(f"{major}.0" for major in sorted(set(majors), reverse=True))


def _read_line(process: subprocess.Popen[bytes], deadline: float) -> bytes:
    """The first stdout line, or b"" if the process exits first."""
    assert process.stdout is not None
    seen = b""
    fd = process.stdout.fileno()
    while b"\n" not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProtocolError("the provider printed no handshake line in time")
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return seen
            seen += chunk
    return seen.split(b"\n", 1)[0]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # go-plugin servers clean up and exit on it
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def handshake_version(
    executable: Path, requested: int, env: Mapping[str, str], timeout: float = 120
) -> int | None:
    """The protocol the provider answers when Terraform asks for `requested` only."""
    process = subprocess.Popen(
        [str(executable)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**env, "PLUGIN_PROTOCOL_VERSIONS": str(requested)},
        start_new_session=True,
    )
    try:
        line = _read_line(process, time.monotonic() + timeout)
    finally:
        _stop(process)
        assert process.stdout is not None
        process.stdout.close()
    fields = line.decode(errors="replace").split("|")
    if len(fields) < 5 or not fields[1].isdigit():
        return None
    return int(fields[1])


def offered_majors(executable: Path, candidates: Iterable[int] = CANDIDATES) -> tuple[int, ...]:
    """Every candidate protocol the executable answers with itself, newest first."""
    with tempfile.TemporaryDirectory(prefix="tarmak-probe-") as scratch:
        sockets = Path(scratch) / "sockets"
        sockets.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": scratch,
            "PEX_ROOT": str(Path(scratch) / "pex"),  # a pex unpacks here, not in ~/.pex
            "PLUGIN_UNIX_SOCKET_DIR": str(sockets),
            "PLUGIN_MIN_PORT": "10000",
            "PLUGIN_MAX_PORT": "25000",
            MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        }
        first, *rest = candidates
        # The first start alone (a pex unpacks itself then), the others side by side.
        answers = {first: handshake_version(executable, first, env)}
        with ThreadPoolExecutor(4) as pool:
            answers.update(
                zip(
                    rest,
                    pool.map(lambda n: handshake_version(executable, n, env), rest),
                    strict=True,
                )
            )
    return tuple(sorted((n for n, answer in answers.items() if answer == n), reverse=True))


def _extract(archive: Path, directory: Path) -> Path:
    """Unpack as Terraform does (modes kept) and return the provider executable."""
    with zipfile.ZipFile(archive) as package:
        for info in package.infolist():
            target = Path(package.extract(info, directory))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)
    found = sorted(
        p for p in directory.iterdir() if p.is_file() and p.name.startswith(EXECUTABLE_PREFIX)
    )
    if not found:
        raise ProtocolError(f"{archive.name} holds no {EXECUTABLE_PREFIX}* executable at its top")
    return found[0]


_BY_CONTENTS: dict[str, tuple[int, ...]] = {}


def _contents_digest(archive: Path) -> str:
    """A digest of the files' bytes, not their names: one build zipped for two
    versions differs only in the executable's name, and offers the same."""
    with zipfile.ZipFile(archive) as package:
        digests = sorted(
            hashlib.sha256(package.read(info)).hexdigest()
            for info in package.infolist()
            if not info.is_dir()
        )
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def zip_protocols(archive: Path, os_name: str, arch: str) -> tuple[int, ...] | None:
    """What the packaged provider offers, or None when it cannot run here."""
    digest = _contents_digest(archive)
    if digest in _BY_CONTENTS:  # the same bytes offer the same protocols
        return _BY_CONTENTS[digest]
    with tempfile.TemporaryDirectory(prefix="tarmak-package-") as scratch:
        executable = _extract(archive, Path(scratch))
        if not can_run_here(os_name, arch, executable):
            return None
        majors = offered_majors(executable)
    if not majors:
        raise ProtocolError(
            f"the provider in {archive.name} did not complete a handshake for any protocol "
            f"{CANDIDATES[0]}-{CANDIDATES[-1]}: it cannot start, so it must not be published"
        )
    _BY_CONTENTS[digest] = majors
    return majors


def release_protocols(packages: Mapping[tuple[str, str], Path]) -> tuple[str, ...]:
    """The protocols of a release, from every package this machine can run.

    `packages` maps (os, arch) to its zip. The packages that run must agree."""
    answers: dict[str, tuple[int, ...]] = {}
    for (os_name, arch), archive in sorted(packages.items()):
        majors = zip_protocols(archive, os_name, arch)
        if majors is not None:
            answers[f"{os_name}_{arch}"] = majors
    if not answers:
        names = ", ".join(f"{o}_{a}" for o, a in sorted(packages))
        raise ProtocolError(
            f"none of the packages ({names}) can run on this machine "
            f"({'_'.join(host_platform())}), so their protocol versions cannot be read; "
            "publish them together with a package for this platform"
        )
    distinct = set(answers.values())
    if len(distinct) > 1:
        raise ProtocolError(f"the packages offer different plugin protocols: {answers}")
    return registry_protocols(distinct.pop())
