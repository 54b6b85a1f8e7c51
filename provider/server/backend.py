"""What every RPC handler works with: the negotiated protocol's messages and
the framework's runners.

Messages are the generated protobuf classes of one protocol version, loaded
at run time (only the negotiated one: it is costly to import). The type
checker does not read the generated code, so a wire message is `Wire`
(`Any`); everything a handler hands to the framework is typed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, TypeAlias

from provider.framework.action_runner import ActionRunner
from provider.framework.diagnostics import Diagnostics
from provider.framework.kinds import KindsRunner
from provider.framework.runner import ProviderRunner
from provider.prebuilt_dataclasses import dataclass, field
from provider.server import to_proto

# A generated protobuf message of tfplugin5 or tfplugin6.
Wire: TypeAlias = Any


@dataclass
class Backend:
    pb: ModuleType
    version: int
    runner: ProviderRunner
    kinds: KindsRunner = field(init=False)
    actions: ActionRunner = field(init=False)
    # GetProviderSchema's answer, made once: schemas never change while serving.
    schema_response: Wire = None

    def __post_init__(self) -> None:
        self.kinds = KindsRunner(self.runner)
        self.actions = ActionRunner(self.runner)

    def diagnostics(self, diags: Diagnostics) -> list[Wire]:
        return to_proto.diagnostics(self.pb, diags)

    def refuse_unknown(self, response: Wire, kind: str, type_name: str) -> None:
        """Answer a request for a type this provider does not have."""
        diags = Diagnostics()
        diags.add_error(f"Unknown {kind} type", f"This provider has no {kind} {type_name!r}.")
        response.diagnostics.extend(self.diagnostics(diags))
