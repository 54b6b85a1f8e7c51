"""Entry point: `terraform-provider-tarmak`, launched by Terraform."""

from __future__ import annotations

from provider.server.serve import serve_and_exit
from provider.tarmak import TarmakProvider

ADDRESS = "registry.terraform.io/jetstack/tarmak"


def main() -> None:
    serve_and_exit(TarmakProvider(), ADDRESS)


if __name__ == "__main__":
    main()
