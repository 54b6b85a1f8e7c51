"""Entry point: `terraform-provider-tarmak`, launched by Terraform.

Terraform starts the provider several times per plan or apply, so the imports
below are on every start's critical path. They allocate a great many
long-lived objects (modules, classes, the generated protobuf descriptors), and
the cyclic garbage collector would walk them again and again while they are
being made, freeing nothing. So collection is off while importing, and the
survivors are then frozen (moved out of the collector's generations) before
it is turned back on, once the server has started (provider.server.serve).

`terraform-provider-tarmak connector [--socket PATH]` runs tarmak-connector
from the same package, so a container that holds only Terraform and the
installed provider can still be reached: Tarmak runs
`docker exec -i CONTAINER <plugin directory>/terraform-provider-tarmak_v<VERSION> connector`.
"""

from __future__ import annotations

import gc
import sys

gc.disable()

from provider.server.serve import serve_and_exit  # noqa: E402
from provider.tarmak import ENTRY  # noqa: E402

ADDRESS = "registry.terraform.io/jetstack/tarmak"


def main() -> None:
    if sys.argv[1:2] == ["connector"]:
        from connector.relay_cli import main as connector_main

        gc.enable()  # a long-running relay, not a provider start
        connector_main(sys.argv[2:])
        return
    # The provider is imported by the first RPC that needs more than the schema,
    # which is answered from a snapshot (provider/server/schema_snapshot.py).
    serve_and_exit(ENTRY, ADDRESS)


if __name__ == "__main__":
    main()
