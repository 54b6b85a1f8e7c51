"""Entry point: `terraform-provider-tarmak`, launched by Terraform.

Terraform starts the provider 3-4 times per plan or apply, so the imports
below are on every start's critical path. They allocate tens of thousands of
long-lived objects (modules, classes, the generated protobuf descriptors), and
the cyclic garbage collector would walk them again and again while they are
being made, freeing nothing. So collection is off while importing, and the
survivors are then frozen (moved out of the collector's generations) before
it is turned back on, once the server has started (provider.server.serve)."""

from __future__ import annotations

import gc

gc.disable()

from provider.server.serve import serve_and_exit  # noqa: E402
from provider.tarmak import TarmakProvider  # noqa: E402

ADDRESS = "registry.terraform.io/jetstack/tarmak"


def main() -> None:
    serve_and_exit(TarmakProvider(), ADDRESS)


if __name__ == "__main__":
    main()
