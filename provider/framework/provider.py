"""The API a provider author implements: its own schema, configure, and the
resources and data sources it offers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from provider.framework.diagnostics import Diagnostics
from provider.framework.resource import DataSource, Resource, State
from provider.framework.schema import Block, Schema


@dataclass(frozen=True)
class ConfigureRequest:
    config: State  # may hold UNKNOWN values when they depend on other resources
    terraform_version: str


@dataclass
class ConfigureResponse:
    # Handed to every resource's and data source's `configure`.
    provider_data: Any = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class Provider:
    type_name: ClassVar[str]
    schema: ClassVar[Schema] = Schema(Block())

    def configure(self, req: ConfigureRequest, resp: ConfigureResponse) -> None:
        """Build clients from the provider block; the default needs none."""

    def resources(self) -> Sequence[Resource]:
        return ()

    def data_sources(self) -> Sequence[DataSource]:
        return ()
