"""Runs the newer kinds a provider may offer: ephemeral resources, list
resources and functions.

Beside ProviderRunner (managed resources, data sources and their identities),
whose registry, stop signal and configure step it shares: the runner hands
the provider's configure result to these kinds too. Like the runner,
everything here speaks framework-native values, and an exception inside a
kind becomes an error diagnostic instead of a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from provider.framework import ephemeral as eph
from provider.framework.author_code import complete, guard, perform
from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.function import FunctionError
from provider.framework.list_resource import ListRequest, ListResult
from provider.framework.resource import State
from provider.framework.runner import ProviderRunner
from provider.framework.timeouts import default_timeouts, timeout_for
from provider.framework.validation import validate_block
from provider.prebuilt_dataclasses import dataclass, field


@dataclass
class Opened:
    """What opening an ephemeral resource produced."""

    result: State | None = None
    private: bytes = b""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class KindsRunner:
    def __init__(self, base: ProviderRunner) -> None:
        self.base = base

    # ---- ephemeral resources ------------------------------------------------------

    def validate_ephemeral_config(self, type_name: str, config: State | None) -> Diagnostics:
        return validate_block(self.base.ephemeral_resources[type_name].schema.block, config)

    async def open_ephemeral(self, type_name: str, config: State | None) -> Opened:
        resource = self.base.ephemeral_resources[type_name]
        default = default_timeouts(resource.schema).get("open")
        ctx = Context(self.base.stop_event, timeout_for(config, "open", default))
        resp = eph.OpenResponse()
        with guard(resp.diagnostics, f"opening {type_name}"):
            await perform(resource.open, eph.OpenRequest(config or {}, ctx), resp)
        result = complete(resource.schema, resp.result)
        if result is None and not resp.diagnostics.has_error():
            resp.diagnostics.add_error(
                "Missing result after open",
                f"{type_name} reported success but returned no result. This is a provider bug.",
            )
        return Opened(result, resp.private, resp.diagnostics)

    def close_ephemeral(self, type_name: str, private: bytes) -> Diagnostics:
        resp = eph.CloseResponse()
        with guard(resp.diagnostics, f"closing {type_name}"):
            self.base.ephemeral_resources[type_name].close(eph.CloseRequest(private), resp)
        return resp.diagnostics

    # ---- list resources -----------------------------------------------------------

    def validate_list_config(self, type_name: str, config: State) -> Diagnostics:
        return validate_block(self.base.list_resources[type_name].schema.block, config)

    def list_objects(
        self, type_name: str, config: State, include_resource: bool, limit: int
    ) -> Iterator[ListResult]:
        """The objects found, at most `limit`; a failure ends the list with an error result."""
        resource = self.base.list_resources[type_name]
        managed = self.base.resources.get(type_name)
        request = ListRequest(config, include_resource, limit, Context(self.base.stop_event))
        diags = Diagnostics()
        count = 0
        with guard(diags, f"listing {type_name}"):
            for result in resource.list(request):
                if limit and count >= limit:
                    return
                if managed is not None and result.resource is not None:
                    result.resource = complete(managed.schema, result.resource)
                if not include_resource:
                    result.resource = None
                count += 1
                yield result
        if diags.has_error():
            yield ListResult(diagnostics=diags)

    # ---- functions ----------------------------------------------------------------

    def call_function(self, name: str, arguments: list[Any]) -> tuple[Any, FunctionError | None]:
        function = self.base.functions[name]
        try:
            return function.call(arguments), None
        except FunctionError as err:
            return None, err
        except Exception as err:  # a provider bug must never crash the plugin
            return None, FunctionError(
                f"Unexpected error in {name}: {type(err).__name__}: {err}. "
                "This is a bug in the provider."
            )
