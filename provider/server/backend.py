"""What every RPC handler works with: the negotiated protocol's messages, what
the provider offers, and the framework's runners.

The catalog (what the provider offers) is made by the first RPC that reads
it, from the provider itself or from a function that imports it: a start
that answers the schema from a prebuilt snapshot (schema_snapshot.py) never
imports the provider, its resources or the framework's schema.

Messages are the generated protobuf classes of one protocol version, loaded
at run time (only the negotiated one: it is costly to import). The type
checker does not read the generated code, so a wire message is `Wire`
(`Any`); everything a handler hands to the framework is typed.

The runners, and with them the codecs and the planning rules, are made by
the first RPC that performs an operation: a start that only reports the
schema never imports them (docs/benchmarks.md, "A start that only reports
the schema").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from provider.framework.context import StopSignal
from provider.framework.diagnostics import Diagnostics
from provider.prebuilt_dataclasses import dataclass, field
from provider.server import to_proto

if TYPE_CHECKING:
    from provider.framework.action_runner import ActionRunner
    from provider.framework.catalog import Catalog
    from provider.framework.kinds import KindsRunner
    from provider.framework.runner import ProviderRunner

# A generated protobuf message of tfplugin5 or tfplugin6.
Wire: TypeAlias = Any
T = TypeVar("T")


@dataclass
class Backend:
    pb: ModuleType
    version: int
    # The catalog, or the function that makes it (on first use).
    offers: Catalog | Callable[[], Catalog]
    # Set when Terraform is interrupted: every operation, running or to come, sees it.
    stop_event: StopSignal = field(default_factory=StopSignal)
    # GetProviderSchema's answer, made once: schemas never change while serving.
    schema_response: Wire = None
    # Where that answer, serialized when the package was built, is looked up (if
    # it is current): asked by the first GetProviderSchema, not at every start.
    prebuilt_schema: Callable[[], bytes | None] | None = None
    _made: dict[str, object] = field(default_factory=dict, init=False, repr=False)
    # Reentrant: making the runner reads the catalog, which may be made then too.
    _making: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    @property
    def catalog(self) -> Catalog:
        """What the provider offers."""
        offers = self.offers
        return self._once("catalog", offers) if callable(offers) else offers

    @property
    def runner(self) -> ProviderRunner:
        """Runs the managed resources and data sources."""

        def make() -> ProviderRunner:
            from provider.framework.runner import ProviderRunner

            return ProviderRunner(self.catalog.provider, self.catalog, self.stop_event)

        return self._once("runner", make)

    @property
    def kinds(self) -> KindsRunner:
        """Runs ephemeral resources, list resources and functions."""

        def make() -> KindsRunner:
            from provider.framework.kinds import KindsRunner

            return KindsRunner(self.runner)

        return self._once("kinds", make)

    @property
    def actions(self) -> ActionRunner:
        def make() -> ActionRunner:
            from provider.framework.action_runner import ActionRunner

            return ActionRunner(self.runner)

        return self._once("actions", make)

    def _once(self, name: str, make: Callable[[], T]) -> T:
        """What `make` makes, made once even when RPCs ask on several threads."""
        made = self._made.get(name)
        if made is None:
            with self._making:
                made = self._made.get(name)
                if made is None:
                    made = self._made[name] = make()
        return cast(T, made)

    def stop(self) -> None:
        """Cancel every running and future operation (Terraform was interrupted)."""
        self.stop_event.set()

    def diagnostics(self, diags: Diagnostics) -> list[Wire]:
        return to_proto.diagnostics(self.pb, diags)

    def refuse_unknown(self, response: Wire, kind: str, type_name: str) -> None:
        """Answer a request for a type this provider does not have."""
        diags = Diagnostics()
        diags.add_error(f"Unknown {kind} type", f"This provider has no {kind} {type_name!r}.")
        response.diagnostics.extend(self.diagnostics(diags))
