"""The API a resource author implements, one Request/Response pair per operation.

A resource declares `type_name` and `schema` and implements create, read,
update and delete. Optional features are extra methods the runner looks for:
`import_state` (terraform import), `validate_config`, `modify_plan`,
`upgrade_state` (older schema versions) and `configure` (receives whatever
the provider's configure step produced, e.g. an API client).

Create, read, update and delete may be written as `async def` when they wait
for something outside (awaiting `req.context.wait`, `req.context.until` or
an async client): they then hold no thread while they wait. Written as plain
`def`, they run on a worker thread, which suits quick work. validate_config,
modify_plan and upgrade_state must only compute: docs/threads.md says why.

A resource's optional features are the `ResourceWith*` protocols below. The
runner finds them at run time; the type checker confirms a claim when the
resource's module states it, as Go's `var _ resource.ResourceWithX = ...`
lines do:

    if TYPE_CHECKING:
        _imports: type[ResourceWithImport] = Hostname
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar, Protocol, TypeGuard, TypeVar, runtime_checkable

from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.schema import Schema
from provider.prebuilt_dataclasses import dataclass, field

State = dict[str, Any]
Feature = TypeVar("Feature")
# What create/read/update/delete return: nothing, or (written `async def`) an awaitable.
MaybeAwaitable = Awaitable[None] | None


@dataclass(frozen=True)
class CreateRequest:
    """The planned state (computed attributes still UNKNOWN, for create to fill
    in), the configuration as written, and the deadline and cancellation."""

    plan: State
    config: State
    context: Context


@dataclass
class CreateResponse:
    """Set `state` to the created object, every value known. `private` is opaque
    bytes Terraform keeps beside the state and hands back on later calls."""

    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    private: bytes = b""


@dataclass(frozen=True)
class ReadRequest:
    """The state Terraform holds, to refresh against the real object."""

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
    """The planned state to reach in place from `prior_state` (changes to
    force-new attributes replace the object instead)."""

    plan: State
    prior_state: State
    config: State
    context: Context
    private: bytes = b""


@dataclass
class UpdateResponse:
    """Set `state` to the updated object, every value known. Left unset with an
    error, the prior state is kept."""

    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    private: bytes = b""


@dataclass(frozen=True)
class DeleteRequest:
    """The state of the object to delete."""

    state: State
    context: Context
    private: bytes = b""


@dataclass
class DeleteResponse:
    """Report an error to keep the object in Terraform's state."""

    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class ImportRequest:
    """The id the user gave `terraform import`."""

    id: str
    context: Context


@dataclass
class ImportResponse:
    """A partial state: Terraform calls read on it next to fill the rest in."""

    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class ValidateRequest:
    """The configuration as written; values not yet known are UNKNOWN."""

    config: State  # may hold UNKNOWN values


@dataclass
class ValidateResponse:
    """Errors here stop Terraform before it plans; give them attribute paths."""

    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class ModifyPlanRequest:
    """The plan the framework made from the schema, with what it was made from.
    `plan` is None when the object is being destroyed, `prior_state` when created."""

    plan: State | None
    prior_state: State | None
    config: State | None


@dataclass
class ModifyPlanResponse:
    """Change `plan` (e.g. fill in values known before apply) and list the
    attributes whose change needs a replacement."""

    plan: State | None
    requires_replace: list[str] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class Resource:
    """Base class for managed resources. Subclasses set the class attributes."""

    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def configure(self, provider_data: Any) -> None:
        """Receive what the provider's configure step produced."""

    def create(self, req: CreateRequest, resp: CreateResponse) -> MaybeAwaitable:
        raise NotImplementedError

    def read(self, req: ReadRequest, resp: ReadResponse) -> MaybeAwaitable:
        raise NotImplementedError

    def update(self, req: UpdateRequest, resp: UpdateResponse) -> MaybeAwaitable:
        """By default an update only records the new plan (e.g. changed timeouts)."""
        resp.state = dict(req.plan)
        return None

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> MaybeAwaitable:
        raise NotImplementedError


def implements(resource: object, extension: type[Feature]) -> TypeGuard[Feature]:
    """isinstance(resource, extension) for the optional-feature protocols, asked
    once per class: a check against a runtime-checkable Protocol walks all of
    the protocol's members, which made it a large share of a plan call's time
    when the runner asked it on every call. Features are methods and class
    attributes, so every instance of a class answers alike."""
    key = (type(resource), extension)
    known = _IMPLEMENTS.get(key)
    if known is None:
        known = _IMPLEMENTS[key] = isinstance(resource, extension)
    return known


_IMPLEMENTS: dict[tuple[type, type], bool] = {}


@runtime_checkable
class ResourceWithImport(Protocol):
    def import_state(self, req: ImportRequest, resp: ImportResponse) -> None: ...


# validate_config, modify_plan and upgrade_state run on the server's event loop,
# beside every waiting operation: they must only compute (docs/threads.md).


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
    """The configuration as written, all known (reads wait for unknowns)."""

    config: State
    context: Context


@dataclass
class DataSourceReadResponse:
    """Set `state` to the configuration with the computed attributes filled in."""

    state: State | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class DataSource:
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def configure(self, provider_data: Any) -> None:
        """Receive what the provider's configure step produced."""

    def read(self, req: DataSourceReadRequest, resp: DataSourceReadResponse) -> None:
        raise NotImplementedError
