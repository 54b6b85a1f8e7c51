"""`tarmak-controller`: launch tarmak-connector and answer the provider for real.

tarmak-controller --config env.yaml --exec 'docker exec -i CONTAINER tarmak-connector'
tarmak-controller --config env.yaml --exec tarmak-connector        # locally
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

import yaml

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer
from connector.tarmak_side.services import TarmakServices


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tarmak-controller", description=__doc__)
    parser.add_argument("--config", required=True, help="the environment's env.yaml")
    parser.add_argument(
        "--exec", dest="command", default="tarmak-connector", help="how to start the connector"
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="tarmak-controller: %(message)s",
    )
    # From here on SIGTERM and Ctrl-C end us through the cleanup below, never a traceback.
    stop = threading.Event()
    stopped_by: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        config = EnvironmentConfig.load(args.config)
    except (OSError, ValueError, TypeError, yaml.YAMLError) as err:
        sys.stderr.write(f"tarmak-controller: cannot read {args.config}: {err}\n")
        sys.exit(2)
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
