"""Actions (Terraform 1.14+): imperative steps an operator asks for by name,
outside the declarative create/read/update/delete of resources.

An `action "<type>" "<label>" { config { ... } }` block declares one; Terraform
runs it with `terraform apply -invoke=action.<type>.<label>` (or from a
resource's `lifecycle { action_trigger { ... } }`). It changes no state:
Terraform validates its configuration, plans it (the provider may check more
there, but must change nothing), and invokes it during apply.

An author declares `type_name` and `schema` and writes `invoke` as an
`async def` generator: each `yield` is a progress message Terraform shows as
it arrives, and the problems found go to `resp.diagnostics`, which Terraform
shows when the action completes. Like a resource's create, invoke runs on the
event loop and waits with `req.context` (docs/threads.md); an exception in it
becomes an error diagnostic. `validate_config` and `plan` are optional and,
like a resource's, must only compute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, Protocol, runtime_checkable

from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.resource import State
from provider.framework.schema import Schema
from provider.prebuilt_dataclasses import dataclass, field


@dataclass(frozen=True)
class ValidateActionRequest:
    """The `config` block as written; values not yet known are UNKNOWN."""

    config: State


@dataclass
class ValidateActionResponse:
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class PlanActionRequest:
    """The `config` block at plan time (values may still be UNKNOWN)."""

    config: State


@dataclass
class PlanActionResponse:
    """Errors here stop the plan before anything is invoked."""

    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class InvokeActionRequest:
    """The `config` block, all known, and the deadline and cancellation."""

    config: State
    context: Context


@dataclass
class InvokeActionResponse:
    """What Terraform shows once the action has completed."""

    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class Action:
    """Base class for actions. Subclasses set the class attributes."""

    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def configure(self, provider_data: Any) -> None:
        """Receive what the provider's configure step produced."""

    def invoke(self, req: InvokeActionRequest, resp: InvokeActionResponse) -> AsyncIterator[str]:
        """Do the work, yielding one progress message per step (`async def` with `yield`)."""
        raise NotImplementedError


@runtime_checkable
class ActionWithValidate(Protocol):
    def validate_config(self, req: ValidateActionRequest, resp: ValidateActionResponse) -> None: ...


@runtime_checkable
class ActionWithPlan(Protocol):
    def plan(self, req: PlanActionRequest, resp: PlanActionResponse) -> None: ...
