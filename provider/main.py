"""Entry point: `terraform-provider-tarmak`, launched by Terraform.

`terraform-provider-tarmak connector [--socket PATH]` runs tarmak-connector
from the same package, so a container that holds only Terraform and the
installed provider can still be reached: Tarmak runs
`docker exec -i CONTAINER <plugin directory>/terraform-provider-tarmak_v<VERSION> connector`.
"""

from __future__ import annotations

import sys

ADDRESS = "registry.terraform.io/jetstack/tarmak"


def main() -> None:
    if sys.argv[1:2] == ["connector"]:
        from connector.relay_cli import main as connector_main

        connector_main(sys.argv[2:])
        return
    from provider.server.serve import serve_and_exit
    from provider.tarmak import TarmakProvider

    serve_and_exit(TarmakProvider(), ADDRESS)


if __name__ == "__main__":
    main()
