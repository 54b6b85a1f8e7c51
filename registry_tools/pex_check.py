"""What can be checked here of a darwin pex, which cannot start on this machine.

Every native module in it must be Mach-O code for the target's CPU (thin, or
a universal2 file holding that slice), and nothing in it may be an ELF file:
pex also resolves for matching interpreters on the build machine when given
--interpreter-constraint, which once put this machine's manylinux wheels
(about 16 MB compressed) into each darwin pex. PEX-INFO must list a wheel of each
shipped distribution for each CPython in PYTHONS, or the pex would not boot
on that version. The same recipe built for linux is started on each of those
CPythons by tests/e2e/test_registry.py.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from registry_tools.platforms import PYTHONS, Target

_FAT = b"\xca\xfe\xba\xbe"  # big-endian header, then (cputype, subtype, offset, size, align)
_THIN64 = b"\xcf\xfa\xed\xfe"  # little-endian 64-bit Mach-O
_ELF = b"\x7fELF"
CPU_TYPES = {"amd64": 0x01000007, "arm64": 0x0100000C}
_NATIVE = re.compile(r"\.(so|dylib)$")


class PexCheckError(Exception):
    pass


def macho_cpus(head: bytes) -> set[int] | None:
    """The CPU types a Mach-O file holds, from its first bytes; None if not Mach-O."""
    if head[:4] == _THIN64:
        return {struct.unpack_from("<i", head, 4)[0]}
    if head[:4] == _FAT:
        (count,) = struct.unpack_from(">I", head, 4)
        return {struct.unpack_from(">i", head, 8 + 20 * n)[0] for n in range(min(count, 16))}
    return None


def check_darwin_pex(target: Target, pex: Path, distributions: Iterable[str]) -> None:
    """Raise PexCheckError if `pex` cannot be a working package for `target`."""
    cpu = CPU_TYPES[target.arch]
    problems = []
    with zipfile.ZipFile(pex) as archive:
        info = json.loads(archive.read("PEX-INFO"))
        for entry in archive.infolist():
            if entry.is_dir():
                continue
            with archive.open(entry) as handle:
                head = handle.read(8 + 20 * 16)
            if head[:4] == _ELF:
                problems.append(f"{entry.filename} is an ELF file")
            elif _NATIVE.search(entry.filename):
                cpus = macho_cpus(head)
                if cpus is None or cpu not in cpus:
                    problems.append(f"{entry.filename} has no {target.machine} code")
    wheels = [parse_wheel_filename(name) for name in info.get("distributions", {})]
    for major, minor in PYTHONS:
        for wanted in distributions:
            if not any(
                name == canonicalize_name(wanted) and _runs_on(tags, major, minor)
                for name, _, _, tags in wheels
            ):
                problems.append(f"no {wanted} wheel for CPython {major}.{minor}")
    if problems:
        raise PexCheckError(f"the {target.name} pex fails its checks: " + "; ".join(problems[:10]))


def _runs_on(tags: frozenset[object], major: int, minor: int) -> bool:
    """A wheel tag set usable by CPython major.minor (its own ABI, abi3 or pure)."""
    for tag in tags:
        interpreter, abi = getattr(tag, "interpreter", ""), getattr(tag, "abi", "")
        if abi == f"cp{major}{minor}" or interpreter in ("py3", f"py{major}"):
            return True
        abi3 = abi == "abi3" and re.fullmatch(r"cp3\d+", interpreter)
        if abi3 and (3, int(interpreter[3:])) <= (major, minor):
            return True
    return False
