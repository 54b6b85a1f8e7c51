"""`python -m devenv up|down|env`: the local environment for people and the demo.

`up` starts everything in the background and prints the variables to export;
`env` prints them again; `down` stops every process `up` started.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from devenv.environment import LocalEnvironment
from devenv.processes import stop_pid

DEFAULT_DIR = Path(os.environ.get("TARMAK_DEVENV_DIR", "/tmp/tarmak-devenv"))


def _exports(env: dict[str, str]) -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())


def _state(directory: Path) -> dict | None:  # type: ignore[type-arg]
    path = directory / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def down(directory: Path) -> None:
    state = _state(directory)
    for pid in (state or {}).get("pids", []):
        stop_pid(pid)
    shutil.rmtree(directory, ignore_errors=True)


def up(directory: Path) -> None:
    down(directory)  # never trip over a previous run's leftovers
    started = time.monotonic()
    env = LocalEnvironment.start(directory, wing_in_process=False)
    env.save()
    sys.stderr.write(f"local environment up in {time.monotonic() - started:.1f}s ({directory})\n")
    sys.stdout.write(_exports(env.env()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devenv", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "env"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.dir)
    elif args.command == "down":
        down(args.dir)
    else:
        state = _state(args.dir)
        if state is None:
            sys.stderr.write("the local environment is not up: run `python -m devenv up`\n")
            return 1
        sys.stdout.write(_exports(state["env"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
