"""Runs the newer kinds a provider may offer: resource identities, ephemeral
resources, list resources and functions.

Beside ProviderRunner (managed resources and data sources) and sharing its
provider, stop event and configure result. Like it, everything here speaks
framework-native values, and an exception inside a kind becomes an error
diagnostic instead of a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from provider.cty import wholly_known
from provider.framework import ephemeral as eph
from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.function import Function, FunctionError
from provider.framework.identity import IdentitySchema, ResourceWithIdentity
from provider.framework.list_resource import ListRequest, ListResource, ListResult
from provider.framework.resource import State, implements
from provider.framework.runner import ProviderRunner, _complete, _guard, _perform
from provider.framework.timeouts import default_timeouts, timeout_for
from provider.framework.validation import validate_block


@dataclass
class Opened:
    """What opening an ephemeral resource produced."""

    result: State | None = None
    private: bytes = b""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class KindsRunner:
    def __init__(self, base: ProviderRunner) -> None:
        provider = base.provider
        self.base = base
        self.ephemeral_resources = {e.type_name: e for e in provider.ephemeral_resources()}
        self.list_resources = {r.type_name: r for r in provider.list_resources()}
        self.functions: dict[str, Function] = {f.name: f for f in provider.functions()}
        self._configured_with: object = _NOT_CONFIGURED

    def _ensure_configured(self) -> None:
        """Hand the provider's configure result to our kinds once it exists."""
        data = self.base.provider_data
        if data is self._configured_with or data is None:
            return
        for item in (*self.ephemeral_resources.values(), *self.list_resources.values()):
            item.configure(data)
        self._configured_with = data

    # ---- identity -----------------------------------------------------------------

    def identity_schemas(self) -> dict[str, IdentitySchema]:
        return {
            name: r.identity_schema
            for name, r in self.base.resources.items()
            if implements(r, ResourceWithIdentity)
        }

    def identity_of(self, type_name: str, state: State | None) -> State | None:
        """The identity of a wholly known object; None without one (or while unknown)."""
        resource = self.base.resources.get(type_name)
        if not implements(resource, ResourceWithIdentity) or state is None:
            return None
        if not wholly_known(state):
            return None
        return resource.identity(state)

    def import_id_for(self, type_name: str, identity: State) -> tuple[str | None, Diagnostics]:
        """The import ID that names the object `identity` names."""
        diags = Diagnostics()
        resource = self.base.resources.get(type_name)
        if not implements(resource, ResourceWithIdentity):
            diags.add_error(
                "Import by identity not supported",
                f"{type_name} has no resource identity; import it by ID instead.",
            )
            return None, diags
        missing = [
            name
            for name, attr in resource.identity_schema.attributes.items()
            if attr.required_for_import and identity.get(name) in (None, "")
        ]
        if missing:
            diags.add_error(
                "Incomplete identity",
                f"The identity of {type_name} needs {', '.join(missing)} to import.",
            )
            return None, diags
        with _guard(diags, f"importing {type_name} by identity"):
            return resource.import_id(identity), diags
        return None, diags

    # ---- ephemeral resources ------------------------------------------------------

    def validate_ephemeral_config(self, type_name: str, config: State) -> Diagnostics:
        return validate_block(self.ephemeral_resources[type_name].schema.block, config)

    async def open_ephemeral(self, type_name: str, config: State) -> Opened:
        self._ensure_configured()
        resource = self.ephemeral_resources[type_name]
        default = default_timeouts(resource.schema).get("open")
        ctx = Context(self.base.stop_event, timeout_for(config, "open", default))
        resp = eph.OpenResponse()
        with _guard(resp.diagnostics, f"opening {type_name}"):
            await _perform(resource.open, eph.OpenRequest(config, ctx), resp)
        result = _complete(resource.schema, resp.result)
        if result is None and not resp.diagnostics.has_error():
            resp.diagnostics.add_error(
                "Missing result after open",
                f"{type_name} reported success but returned no result. This is a provider bug.",
            )
        return Opened(result, resp.private, resp.diagnostics)

    def close_ephemeral(self, type_name: str, private: bytes) -> Diagnostics:
        self._ensure_configured()
        resp = eph.CloseResponse()
        with _guard(resp.diagnostics, f"closing {type_name}"):
            self.ephemeral_resources[type_name].close(eph.CloseRequest(private), resp)
        return resp.diagnostics

    # ---- list resources -----------------------------------------------------------

    def list_resource(self, type_name: str) -> ListResource:
        return self.list_resources[type_name]

    def validate_list_config(self, type_name: str, config: State) -> Diagnostics:
        return validate_block(self.list_resources[type_name].schema.block, config)

    def list(
        self, type_name: str, config: State, include_resource: bool, limit: int
    ) -> Iterator[ListResult]:
        """The objects found, at most `limit`; a failure ends the list with an error result."""
        self._ensure_configured()
        resource = self.list_resources[type_name]
        managed = self.base.resources.get(type_name)
        request = ListRequest(config, include_resource, limit, Context(self.base.stop_event))
        diags = Diagnostics()
        count = 0
        with _guard(diags, f"listing {type_name}"):
            for result in resource.list(request):
                if limit and count >= limit:
                    return
                if managed is not None and result.resource is not None:
                    result.resource = _complete(managed.schema, result.resource)
                if not include_resource:
                    result.resource = None
                count += 1
                yield result
        if diags.has_error():
            yield ListResult(diagnostics=diags)

    # ---- functions ----------------------------------------------------------------

    def call_function(self, name: str, arguments: list[Any]) -> tuple[Any, FunctionError | None]:
        function = self.functions[name]
        try:
            return function.call(arguments), None
        except FunctionError as err:
            return None, err
        except Exception as err:  # a provider bug must never crash the plugin
            return None, FunctionError(
                f"Unexpected error in {name}: {type(err).__name__}: {err}. "
                "This is a bug in the provider."
            )


_NOT_CONFIGURED = object()
