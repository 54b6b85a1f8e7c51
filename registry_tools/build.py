"""Build the provider package (the zip Terraform installs) for one platform.

- linux_amd64, linux_arm64: self-contained (registry_tools/bundle.py): the
  interpreter, its C libraries and the connector travel in the zip, so the
  host needs nothing, not even a shell or a libc.
- darwin_amd64, darwin_arm64: a pex, since macOS binaries cannot be built or
  started on this Linux machine. It needs CPython 3.12 or 3.13 on the Mac
  (stock macOS has 3.9: install one from python.org or Homebrew); the README
  and the registry's warnings say so. Its first run unpacks it into a virtual
  environment under ~/.pex (PEX_ROOT).

Every self-contained package is started once after it is built (natively, or
for arm64 through qemu-user-static) and must print go-plugin's handshake
line, so a package that cannot start is never published.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from registry_tools.archive import executable_name, write_provider_zip, write_tree_zip, zip_name
from registry_tools.bundle import BundleError, build_bundle
from registry_tools.debian import DebianError
from registry_tools.launcher import LauncherError
from registry_tools.pex_check import PexCheckError, check_darwin_pex
from registry_tools.platforms import (
    DARWIN_PYTHONS,
    Target,
    self_contained,
    write_complete_platforms,
)
from registry_tools.requirements import (
    SHIPPED_DISTRIBUTIONS,
    package_requirements,
    shipped_sources,
)
from registry_tools.smoke import SmokeError, how_it_runs, start_package

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "package-cache"


class BuildError(Exception):
    pass


def _quiet(step: str) -> None:
    pass


def build_package(
    target: Target,
    version: str,
    directory: Path,
    cache: Path = CACHE,
    project: Path = ROOT,
    progress: Callable[[str], None] = _quiet,
) -> Path:
    """The zip for `target` in `directory` (written under a temporary name, then renamed)."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=f".build-{target.name}-") as scratch:
        work = Path(scratch)
        try:
            if self_contained(target):
                # A ':' as in Terraform's plugin directory for a registry address with a port.
                tree = work / "localhost:8443"
                build_bundle(target, version, tree, cache, project, progress)
                progress("starting it once: " + how_it_runs(target))
                start_package(target, tree / executable_name(version))
                progress("zipping")
                built = write_tree_zip(tree, version, target.name, work)
            else:
                progress(f"pex: resolving wheels for {DARWIN_PYTHONS}")
                executable = build_executable(target, work / "exe", project)
                progress("checking it: Mach-O code for its CPU, a wheel for each CPython")
                check_darwin_pex(target, executable, SHIPPED_DISTRIBUTIONS)
                built = write_provider_zip(executable, version, target.name, work)
        except (BundleError, SmokeError, DebianError, LauncherError, PexCheckError) as err:
            raise BuildError(f"{target.name}: {err}") from err
        final = directory / built.name
        built.replace(final)  # a new inode: files linked from a registry keep their bytes
    return final


def _inputs_digest(target: Target, version: str, project: Path) -> str:
    """A digest of everything a self-contained package is built from in this checkout."""
    digest = hashlib.sha256(f"{target.name} {version}\n".encode())
    sources = [project / "pyproject.toml", *sorted(Path(__file__).parent.glob("*.[pc]*"))]
    for package in ("provider", "connector"):
        sources += sorted((project / package).rglob("*.py"))
    for path in sources:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(project).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def cached_package(target: Target, version: str, cache: Path = CACHE, project: Path = ROOT) -> Path:
    """The package built from this checkout's sources, built only when they changed.

    For tests and the demo: a release (`registry-tools package`) always builds afresh,
    since wheels and Debian's security updates change without our sources changing.
    Each build's steps, and how long it waited for another build, are appended to
    `packages/build.log` in the cache: a slow test session names its slow step there."""
    directory = cache / "packages" / f"{target.name}-{_inputs_digest(target, version, project)}"
    built = directory / zip_name(version, target.name)
    if built.exists():
        return built
    # Test processes running side by side (pytest -n) may want a package at once:
    # one builds at a time (builds share the cache's downloads), the others wait
    # and then find what they wanted built.
    (cache / "packages").mkdir(parents=True, exist_ok=True)
    log = _BuildLog(cache / "packages" / "build.log", target.name)
    with open(cache / "packages" / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log("build lock taken")
        if not built.exists():
            for stale in (cache / "packages").glob(f"{target.name}-*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)  # one build per platform
            build_package(target, version, directory, cache, project, progress=log)
            log("built")
    return built


class _BuildLog:
    """Appends `<UTC time> <pid> <target> +<seconds since the previous line> <step>`."""

    def __init__(self, path: Path, target: str) -> None:
        self._path, self._target = path, target
        self._last = time.monotonic()
        self("wants a build")

    def __call__(self, step: str) -> None:
        now = time.monotonic()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(self._path, "a") as log:
            log.write(f"{stamp} {os.getpid()} {self._target} +{now - self._last:.1f}s {step}\n")
        self._last = now


def build_executable(target: Target, output: Path, project: Path = ROOT) -> Path:
    """The pex, for platforms we cannot build self-contained here (darwin).

    Only what the provider process needs (registry_tools/requirements.py), for
    the CPython versions in PYTHONS, added as sources rather than as our
    project's wheel (that would bring registry_tools/, devenv/ and the Tarmak
    side's dependencies). No --interpreter-constraint: pex then resolves for
    every matching interpreter on this machine too, which put this machine's
    manylinux wheels (about 16 MB compressed) into each darwin pex. The sh-boot
    script looks for python3.12 and python3.13 by name (from the platforms)
    before python3. No --compile: it compiles with this machine's 3.11, whose
    bytecode neither 3.12 nor 3.13 loads.
    """
    if not (project / "provider" / "_generated" / "__init__.py").exists():
        raise BuildError("generated protocol code is missing: run `make proto` first")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        platforms = write_complete_platforms(target, Path(scratch))
        sources = Path(scratch) / "sources"
        for source in shipped_sources(project):
            (sources / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project / source, sources / source)
        argv = [sys.executable, "-m", "pex", "--sources-directory", str(sources)]
        argv += [*package_requirements(project), "--output-file", str(output)]
        argv += ["--entry-point", "provider.main:main", "--no-emit-warnings"]
        argv += ["--python-shebang", "/usr/bin/env python3"]
        # First run: unpack into a venv under ~/.pex; later runs exec straight into it.
        argv += ["--venv", "--sh-boot"]
        for platform in platforms:
            argv += ["--complete-platform", str(platform)]
        proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"pex failed for {target.name}:\n{proc.stderr[-4000:]}")
    output.chmod(0o755)
    return output


def clean_cache(cache: Path = CACHE) -> None:
    shutil.rmtree(cache, ignore_errors=True)
