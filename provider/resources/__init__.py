"""The provider's resources, one module each, named after the Terraform type."""

from __future__ import annotations

from provider.framework import Resource


def all_resources() -> list[Resource]:
    from provider.resources.hostname import Hostname

    return [Hostname()]
