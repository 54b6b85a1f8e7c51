"""A null-like provider on hfern's `tf` 1.2.0 (PyPI), for `make bench`.

It mirrors the Go `null` provider's `null_resource` as closely as `tf`
allows: a `triggers` map whose change replaces the resource and a computed
`id`. Run by the interpreter of its own venv (bench/peers.py makes it)."""

from __future__ import annotations

import secrets

from tf import runner, schema, types
from tf.iface import Config, CreateContext, DeleteContext, ReadContext, State, UpdateContext
from tf.provider import Diagnostics, Provider, Resource


class NullResource(Resource):
    @classmethod
    def get_name(cls) -> str:
        return "resource"

    @classmethod
    def get_schema(cls) -> schema.Schema:
        return schema.Schema(
            attributes=[
                schema.Attribute("id", types.String(), computed=True),
                schema.Attribute(
                    "triggers", types.Map(types.String()), optional=True, requires_replace=True
                ),
            ]
        )

    def __init__(self, provider: NullProvider) -> None:
        self.provider = provider

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        return {**planned, "id": str(secrets.randbits(63))}

    def read(self, ctx: ReadContext, current: State) -> State | None:
        return current

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        return {**planned, "id": current["id"]}

    def delete(self, ctx: DeleteContext, current: State) -> None:
        return None


class NullProvider(Provider):
    def full_name(self) -> str:
        return "registry.terraform.io/bench/tfnull"

    def get_model_prefix(self) -> str:
        return "tfnull_"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        return schema.Schema(attributes=[])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        return None

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        return None

    def get_data_sources(self) -> list:
        return []

    def get_resources(self) -> list:
        return [NullResource]


def main() -> None:
    runner.run_provider(NullProvider())


if __name__ == "__main__":
    main()
