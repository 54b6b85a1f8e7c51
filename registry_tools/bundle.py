"""The self-contained Linux package: a directory tree that needs nothing on the host.

    terraform-provider-tarmak_v<VERSION>   static launcher (launcher.c): execs the loader below
    runtime/bin/python3.11                 Debian bookworm's CPython 3.11.2 (libpython linked in)
    runtime/lib/ld-linux-*.so.*, lib*.so.* glibc's loader and every C library anything here links
    runtime/lib/python3.11/                its standard library (no tests, no tkinter, no idle)
    runtime/lib/python3/dist-packages/     our provider and the connector's relay, and the
                                           manylinux wheels they import (grpcio, protobuf,
                                           msgpack, certifi: registry_tools/
                                           requirements.py), with bytecode

Why this design. Measured here (2-core machine, other work running beside it):
linux_amd64 zip 26.0 MB, linux_arm64 25.2 MB (budget 40 MB), 69 MB and 1,832
files unpacked (amd64); a build takes 9-43 s for amd64 and 16-17 s for arm64
(fetching wheels and compiling bytecode; Debian's packages are cached under
build/package-cache/). The installed package's handshake (exec to go-plugin's
line, after a real `terraform init`, first start included) against the
development install's, in four runs of bench/package_start.py (medians of 20,
load 1.1-2.1): 0.91x, 1.04x, 1.00x, 0.96x (116.6-144.0 ms). Its cost is at
`terraform init`: Terraform 1.0.3 installs this zip from a filesystem mirror
in 2.1-3.4 s against 0.16-0.19 s for a one-file pex zip (it unpacks and hashes
every file), which slows every install in tests/e2e/test_registry.py.
- Debian's interpreter and libraries: Debian's CPython 3.11 links libpython
  statically and is built optimised; issue 14 measured its handshake at 0.83x
  the pyenv build's. Debian ships the same build for arm64 and PyPI the aarch64
  wheels, so both architectures come from one recipe with no emulated compile
  and the cross compiler only builds the small launcher.c.
- Not measured here, and why not chosen: PyInstaller bundles whatever
  interpreter runs the build (here pyenv's, so amd64 only, no arm64 without an
  arm64 build host) and its onefile mode unpacks to a temp dir at every start;
  Nuitka compiles every module to C, per architecture, needing an arm64
  toolchain and Python headers for it.
- Not chosen: the pure-Python standard library as lib/python311.zip (CPython
  puts it on sys.path by itself). 813 files instead of 1,832, so Terraform
  1.0.3 installed the zip in 1.3-1.4 s instead of 2.1-2.5 s, but each start was
  9% slower (handshake median 129.4 against 118.7 ms, 30 interleaved starts,
  load 1.5): zipimport is Python code, and Terraform starts the provider 3-4
  times per run but installs it once.
- A static launcher because a bare container has no /lib64/ld-linux-x86-64.so.2,
  the absolute path every dynamically linked ELF names; the launcher runs our
  loader explicitly with --library-path, so no file is patched.
- Bytecode compiled at build time with unchecked-hash invalidation: Terraform
  unpacks zips without keeping mtimes, the plugin directory may be read-only,
  and nothing is unpacked or compiled at start.
- GetProviderSchema's answer written at build time, unchecked for the same
  reason (provider/server/schema_snapshot.py): a start that only reports the
  schema imports neither the provider nor the framework.
- The tree is closed under DT_NEEDED: the build fails if any ELF in it needs a
  library that is not in it, so nothing silently comes from the host.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provider.server import schema_snapshot
from provider.tarmak import ENTRY
from registry_tools.arch import LINUX_MACHINES
from registry_tools.debian import DebianArchive, unpack
from registry_tools.elf import is_elf, read_elf
from registry_tools.launcher import LOADERS, build_launcher
from registry_tools.platforms import Target
from registry_tools.requirements import package_requirements, shipped_sources

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "python3.11"
# The interpreter, its standard library and the C libraries they and the wheels load.
DEBIAN_PACKAGES = [
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libc6",
    "zlib1g",
    "libexpat1",
    "libssl3",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "libuuid1",
    "libgcc-s1",
    "libstdc++6",
]
# Debian bookworm has glibc 2.36: every manylinux wheel up to that runs here.
GLIBC = (2, 36)
# Parts of the standard library a provider never uses, or whose C libraries we leave out.
STDLIB_EXCLUDED_DIRS = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "pydoc_data",
    "distutils",
    "__phello__",
}
STDLIB_EXCLUDED_PREFIXES = (
    "_crypt.",  # libcrypt
    "_curses",  # ncurses
    "_dbm.",  # Berkeley DB
    "_gdbm.",
    "_sqlite3.",  # sqlite
    "nis.",  # libnsl, libtirpc
    "readline.",  # readline
    "ossaudiodev.",
    "_test",
    "_ctypes_test.",
    "_xx",
    "xxlimited",
)


class BundleError(Exception):
    pass


@dataclass
class BundleReport:
    """What went into a package, for the build log and the package's BUILDINFO."""

    debian: dict[str, str] = field(default_factory=dict)
    wheels: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0


