"""The Tarmak provider: its settings and the resources it offers."""

from __future__ import annotations

from provider.framework import Provider, Resource


class TarmakProvider(Provider):
    type_name = "tarmak"

    def resources(self) -> list[Resource]:
        return []
