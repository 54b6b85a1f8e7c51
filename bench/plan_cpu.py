"""Where the CPU of a `terraform plan` (or apply) goes: Terraform's own, and its
providers'.

bench/percall.py measures a provider against a client that sends one kind of
request at a time; Terraform paces its calls differently (a read, then a plan,
per resource, ten resources at once). Here every side runs under Terraform
itself. Each provider launcher is wrapped in a small reaper that starts the
provider as its child and notes the CPU time the provider used (`os.wait4`);
Terraform's own CPU is what all of the run's children used
(`getrusage(RUSAGE_CHILDREN)`: Terraform reaps the reapers) less the
providers' and the reapers' own.

Sides: ours (the core serving the test provider's `testing_null`, whose
operations are coroutines), ours with plain `def` operations
(`testing_null_plain`, each handed to a worker thread and back), the floor
(bench/bare_null_plugin.py on grpc's threaded server), the floor on grpc.aio,
the Go null provider, and NAME=PATH arguments: the test provider of another
checkout, for an A/B of a change (a copy of the tree with its
`provider/_generated` and compiled bytecode). Rounds are interleaved, each in
an order of its own, as bench/run.py's are.

PLAN_CPU_COUNT (1000 resources), PLAN_CPU_ROUNDS (5), PLAN_CPU_KIND (plan: of
the state an apply left; or apply: a fresh one) and PLAN_CPU_SIDES (every
side) set the run.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402
from devenv.mirror import PROVIDERS, platform, write_launcher  # noqa: E402
from devenv.processes import children_cpu_seconds  # noqa: E402

COUNT = int(os.environ.get("PLAN_CPU_COUNT", "1000"))
ROUNDS = int(os.environ.get("PLAN_CPU_ROUNDS", "5"))
KIND = os.environ.get("PLAN_CPU_KIND", "plan")
SIDES = os.environ.get("PLAN_CPU_SIDES", "ours,ours-plain,bare,bare-aio,go-null").split(",")

REAPER = """#!{python} -IS
import os, resource, sys
child = os.fork()
if child == 0:
    os.execv({real!r}, [{real!r}, *sys.argv[1:]])
_, status, used = os.wait4(child, 0)
mine = resource.getrusage(resource.RUSAGE_SELF)
with open({log!r}, "a") as log:
    log.write(f"{{used.ru_utime + used.ru_stime}} {{mine.ru_utime + mine.ru_stime}}\\n")
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 1)
"""


def publish_checkout(mirror: Path, name: str, checkout: str) -> None:
    """The test provider of `checkout`, at registry.terraform.io/test/<name>."""
    target = mirror / f"registry.terraform.io/test/{name}/0.0.1" / platform()
    target.mkdir(parents=True)
    # Launched as ours is (devenv/mirror.py), from that checkout's code.
    serves = PROVIDERS["testing"][2]
    write_launcher(target / f"terraform-provider-{name}_v0.0.1", serves, Path(checkout))
    run.SOURCES[name] = (f"test/{name}", "testing", "testing_null")


def wrap_launchers(mirror: Path, log: Path) -> None:
    """Put a reaper in front of every provider in the mirror (before `init`,
    which records the launchers' checksums)."""
    for launcher in list(mirror.rglob("terraform-provider-*")):
        real = launcher.with_name(launcher.name + ".real")
        launcher.rename(real)
        launcher.write_text(REAPER.format(python=sys.executable, real=str(real), log=str(log)))
        launcher.chmod(0o755)


def main() -> None:
    checkouts = dict(argument.split("=", 1) for argument in sys.argv[1:])
    sides = [*SIDES, *checkouts]
    base = Path(tempfile.mkdtemp(prefix="plan-cpu-"))
    try:
        mirror = base / "mirror"
        cli_config = run.resource_mirror(mirror)
        for name, checkout in checkouts.items():
            publish_checkout(mirror, name, checkout)
        log = base / "providers.log"
        wrap_launchers(mirror, log)
        env = run.terraform_env(cli_config)
        dirs = run.init_dirs(base, env, {n: run.hundred(*run.SOURCES[n], COUNT) for n in sides})
        args = ("plan",) if KIND == "plan" else ("apply", "-auto-approve")
        if KIND == "plan":
            for workdir in dirs.values():
                run.timed_run(workdir, env, "apply", "-auto-approve", fresh=True)
        samples: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in sides}
        for turn in range(ROUNDS):
            for name in random.Random(turn).sample(sides, len(sides)):
                log.write_text("")
                before = children_cpu_seconds()
                wall = run.timed_run(dirs[name], env, *args, fresh=KIND != "plan")
                everything = children_cpu_seconds() - before
                noted = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
                providers = sum(used for used, _ in noted)
                reapers = sum(own for _, own in noted)
                terraform = everything - providers - reapers
                samples[name].append((wall, everything - reapers, providers, terraform))
        print(
            f"{KIND} of {COUNT}, medians of {ROUNDS} interleaved rounds, ms; "
            f"load {os.getloadavg()[0]:.2f}\n"
        )
        print("| side | wall | CPU, all | the providers' CPU | Terraform's CPU |")
        print("|---|---:|---:|---:|---:|")
        for name, values in samples.items():
            cells = [f"{statistics.median(v[i] for v in values) * 1000:.0f}" for i in range(4)]
            print(f"| {run.LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