def triplet(target: Target) -> str:
    return f"{LINUX_MACHINES[target.arch]}-linux-gnu"


def build_bundle(
    target: Target,
    version: str,
    tree: Path,
    cache: Path,
    project: Path = ROOT,
    progress: Callable[[str], None] = print,
) -> BundleReport:
    """Lay out the package for `target` in `tree` (empty or absent)."""
    if target.os != "linux":
        raise BundleError(f"self-contained packages are built for Linux only, not {target.name}")
    if sys.version_info[:2] != (3, 11):
        raise BundleError("build with CPython 3.11: its bytecode is what the package runs")
    if not (project / "provider" / "_generated" / "__init__.py").exists():
        raise BundleError("generated protocol code is missing: run `make proto` first")
    report = BundleReport()
    runtime = tree / "runtime"
    debroot = tree.parent / f".debroot-{target.name}"
    shutil.rmtree(debroot, ignore_errors=True)
    try:
        progress(f"Debian bookworm packages for {target.arch}: {PYTHON}, glibc and libraries")
        archive = DebianArchive(cache / "apt")
        archive.update()
        debs = cache / "debs" / target.arch
        report.debian = archive.download(DEBIAN_PACKAGES, target.arch, debs)
        for name, deb_version in report.debian.items():
            deb = debs / f"{name}_{deb_version.replace(':', '%3a')}_{target.arch}.deb"
            unpack(deb, debroot)
        _copy_interpreter(debroot, runtime)
        site = runtime / "lib" / "python3" / "dist-packages"
        progress(f"wheels for CPython 3.11 on {target.name} (manylinux, glibc <= 2.36)")
        report.wheels = _install_wheels(target, site, cache, project)
        _strip_debug_info(target, site)
        for source in shipped_sources(project):
            _copy_file(project / source, site / source)
        # Built once and never edited, like its bytecode: the schema answer unchecked.
        snapshots = site / "provider" / "_generated" / "schema_snapshots.py"
        schema_snapshot.write(snapshots, [ENTRY], checked=False, root=str(project))
        _copy_libraries(target, debroot, runtime)
    finally:
        shutil.rmtree(debroot, ignore_errors=True)
    progress("compiling bytecode")
    _compile_bytecode(runtime)
    progress("static launcher")
    launcher = tree / f"terraform-provider-tarmak_v{version}"
    build_launcher(target.arch, launcher)
    _write_buildinfo(runtime / "BUILDINFO", target, report)
    for path in tree.rglob("*"):
        if path.is_file():
            report.files += 1
            report.bytes += path.stat().st_size
    return report


def _resolve(root: Path, path: Path) -> Path | None:
    """Follow symlinks inside an unpacked Debian tree (absolute links are root-relative)."""
    for _ in range(20):
        if not path.is_symlink():
            return path if path.exists() else None
        link = os.readlink(path)
        path = root / link.lstrip("/") if link.startswith("/") else path.parent / link
    return None


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    executable = source.stat().st_mode & stat.S_IXUSR or is_elf(source)
    target.chmod(0o755 if executable else 0o644)


def _copy_interpreter(debroot: Path, runtime: Path) -> None:
    _copy_file(debroot / "usr" / "bin" / PYTHON, runtime / "bin" / PYTHON)
    stdlib = debroot / "usr" / "lib" / PYTHON
    for path in sorted(stdlib.rglob("*")):
        relative = path.relative_to(stdlib)
        if relative.parts[0] in STDLIB_EXCLUDED_DIRS or "__pycache__" in relative.parts:
            continue
        if relative.parts[0] == "lib-dynload" and path.name.startswith(STDLIB_EXCLUDED_PREFIXES):
            continue
        if path.name in ("EXTERNALLY-MANAGED", "sitecustomize.py"):
            continue  # Debian's pip guard and its apport hook belong to the Debian system
        real = _resolve(debroot, path)
        if real is None or real.is_dir():
            continue
        _copy_file(real, runtime / "lib" / PYTHON / relative)


def _install_wheels(target: Target, site: Path, cache: Path, project: Path) -> list[str]:
    """Binary wheels only, for CPython 3.11 on `target`, straight into the site dir.

    Returns "<wheel file name> sha256=<hex>" per wheel, from pip's install report,
    so a release can say exactly which wheels it was built from."""
    machine = LINUX_MACHINES[target.arch]
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC[1], 16, -1)]
    platforms += [f"manylinux2014_{machine}", f"linux_{machine}"]
    scratch = Path(tempfile.mkdtemp(prefix="tarmak-pip-report-"))
    report = scratch / "report.json"
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    argv += ["--target", str(site), "--only-binary=:all:", "--no-compile", "--no-user"]
    argv += ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    argv += ["--cache-dir", str(cache / "pip"), "--report", str(report)]
    for platform in platforms:
        argv += ["--platform", platform]
    argv += package_requirements(project)
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BundleError(f"pip could not fetch wheels for {target.name}:\n{proc.stderr[-3000:]}")
    try:
        wheels = wheel_hashes(json.loads(report.read_text()))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts point at the build host
    for record in site.glob("*.dist-info/RECORD"):
        drop_outside_rows(record, site)
    return wheels


