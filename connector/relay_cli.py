"""`tarmak-connector`: run inside the Terraform container by Tarmak
(`docker exec -i CONTAINER tarmak-connector`). Logs go to stderr only."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from connector.socket_path import DEFAULT_SOCKET, SOCKET_ENV


def main(argv: list[str] | None = None) -> None:
    from connector.relay import run

    parser = argparse.ArgumentParser(prog="tarmak-connector", description=__doc__)
    parser.add_argument(
        "--socket",
        default=os.environ.get(SOCKET_ENV, DEFAULT_SOCKET),
        help=f"Unix socket the provider connects to (env {SOCKET_ENV}, default {DEFAULT_SOCKET})",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="tarmak-connector: %(message)s",
    )
    try:
        code = asyncio.run(run(args.socket))
    except KeyboardInterrupt:  # Ctrl-C before the relay took over the signal
        code = 128 + signal.SIGINT
    sys.exit(code)


if __name__ == "__main__":
    main()
