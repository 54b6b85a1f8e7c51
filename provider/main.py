"""Entry point: `terraform-provider-tarmak`, launched by Terraform."""

from __future__ import annotations

import sys

from provider.server import serve
from provider.tarmak import TarmakProvider

ADDRESS = "registry.terraform.io/jetstack/tarmak"


def main() -> None:
    sys.exit(serve(TarmakProvider(), ADDRESS))


if __name__ == "__main__":
    main()
