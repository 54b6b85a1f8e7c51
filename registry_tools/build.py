"""Build the provider executable for one platform with pex.

The result is a single file that runs with any CPython 3.11-3.13 found as
`python3` on the user's machine, carrying the binary wheels (grpcio,
protobuf, cryptography, ...) for its platform and each of those versions.
Its first run unpacks it into a virtual environment under ~/.pex (PEX_ROOT);
later runs start a /bin/sh stub that execs straight into that environment.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from registry_tools.platforms import Target, write_complete_platforms

ROOT = Path(__file__).resolve().parents[1]


class BuildError(Exception):
    pass


def build_executable(target: Target, output: Path, project: Path = ROOT) -> Path:
    if not (project / "provider" / "_generated" / "__init__.py").exists():
        raise BuildError("generated protocol code is missing: run `make proto` first")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        platforms = write_complete_platforms(target, Path(scratch))
        argv = [sys.executable, "-m", "pex", str(project), "--output-file", str(output)]
        argv += ["--entry-point", "provider.main:main", "--no-emit-warnings"]
        argv += ["--python-shebang", "/usr/bin/env python3"]
        argv += ["--interpreter-constraint", "CPython>=3.11,<3.14"]
        # First run: unpack into a venv under ~/.pex; later runs exec straight into it.
        argv += ["--venv", "--sh-boot", "--compile"]
        for platform in platforms:
            argv += ["--complete-platform", str(platform)]
        proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"pex failed for {target.name}:\n{proc.stderr[-4000:]}")
    output.chmod(0o755)
    return output
