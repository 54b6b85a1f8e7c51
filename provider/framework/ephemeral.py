"""Ephemeral resources (Terraform 1.10+): values Terraform needs during one
run that must never be written to a state or plan file, such as a token.

Terraform opens the resource when it needs the value (in plan and again in
apply), may renew it, and closes it at the end of the run. The author
implements `open`, and `close` when something must be released; values live
only in the response and in Terraform's memory.
"""

from __future__ import annotations

from typing import Any, ClassVar

from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.resource import MaybeAwaitable, State
from provider.framework.schema import Schema
from provider.prebuilt_dataclasses import dataclass, field


@dataclass(frozen=True)
class OpenRequest:
    """The configuration, all known (Terraform defers opening until it is)."""

    config: State
    context: Context


@dataclass
class OpenResponse:
    """Set `result` to the configuration with the computed attributes filled
    in. `private` comes back to `close`; Terraform keeps it in memory only."""

    result: State | None = None
    private: bytes = b""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass(frozen=True)
class CloseRequest:
    private: bytes = b""


@dataclass
class CloseResponse:
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class EphemeralResource:
    """Base class for ephemeral resources. Subclasses set the class attributes."""

    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def configure(self, provider_data: Any) -> None:
        """Receive what the provider's configure step produced."""

    def open(self, req: OpenRequest, resp: OpenResponse) -> MaybeAwaitable:
        """May be `async def`, like a resource's create (docs/threads.md)."""
        raise NotImplementedError

    def close(self, req: CloseRequest, resp: CloseResponse) -> None:
        """Nothing to release by default."""
