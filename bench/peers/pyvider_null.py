"""A null-like provider on pyvider 0.8.1 (PyPI), for `make bench`.

The same shape as the Go `null` provider's `null_resource`: a `triggers`
map and a computed `id`. An installed pyvider component package is found
through the `pyvider` entry-point group and registered by its
`register_components(hub)`; this module calls that itself (it is not
installed), then hands over to pyvider's own CLI (`provide`), which is what
a packaged pyvider provider runs."""

from __future__ import annotations

import os
import secrets
import sys

import attrs
from pyvider.providers import BaseProvider, ProviderMetadata, register_provider
from pyvider.resources import BaseResource, register_resource
from pyvider.schema import a_map, a_str, s_resource


@attrs.define
class NullConfig:
    triggers: dict[str, str] | None = None


@attrs.define
class NullState:
    id: str | None = None
    triggers: dict[str, str] | None = None


@register_provider("pyvnull")
@attrs.define
class NullProvider(BaseProvider):
    metadata: ProviderMetadata = attrs.field(
        factory=lambda: ProviderMetadata(name="pyvnull", version="0.1.0")
    )


@register_resource("pyvnull_resource")
class NullResource(BaseResource):
    config_class = NullConfig
    state_class = NullState

    @classmethod
    def get_schema(cls):
        return s_resource(
            {
                "id": a_str(computed=True),
                "triggers": a_map(a_str(), optional=True),
            }
        )

    async def _validate_config(self, config) -> list[str]:
        return []

    async def _create_apply(self, ctx):
        return NullState(id=str(secrets.randbits(63)), triggers=ctx.planned_state.triggers), None

    async def read(self, ctx):
        return ctx.state

    async def _delete_apply(self, ctx) -> None:
        return None


def register_components(hub) -> None:
    """pyvider's fast path for a component package (what its discovery calls)."""
    hub.register("resource", "pyvnull_resource", NullResource)


def main() -> None:
    from pyvider.cli.__main__ import main as pyvider_main
    from pyvider.hub import hub

    register_components(hub)

    os.environ.setdefault("PYVIDER_PROVIDER_NAME", "pyvnull")
    os.environ.setdefault("PYVIDER_LOG_LEVEL", "WARNING")
    sys.argv = [sys.argv[0], "provide"]
    pyvider_main()


if __name__ == "__main__":
    main()
