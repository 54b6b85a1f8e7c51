"""`tarmak-controller`: launch tarmak-connector and answer the provider for real.

tarmak-controller --config env.yaml --exec 'docker exec -i CONTAINER tarmak-connector'
tarmak-controller --config env.yaml --exec tarmak-connector        # locally

The operator's Vault key commands (docs/vault-keys.md), each safe to stop and run again:

tarmak-controller --config env.yaml generate-root  --node HOST[:PORT] --vault-ca CA.pem
tarmak-controller --config env.yaml rekey          --node ... --vault-ca ...
tarmak-controller --config env.yaml rotate-kms-key --node ... --vault-ca ...
tarmak-controller --config env.yaml replace-token  --node ... --vault-ca ...
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import yaml

from connector.tarmak_side.config import ConfigError, EnvironmentConfig
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer
from connector.tarmak_side.services import TarmakServices
from connector.tarmak_side.vault.commands import add_key_commands, run_key_command


def load_config(path: str) -> EnvironmentConfig:
    try:
        return EnvironmentConfig.load(path)
    except (OSError, ValueError, TypeError, yaml.YAMLError, ConfigError) as err:
        sys.stderr.write(f"tarmak-controller: cannot read {path}: {err}\n")
        sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="tarmak-controller",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, help="the environment's env.yaml")
    parser.add_argument(
        "--exec", dest="command", default="tarmak-connector", help="how to start the connector"
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    add_key_commands(parser.add_subparsers(dest="operation", metavar="COMMAND"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="tarmak-controller: %(message)s",
    )
    if args.operation:  # a key command: Ctrl-C stops it (each is safe to run again)
        sys.exit(run_key_command(load_config(args.config), args))
    # From here on SIGTERM and Ctrl-C end us through the cleanup below, never a traceback.
    stop = threading.Event()
    stopped_by: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    config = load_config(args.config)
    services = TarmakServices(config)
    controller = ConnectorController(args.command, RequestServer(services.handlers())).start()
    try:
        stop.wait()
    finally:
        # Stops the connector with SIGTERM: it removes its socket and directory.
        controller.stop()
        services.close()
    name = signal.Signals(stopped_by[0]).name if stopped_by else "request"
    logging.getLogger("tarmak-controller").warning("stopped by %s", name)
    sys.exit(128 + stopped_by[0] if stopped_by else 0)


if __name__ == "__main__":
    main()
