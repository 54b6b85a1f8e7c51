"""Just enough ELF to know what a shared object links against.

The self-contained package must carry every library its binaries load, and
nothing else. Reading DT_NEEDED here (64-bit little-endian ELF, which covers
x86_64 and aarch64) avoids running `readelf` once for each of a few hundred
files and works the same for every architecture.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_MAGIC = b"\x7fELF"
_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NULL, _DT_NEEDED, _DT_STRTAB = 0, 1, 5
MACHINES = {62: "x86_64", 183: "aarch64"}


class ElfError(Exception):
    pass


@dataclass(frozen=True)
class ElfInfo:
    machine: str
    interpreter: str | None  # PT_INTERP: None for static executables and libraries
    needed: tuple[str, ...]  # DT_NEEDED sonames, in order


def is_elf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == _MAGIC


def read_elf(path: Path) -> ElfInfo:
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ElfError(f"{path} is not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ElfError(f"{path}: only 64-bit little-endian ELF is supported")
    (machine,) = struct.unpack_from("<H", data, 18)
    phoff, phentsize, phnum = (
        struct.unpack_from("<Q", data, 32)[0],
        *struct.unpack_from("<HH", data, 54),
    )
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    dynamic: tuple[int, int] | None = None
    interpreter = None
    for index in range(phnum):
        kind, _, offset, vaddr, _, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize
        )
        if kind == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif kind == _PT_DYNAMIC:
            dynamic = (offset, filesz)
        elif kind == _PT_INTERP:
            interpreter = data[offset : offset + filesz].rstrip(b"\0").decode()
    needed_offsets: list[int] = []
    strtab_vaddr = None
    if dynamic is not None:
        offset, size = dynamic
        for entry in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, entry)
            if tag == _DT_NULL:
                break
            if tag == _DT_NEEDED:
                needed_offsets.append(value)
            elif tag == _DT_STRTAB:
                strtab_vaddr = value
    needed: list[str] = []
    if needed_offsets:
        if strtab_vaddr is None:
            raise ElfError(f"{path}: DT_NEEDED without a string table")
        strtab = _file_offset(loads, strtab_vaddr, path)
        for name_offset in needed_offsets:
            start = strtab + name_offset
            needed.append(data[start : data.index(b"\0", start)].decode())
    return ElfInfo(MACHINES.get(machine, f"machine-{machine}"), interpreter, tuple(needed))


def _file_offset(loads: list[tuple[int, int, int]], vaddr: int, path: Path) -> int:
    for start, offset, size in loads:
        if start <= vaddr < start + size:
            return offset + vaddr - start
    raise ElfError(f"{path}: address {vaddr:#x} is in no loaded segment")
