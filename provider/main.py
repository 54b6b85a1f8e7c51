"""Entry point: `terraform-provider-tarmak`, launched by Terraform."""

from __future__ import annotations

import os
import sys

ADDRESS = "registry.terraform.io/jetstack/tarmak"


def main() -> None:
    # Start the TLS certificate first: a forked helper makes it while we import grpc.
    certificate = None
    if os.environ.get("PLUGIN_CLIENT_CERT") and "--debug" not in sys.argv[1:]:
        from provider.server.tls import start_certificate

        certificate = start_certificate()

    from provider.server import serve
    from provider.tarmak import TarmakProvider

    sys.exit(serve(TarmakProvider(), ADDRESS, certificate=certificate))


if __name__ == "__main__":
    main()
