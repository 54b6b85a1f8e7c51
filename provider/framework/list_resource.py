"""List resources (Terraform 1.14+, `terraform query`): find existing objects
of a managed resource type, so they can be imported.

A list resource shares its type name with the managed resource whose objects
it finds. `list` yields one result per object: its identity, a display name
and, when Terraform asks for it, the full resource object (which
`terraform query -generate-config-out` turns into configuration).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.resource import State
from provider.framework.schema import Schema
from provider.prebuilt_dataclasses import dataclass, field


@dataclass(frozen=True)
class ListRequest:
    """The `config { ... }` of a `list` block; `limit` is Terraform's cap."""

    config: State
    include_resource: bool
    limit: int
    context: Context


@dataclass
class ListResult:
    """One object found. `resource` is its state in the managed resource's
    schema; `diagnostics` report a problem with this object alone."""

    identity: State | None = None
    display_name: str = ""
    resource: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class ListResource:
    """Base class for list resources. Subclasses set the class attributes."""

    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def configure(self, provider_data: Any) -> None:
        """Receive what the provider's configure step produced."""

    def list(self, req: ListRequest) -> Iterator[ListResult]:
        raise NotImplementedError
