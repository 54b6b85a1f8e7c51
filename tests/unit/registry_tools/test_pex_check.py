"""The checks a darwin pex passes before it is published (it cannot start here)."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from registry_tools.pex_check import CPU_TYPES, PexCheckError, check_darwin_pex
from registry_tools.platforms import Target

ARM64 = Target("darwin", "arm64")
FAT = b"\xca\xfe\xba\xbe" + struct.pack(">I", 2)
FAT += struct.pack(">iiIII", CPU_TYPES["amd64"], 3, 4096, 10, 12)
FAT += struct.pack(">iiIII", CPU_TYPES["arm64"], 0, 8192, 10, 14)
THIN_X86 = b"\xcf\xfa\xed\xfe" + struct.pack("<i", CPU_TYPES["amd64"]) + b"\0" * 24
WHEELS = {
    "grpcio-1.85.3-cp312-cp312-macosx_11_0_universal2.whl": "grpc/_cython/cygrpc.so",
    "grpcio-1.85.3-cp313-cp313-macosx_11_0_universal2.whl": "grpc/_cython/cygrpc.so",
    "protobuf-7.36.2-cp310-abi3-macosx_10_9_universal2.whl": "google/_upb/_message.abi3.so",
    "hvac-2.4.0-py3-none-any.whl": "",
}


def pex(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PEX-INFO", json.dumps({"distributions": dict.fromkeys(WHEELS, "x")}))
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def natives(header: bytes) -> dict[str, bytes]:
    return {f".deps/{wheel}/{so}": header for wheel, so in WHEELS.items() if so}


def test_universal2_wheels_for_each_python_pass(tmp_path: Path) -> None:
    check_darwin_pex(ARM64, pex(tmp_path / "a.pex", natives(FAT)), ["grpcio", "protobuf", "hvac"])


def test_code_for_another_cpu_or_an_elf_file_fails(tmp_path: Path) -> None:
    files = natives(THIN_X86) | {".deps/x/y.so": b"\x7fELF\x02\x01\x01"}
    with pytest.raises(PexCheckError) as raised:
        check_darwin_pex(ARM64, pex(tmp_path / "a.pex", files), ["grpcio"])
    assert "has no arm64 code" in str(raised.value) and "is an ELF file" in str(raised.value)
    check_darwin_pex(Target("darwin", "amd64"), pex(tmp_path / "b.pex", natives(THIN_X86)), [])


def test_a_python_without_a_wheel_fails(tmp_path: Path) -> None:
    with pytest.raises(PexCheckError, match=r"no msgpack wheel for CPython 3\.12"):
        check_darwin_pex(ARM64, pex(tmp_path / "a.pex", natives(FAT)), ["msgpack"])
