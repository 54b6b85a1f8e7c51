"""The Python peers `make bench` runs beside ours and the Go `null` provider.

Each peer is a null-like provider (bench/peers/*.py) on a framework from
PyPI, installed into a venv of its own under the bench cache (their
dependency pins differ from ours and from each other's: `tf` wants
protobuf<6, pyvider protobuf>=7), and published into the bench's
filesystem mirror behind a launcher, exactly as Terraform would start it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devenv.mirror import platform
from devenv.terraform_binary import script_header

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Peer:
    name: str  # the provider's local name, also its resource-type prefix
    label: str  # how the tables name it
    requirement: str  # what pip installs into its venv
    module: str  # bench/peers/<module>.py serves it
    resource: str  # its null_resource counterpart

    def venv(self, cache: Path) -> Path:
        """The peer's own interpreter, installing it on first use."""
        root = cache / "peers" / self.name
        python = root / "bin" / "python"
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", self.requirement], check=True
            )
        return python

    def publish(self, cache: Path, mirror: Path) -> Path:
        """Put a launcher for the peer into `mirror`; returns the launcher."""
        target = mirror / f"registry.terraform.io/bench/{self.name}/0.1.0" / platform()
        target.mkdir(parents=True, exist_ok=True)
        launcher = target / f"terraform-provider-{self.name}_v0.1.0"
        # Imported, not run as a script: pyvider checks that argv[0] names a
        # terraform-provider binary, as Terraform's launch gives it.
        launcher.write_text(
            script_header(str(self.venv(cache)))
            + f"import sys\nsys.path.insert(0, {str(HERE / 'peers')!r})\n"
            f"from {self.module} import main\nmain()\n"
        )
        launcher.chmod(0o755)
        return launcher


PEERS = (
    Peer("tfnull", "hfern tf 1.2.0", "tf==1.2.0", "tf_null", "tfnull_resource"),
    Peer("pyvnull", "pyvider 0.8.1", "pyvider==0.8.1", "pyvider_null", "pyvnull_resource"),
)
