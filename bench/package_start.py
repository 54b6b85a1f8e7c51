"""`make bench`: the installed self-contained package starts no slower than the dev install.

Exec -> go-plugin handshake line, with Terraform's environment (magic cookie,
PLUGIN_PROTOCOL_VERSIONS, PLUGIN_CLIENT_CERT), medians of RUNS interleaved
runs (default 20). The package is installed by a real `terraform init` from a
packed filesystem mirror (Terraform unzips it exactly as from a registry), and
its very first start after that is one of the samples, and reported alone.
The dev install is what `make install` gives: devenv/mirror.py's launcher on
the venv's Python. Also reports each zip's size against the 40 MB budget.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devenv.mirror import build_mirror, platform  # noqa: E402
from devenv.plugin_sockets import plugin_sockets  # noqa: E402
from devenv.tarmak_container import native_target  # noqa: E402
from devenv.terraform_binary import bundled_terraform  # noqa: E402
from provider import __version__  # noqa: E402
from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE  # noqa: E402
from provider.server.tls import generate_certificate  # noqa: E402
from registry_tools.build import cached_package  # noqa: E402

RUNS = int(os.environ.get("BENCH_PACKAGE_RUNS", "20"))
ZIP_BUDGET_MB = 40


def handshake_seconds(executable: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen([executable], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    took = time.perf_counter() - started
    proc.kill()
    _, stderr = proc.communicate()
    if not line.startswith(b"1|"):
        raise RuntimeError(f"{executable} did not hand shake: {line!r} {stderr[-500:]!r}")
    return took


def install_with_terraform(package: Path, base: Path) -> str:
    """`terraform init` from a packed mirror holding the zip; returns the installed executable."""
    mirror = base / "mirror" / "registry.terraform.io" / "jetstack" / "tarmak"
    mirror.mkdir(parents=True)
    (mirror / package.name).symlink_to(package)
    config = base / "terraformrc"
    config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{base / "mirror"}"\n'
        "  }\n}\n"
    )
    work = base / "work"
    work.mkdir()
    (work / "main.tf").write_text(
        'terraform {\n  required_providers {\n    tarmak = { source = "jetstack/tarmak" }\n  }\n}\n'
    )
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"}
    subprocess.run(
        [bundled_terraform(), "init", "-input=false"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    installed = work / ".terraform/providers/registry.terraform.io/jetstack/tarmak"
    return str(installed / __version__ / platform() / f"terraform-provider-tarmak_v{__version__}")


def main() -> int:
    started = time.monotonic()
    package = cached_package(native_target(), __version__)
    print(f"package {package.name}: {package.stat().st_size / 1e6:.1f} MB", end="")
    print(f" (budget {ZIP_BUDGET_MB} MB; built or reused in {time.monotonic() - started:.1f}s)")
    env = {
        **os.environ,
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        "PLUGIN_CLIENT_CERT": generate_certificate().cert_pem.decode(),
    }
    with tempfile.TemporaryDirectory(prefix="tarmak-bench-package-") as scratch:
        base = Path(scratch)
        packaged = install_with_terraform(package, base)
        dev_mirror = build_mirror(base / "dev", ("tarmak",))
        dev = str(
            next(
                dev_mirror.parent.glob(
                    f"registry.terraform.io/jetstack/tarmak/*/{platform()}/terraform-provider-*"
                )
            )
        )
        samples: dict[str, list[float]] = {"packaged": [], "dev install": []}
        for _ in range(RUNS):  # packaged first: its very first start is the first sample
            samples["packaged"].append(handshake_seconds(packaged, env))
            samples["dev install"].append(handshake_seconds(dev, env))
    first = samples["packaged"][0]
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"handshake, median of {RUNS} interleaved starts (first start included):")
    for name, value in medians.items():
        print(f"  {name:<12} {value * 1000:7.1f} ms")
    print(f"  packaged first start after terraform init: {first * 1000:.1f} ms")
    ratio = medians["packaged"] / medians["dev install"]
    print(f"  packaged / dev install = {ratio:.2f}x (target: at most 1.00x)")
    return 0


if __name__ == "__main__":
    with plugin_sockets():
        status = main()
    sys.exit(status)
