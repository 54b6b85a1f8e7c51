"""Install providers the way users do: `terraform init` from a filesystem
mirror (CLI config `provider_installation`), in the unpacked layout, where
each provider is a small launcher running this checkout's Python code."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from devenv.terraform_binary import script_header
from registry_tools.arch import TERRAFORM_ARCHES

ROOT = Path(__file__).resolve().parents[1]

# name -> (registry address, version, the launcher's code that serves it). The
# testing provider is named by its entry, not imported, so that a start that
# only reports the schema answers from the snapshot `make` wrote
# (provider/server/schema_snapshot.py), as provider/main.py does for ours.
PROVIDERS = {
    "testing": (
        "registry.terraform.io/test/testing",
        "0.0.1",
        "from provider.server.serve import serve_and_exit\n"
        "serve_and_exit('tests.e2e.testing_provider:TestingProvider',"
        " 'registry.terraform.io/test/testing')\n",
    ),
    "tarmak": (
        "registry.terraform.io/jetstack/tarmak",
        "0.1.0",
        "from provider.main import main\nmain()\n",
    ),
}


def platform() -> str:
    machine = os.uname().machine
    arch = TERRAFORM_ARCHES.get(machine, machine)
    return f"{sys.platform}_{arch}"


def write_launcher(path: Path, serves: str, root: Path = ROOT) -> None:
    """A launcher at `path` that runs `serves` with the code of the checkout at
    `root` (this one unless told) first on the path."""
    # The collector stays off while the provider imports; serve() turns it
    # back on once the server has started (see provider/main.py for why).
    path.write_text(
        script_header(sys.executable) + "import gc\ngc.disable()\nimport sys\n"
        f"sys.path.insert(0, {str(root)!r})\n{serves}"
    )
    path.chmod(0o755)


def build_mirror(directory: Path, names: tuple[str, ...] = tuple(PROVIDERS)) -> Path:
    """Write the mirror and a CLI config using it; returns the CLI config's path."""
    for name in names:
        address, version, serves = PROVIDERS[name]
        target = directory / address / version / platform()
        target.mkdir(parents=True, exist_ok=True)
        write_launcher(target / f"terraform-provider-{name}_v{version}", serves)
    cli_config = directory / "terraformrc"
    cli_config.write_text(
        textwrap.dedent(
            f"""\
            provider_installation {{
              filesystem_mirror {{
                path = "{directory}"
              }}
            }}
            """
        )
    )
    return cli_config
