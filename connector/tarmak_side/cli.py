"""`tarmak-controller`: launch tarmak-connector and answer the provider for real.

tarmak-controller --config env.yaml --exec 'docker exec -i CONTAINER tarmak-connector'
tarmak-controller --config env.yaml                               # locally

The operator's Vault key commands (docs/vault-keys.md), each safe to stop and run again:

tarmak-controller --config env.yaml generate-root  --node HOST[:PORT] --vault-ca CA.pem
tarmak-controller --config env.yaml rekey          --node ... --vault-ca ...
tarmak-controller --config env.yaml rotate-kms-key --node ... --vault-ca ...
tarmak-controller --config env.yaml replace-token  --node ... --vault-ca ...
"""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import signal
import sys
import sysconfig
import threading
from pathlib import Path
from typing import NoReturn

from connector.tarmak_side.config import ConfigError, EnvironmentConfig
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer
from connector.tarmak_side.services import TarmakServices
from connector.tarmak_side.vault.commands import add_key_commands, run_key_command

log = logging.getLogger("tarmak-controller")
EXIT_CONFIG = 2  # env.yaml or --exec unusable
EXIT_NO_COMMAND = 127  # as a shell says of a command it cannot find
EXIT_GAVE_UP = 1


def _refuse(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"tarmak-controller: {message}\n")
    sys.exit(code)


def default_connector_command() -> str:
    """`tarmak-connector` from PATH, else the one installed beside this controller
    (a venv's bin, which `make install` does not put on PATH)."""
    if found := shutil.which("tarmak-connector"):
        return found
    beside = Path(sysconfig.get_path("scripts")) / "tarmak-connector"
    return shlex.quote(str(beside)) if beside.is_file() else "tarmak-connector"


def _connector_argv(command: str) -> list[str]:
    """The connector's command line, refused at once if it cannot be run at all."""
    try:
        argv = shlex.split(command)
    except ValueError as err:
        _refuse(f"--exec {command!r}: {err}", EXIT_CONFIG)
    if not argv:
        _refuse("--exec names no command to start the connector with", EXIT_CONFIG)
    if shutil.which(argv[0]) is None:
        _refuse(
            f"cannot start the connector: {argv[0]!r} is not an executable file or a "
            "command on PATH (check --exec)",
            EXIT_NO_COMMAND,
        )
    return argv


def _load_config(path: str) -> EnvironmentConfig:
    try:
        return EnvironmentConfig.load(path)
    except ConfigError as err:
        _refuse(str(err), EXIT_CONFIG)


def _configure_logging(verbose: bool) -> None:
    """One line per event at INFO on stderr; -v adds our DEBUG lines, never the
    libraries' (their debug output is noise and may carry request details)."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="tarmak-controller: %(message)s"
    )
    for name in ("paramiko", "urllib3", "hvac"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if verbose:
        logging.getLogger("connector").setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="tarmak-controller",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="the environment's env.yaml")
    parser.add_argument(
        "--exec",
        dest="command",
        default=None,
        help="how to start the connector (default: tarmak-connector from PATH, else the one "
        "installed beside tarmak-controller)",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    add_key_commands(parser.add_subparsers(dest="operation", metavar="COMMAND"))
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if args.operation:  # a key command: Ctrl-C stops it (each is safe to run again)
        sys.exit(run_key_command(_load_config(args.config), args))
    # From here on SIGTERM and Ctrl-C end us through the cleanup below, never a traceback.
    stop = threading.Event()
    stopped_by: list[int] = []
    gave_up: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        stop.set()

    def on_give_up(message: str) -> None:
        gave_up.append(message)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    config = _load_config(args.config)
    connector = _connector_argv(args.command or default_connector_command())
    log.info("started: config %s, connector command: %s", config.source, shlex.join(connector))
    services = TarmakServices(config)
    controller = ConnectorController(
        connector, RequestServer(services.handlers()), on_give_up=on_give_up
    ).start()
    try:
        stop.wait()
    finally:
        # Stops the connector with SIGTERM: it removes its socket and directory.
        controller.stop()
        services.close()
    if gave_up:
        _refuse(gave_up[0], EXIT_GAVE_UP)
    name = signal.Signals(stopped_by[0]).name if stopped_by else "request"
    log.warning("stopped by %s", name)
    sys.exit(128 + stopped_by[0] if stopped_by else 0)


if __name__ == "__main__":
    main()
