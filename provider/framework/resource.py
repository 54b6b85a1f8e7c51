"""The API a resource author implements, one Request/Response pair per operation.

A resource declares `type_name` and `schema` and implements create, read,
update and delete. Optional features are extra methods the runner looks for:
`import_state` (terraform import), `validate_config`, `modify_plan`,
`upgrade_state` (older schema versions) and `configure` (receives whatever
the provider's configure step produced, e.g. an API client).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.schema import Schema

State = dict[str, Any]


@dataclass(frozen=True)
class CreateRequest:
    plan: State
    config: State
    context: Context


@dataclass
class CreateResponse:
    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    private: bytes = b""


@dataclass(frozen=True)
class ReadRequest:
    state: State
    context: Context
    private: bytes = b""


@dataclass
class ReadResponse:
    """Leave `state` as None to tell Terraform the object no longer exists."""

    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    private: bytes = b""


@dataclass(frozen=True)
class UpdateRequest:
    plan: State
    prior_state: State
    config: State
    context: Context
    private: bytes = b""


@dataclass
class UpdateResponse:
    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    private: bytes = b""


@dataclass(frozen=True)
class DeleteRequest:
    state: State
    context: Context
    private: bytes = b""


@dataclass
class DeleteResponse:
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class ImportRequest:
    id: str
    context: Context


@dataclass
class ImportResponse:
    """A partial state: Terraform calls read on it next to fill the rest in."""

    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class ValidateRequest:
    config: State  # may hold UNKNOWN values


@dataclass
class ValidateResponse:
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class ModifyPlanRequest:
    plan: State | None
    prior_state: State | None
    config: State | None


@dataclass
class ModifyPlanResponse:
    plan: State | None
    requires_replace: list[str] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class Resource:
    """Base class for managed resources. Subclasses set the class attributes."""

    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def configure(self, provider_data: Any) -> None:
        """Receive what the provider's configure step produced."""

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        raise NotImplementedError

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        raise NotImplementedError

    def update(self, req: UpdateRequest, resp: UpdateResponse) -> None:
        """By default an update only records the new plan (e.g. changed timeouts)."""
        resp.state = dict(req.plan)

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        raise NotImplementedError


@runtime_checkable
class ResourceWithImport(Protocol):
    def import_state(self, req: ImportRequest, resp: ImportResponse) -> None: ...


@runtime_checkable
class ResourceWithValidate(Protocol):
    def validate_config(self, req: ValidateRequest, resp: ValidateResponse) -> None: ...


@runtime_checkable
class ResourceWithModifyPlan(Protocol):
    def modify_plan(self, req: ModifyPlanRequest, resp: ModifyPlanResponse) -> None: ...


@runtime_checkable
class ResourceWithUpgradeState(Protocol):
    def upgrade_state(self, version: int, raw: dict[str, Any]) -> State: ...


@dataclass(frozen=True)
class DataSourceReadRequest:
    config: State
    context: Context


@dataclass
class DataSourceReadResponse:
    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class DataSource:
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def configure(self, provider_data: Any) -> None:
        """Receive what the provider's configure step produced."""

    def read(self, req: DataSourceReadRequest, resp: DataSourceReadResponse) -> None:
        raise NotImplementedError
