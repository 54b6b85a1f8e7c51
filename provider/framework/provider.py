"""The API a provider author implements: its own schema, configure, and the
resources, data sources, ephemeral resources, list resources, functions and
actions it offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from provider.framework.diagnostics import Diagnostics
from provider.framework.resource import DataSource, Resource, State
from provider.framework.schema import Block, Schema
from provider.prebuilt_dataclasses import dataclass, field

if TYPE_CHECKING:  # a provider that offers none of these kinds never imports them
    from provider.framework.action import Action
    from provider.framework.ephemeral import EphemeralResource
    from provider.framework.function import Function
    from provider.framework.list_resource import ListResource


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

    def ephemeral_resources(self) -> Sequence[EphemeralResource]:
        return ()

    def list_resources(self) -> Sequence[ListResource]:
        return ()

    def functions(self) -> Sequence[Function]:
        return ()

    def actions(self) -> Sequence[Action]:
        return ()