def wheel_hashes(report: dict[str, Any]) -> list[str]:
    """ "<wheel file name> sha256=<hex>" for each wheel in a pip install report."""
    found = []
    for item in report["install"]:
        info = item["download_info"]
        name = urllib.parse.unquote(info["url"].rsplit("/", 1)[-1])
        digest = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        if not digest:
            raise BundleError(f"pip reported no sha256 for {name}")
        found.append(f"{name} sha256={digest}")
    return sorted(found)


def drop_outside_rows(record: Path, site: Path) -> None:
    """Remove RECORD rows for files we did not keep: the console scripts pip wrote
    to site/bin (deleted above). Their hash and length depend on the build venv's
    path in the shebang, so keeping the rows made the zip depend on the checkout."""
    kept = []
    for row in record.read_text().splitlines(keepends=True):
        relative = Path(os.path.normpath(record.parent.parent / row.split(",", 1)[0]))
        if relative.is_relative_to(site) and not relative.is_relative_to(site / "bin"):
            kept.append(row)
    record.write_text("".join(kept))


def _strip_debug_info(target: Target, site: Path) -> None:
    """Some wheels ship their extension modules with DWARF (PyYAML 2.7 -> 0.4 MB);
    debug sections are never loaded, so dropping them changes no behaviour."""
    strip = {"amd64": "strip", "arm64": "aarch64-linux-gnu-strip"}[target.arch]
    modules = [str(p) for p in site.rglob("*.so*") if p.is_file() and is_elf(p)]
    if modules:
        subprocess.run([strip, "--strip-debug", *modules], check=True)


def _copy_libraries(target: Target, debroot: Path, runtime: Path) -> None:
    """Copy the loader and each library some ELF here needs, transitively; fail on any gap."""
    arch_dirs = [debroot / "lib" / triplet(target), debroot / "usr" / "lib" / triplet(target)]
    available: dict[str, Path] = {}
    for directory in arch_dirs:
        for path in directory.glob("*.so*"):
            real = _resolve(debroot, path)
            if real is not None and real.is_file():
                available.setdefault(path.name, real)
    lib = runtime / "lib"
    loader = LOADERS[target.arch]
    _copy_file(available[loader], lib / loader)
    # Libraries that wheels carry themselves (auditwheel's <package>.libs, found by RUNPATH).
    provided = {loader} | {p.name for p in runtime.rglob("*.so*") if p.is_file()}
    pending = [p for p in runtime.rglob("*") if p.is_file() and is_elf(p)]
    machine = LINUX_MACHINES[target.arch]
    while pending:
        info = read_elf(pending.pop())
        if info.machine != machine:
            raise BundleError(f"an {info.machine} binary in the {target.name} package")
        for soname in info.needed:
            if soname in provided:
                continue
            if soname not in available:
                raise BundleError(
                    f"{soname} is needed but comes from no Debian package in DEBIAN_PACKAGES"
                )
            _copy_file(available[soname], lib / soname)
            provided.add(soname)
            pending.append(lib / soname)


# Each compiling process's interned strings (and so marshal's back-references)
# depend on what it compiled before, and string hashes on its hash seed; a fixed
# split of the sorted files over a fixed number of processes, each with hash seed
# 0, gives the same bytes on every machine, whatever its number of cores.
_COMPILE_PROCESSES = 4
_COMPILE_ONE_BY_ONE = """
import py_compile, sys
root, ddir = sys.argv[1], sys.argv[2]
for relative in sys.stdin.read().split("\\0"):
    if relative:
        py_compile.compile(
            f"{root}/{relative}", dfile=f"{ddir}/{relative}", doraise=True, quiet=2,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
"""


def _compile_bytecode(runtime: Path) -> None:
    """unchecked-hash .pyc: valid whatever mtimes the unzip leaves, never rewritten,
    and the same bytes from every build of the same sources."""
    lib = runtime / "lib"
    sources = sorted(str(p.relative_to(lib)) for p in lib.rglob("*.py") if p.is_file())
    size = -(-len(sources) // _COMPILE_PROCESSES)
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-I", "-c", _COMPILE_ONE_BY_ONE, str(lib), "/runtime/lib"]
    workers = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(_COMPILE_PROCESSES)
    ]
    failed = []
    for index, worker in enumerate(workers):
        chunk = sources[index * size : (index + 1) * size]
        _, errors = worker.communicate("\0".join(chunk).encode())
        if worker.returncode != 0:
            failed.append(errors.decode(errors="replace").strip().splitlines()[-1:])
    if failed:
        raise BundleError(f"some modules did not compile: {failed}")


def _write_buildinfo(path: Path, target: Target, report: BundleReport) -> None:
    lines = [f"platform {target.name}", f"debian bookworm ({triplet(target)})"]
    lines += [f"deb {name} {version}" for name, version in sorted(report.debian.items())]
    lines += [f"wheel {wheel}" for wheel in report.wheels]
    path.write_text("\n".join(lines) + "\n")
