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

from connector.tarmak_side.config import ConfigError, EnvironmentConfig
from connector.tarmak_side.controller import ConnectorController
from connector.tarmak_side.server import RequestServer
from connector.tarmak_side.services import TarmakServices


def main(argv: list[str] | None = None) -> int:
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
    try:
        config = EnvironmentConfig.load(args.config)
    except OSError as err:
        sys.stderr.write(f"tarmak-controller: cannot read {args.config}: {err.strerror}\n")
        return 2
    except (ConfigError, TypeError, ValueError) as err:
        sys.stderr.write(f"tarmak-controller: bad config {args.config}: {err}\n")
        return 2
    services = TarmakServices(config)
    controller = ConnectorController(args.command, RequestServer(services.handlers())).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
