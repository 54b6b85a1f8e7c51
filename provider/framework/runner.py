"""Runs a provider's resources on behalf of the protocol server.

Everything here speaks framework-native values (decoded dicts, Diagnostics).
The runner enforces what Terraform requires of every provider: state after
create, no unknown values after apply, timeouts and cancellation, and that an
exception inside a resource becomes an error diagnostic instead of a crash.

Read and apply (create, update, delete) are coroutines, run on the server's
event loop: an operation written `async def` is awaited there and holds no
thread while it waits; a plain `def` one is handed to the loop's executor (a
few worker threads). Everything else is quick and synchronous: validation,
planning and state upgrades run on the loop itself (they must not block, see
provider/framework/resource.py), configure, import and data sources on a
worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from provider.cty import json_codec, wholly_known
from provider.cty.decoding import DecodeError
from provider.framework import resource as res
from provider.framework.context import Context, OperationInterrupted, StopSignal
from provider.framework.diagnostics import Diagnostics
from provider.framework.planning import Plan, plan_change
from provider.framework.provider import ConfigureRequest, ConfigureResponse, Provider
from provider.framework.schema import Schema
from provider.framework.timeouts import default_timeouts, timeout_for
from provider.framework.validation import validate_block

log = logging.getLogger(__name__)
_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


@dataclass
class Outcome:
    """What an operation produced: a state (or None) and diagnostics."""

    state: res.State | None = None
    private: bytes = b""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class ProviderRunner:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.resources = {r.type_name: r for r in provider.resources()}
        self.data_sources = {d.type_name: d for d in provider.data_sources()}
        self.stop_event = StopSignal()
        # What the provider's configure step produced, for kinds configured later.
        self.provider_data: Any = None

    # ---- schemas and validation -------------------------------------------------

    def resource_schema(self, type_name: str) -> Schema:
        return self.resources[type_name].schema

    def data_source_schema(self, type_name: str) -> Schema:
        return self.data_sources[type_name].schema

    def validate_provider_config(self, config: res.State) -> Diagnostics:
        return validate_block(self.provider.schema.block, config)

    def validate_resource_config(self, type_name: str, config: res.State) -> Diagnostics:
        resource = self.resources[type_name]
        diags = validate_block(resource.schema.block, config)
        if res.implements(resource, res.ResourceWithValidate):
            resp = res.ValidateResponse()
            with _guard(diags, f"validating {type_name}"):
                resource.validate_config(res.ValidateRequest(config), resp)
            diags.extend(resp.diagnostics)
        return diags

    def validate_data_source_config(self, type_name: str, config: res.State) -> Diagnostics:
        return validate_block(self.data_sources[type_name].schema.block, config)

    # ---- provider -----------------------------------------------------------------

    def configure(self, config: res.State, terraform_version: str) -> Diagnostics:
        resp = ConfigureResponse()
        with _guard(resp.diagnostics, "configuring the provider"):
            self.provider.configure(ConfigureRequest(config, terraform_version), resp)
        if not resp.diagnostics.has_error():
            self.provider_data = resp.provider_data
            for item in (*self.resources.values(), *self.data_sources.values()):
                item.configure(resp.provider_data)
        return resp.diagnostics

    def stop(self) -> None:
        """Cancel every running and future operation (Terraform was interrupted)."""
        self.stop_event.set()

    # ---- managed resources --------------------------------------------------------

    def upgrade_state(self, type_name: str, version: int, raw_json: bytes | None) -> Outcome:
        resource = self.resources[type_name]
        out = Outcome()
        if raw_json is None:
            out.diagnostics.add_error(
                "Unsupported state format",
                f"{type_name} state in the legacy flatmap format cannot be upgraded.",
            )
            return out
        try:
            raw = json_codec.loads(raw_json)
        except DecodeError as err:
            _invalid_stored_state(out.diagnostics, type_name, str(err))
            return out
        if not isinstance(raw, dict):
            _invalid_stored_state(out.diagnostics, type_name, "it is not a JSON object")
            return out
        if version != resource.schema.version:
            if not res.implements(resource, res.ResourceWithUpgradeState):
                out.diagnostics.add_error(
                    "State version not supported",
                    f"{type_name} state has schema version {version}; this provider "
                    f"only knows version {resource.schema.version}.",
                )
                return out
            with _guard(out.diagnostics, f"upgrading the state of {type_name}"):
                raw = resource.upgrade_state(version, raw)
            if out.diagnostics.has_error():
                return out
        known = resource.schema.cty_type().attribute_types
        try:
            # Attributes an older schema had are dropped; missing ones become null.
            out.state = json_codec.from_plain(
                {k: raw.get(k) for k in known}, resource.schema.cty_type()
            )
        except DecodeError as err:
            _invalid_stored_state(out.diagnostics, type_name, str(err))
        return out

    async def read(self, type_name: str, state: res.State, private: bytes) -> Outcome:
        resource = self.resources[type_name]
        ctx = self._context(state, "read", resource)
        resp = res.ReadResponse()
        with _guard(resp.diagnostics, f"reading {type_name}"):
            await _perform(resource.read, res.ReadRequest(state, ctx, private), resp)
        if resp.diagnostics.has_error() and resp.state is None:
            # Never drop an object from state because reading it failed.
            resp.state = state
        return Outcome(_complete(resource.schema, resp.state), resp.private, resp.diagnostics)

    def plan(
        self,
        type_name: str,
        prior: res.State | None,
        proposed: res.State | None,
        config: res.State | None,
        prior_private: bytes,
    ) -> tuple[Plan, bytes, Diagnostics]:
        resource = self.resources[type_name]
        diags = Diagnostics()
        plan = Plan(proposed)
        with _guard(diags, f"planning {type_name}"):
            plan = plan_change(resource.schema, prior, proposed, config)
            if res.implements(resource, res.ResourceWithModifyPlan):
                resp = res.ModifyPlanResponse(plan.planned)
                resource.modify_plan(res.ModifyPlanRequest(plan.planned, prior, config), resp)
                diags.extend(resp.diagnostics)
                plan = Plan(resp.plan, plan.requires_replace + resp.requires_replace)
        return plan, prior_private, diags

    async def apply(
        self,
        type_name: str,
        prior: res.State | None,
        planned: res.State | None,
        config: res.State | None,
        planned_private: bytes,
    ) -> Outcome:
        resource = self.resources[type_name]
        if planned is None:
            return await self._delete(resource, prior or {}, planned_private)
        if prior is None:
            ctx = self._context(planned, "create", resource)
            create = res.CreateResponse()
            with _guard(create.diagnostics, f"creating {type_name}"):
                request = res.CreateRequest(planned, config or {}, ctx)
                await _perform(resource.create, request, create)
            out = Outcome(create.state, create.private, create.diagnostics)
            if out.state is None and not out.diagnostics.has_error():
                out.diagnostics.add_error(
                    "Missing state after create",
                    f"{type_name} reported success but returned no state. This is a provider bug.",
                )
        else:
            ctx = self._context(planned, "update", resource)
            update = res.UpdateResponse()
            with _guard(update.diagnostics, f"updating {type_name}"):
                request = res.UpdateRequest(planned, prior, config or {}, ctx, planned_private)
                await _perform(resource.update, request, update)
            if update.state is None and update.diagnostics.has_error():
                update.state = prior  # keep what exists
            out = Outcome(update.state, update.private, update.diagnostics)
        out.state = _complete(resource.schema, out.state)
        if out.state is not None and not wholly_known(out.state):
            unknown = sorted(k for k, v in out.state.items() if not wholly_known(v))
            out.diagnostics.add_error(
                "Unknown value after apply",
                f"{type_name} left {', '.join(unknown)} unknown after apply. "
                "This is a provider bug.",
            )
        return out

    async def _delete(self, resource: res.Resource, prior: res.State, private: bytes) -> Outcome:
        ctx = self._context(prior, "delete", resource)
        resp = res.DeleteResponse()
        with _guard(resp.diagnostics, f"deleting {resource.type_name}"):
            await _perform(resource.delete, res.DeleteRequest(prior, ctx, private), resp)
        # On failure the object stays in state, so nothing is lost.
        return Outcome(prior if resp.diagnostics.has_error() else None, b"", resp.diagnostics)

    def import_state(self, type_name: str, import_id: str) -> Outcome:
        resource = self.resources[type_name]
        out = Outcome()
        if not res.implements(resource, res.ResourceWithImport):
            out.diagnostics.add_error(
                "Import not supported", f"{type_name} cannot be imported; create it instead."
            )
            return out
        resp = res.ImportResponse()
        ctx = self._context(None, "read", resource)
        with _guard(resp.diagnostics, f"importing {type_name}"):
            resource.import_state(res.ImportRequest(import_id, ctx), resp)
        out.diagnostics = resp.diagnostics
        out.state = _complete(resource.schema, resp.state)
        if out.state is None and not out.diagnostics.has_error():
            out.diagnostics.add_error(
                "Nothing imported", f"No {type_name} has the ID {import_id!r}."
            )
        return out

    # ---- data sources -------------------------------------------------------------

    def read_data_source(self, type_name: str, config: res.State) -> Outcome:
        source = self.data_sources[type_name]
        resp = res.DataSourceReadResponse()
        with _guard(resp.diagnostics, f"reading data source {type_name}"):
            source.read(res.DataSourceReadRequest(config, Context(self.stop_event)), resp)
        return Outcome(_complete(source.schema, resp.state), b"", resp.diagnostics)

    def _context(self, value: res.State | None, operation: str, resource: res.Resource) -> Context:
        default = default_timeouts(resource.schema).get(operation)
        return Context(self.stop_event, timeout_for(value, operation, default))


async def _perform(operation: Callable[[_Req, _Resp], object], req: _Req, resp: _Resp) -> None:
    """Await an `async def` operation here, on the loop; hand a plain one to a worker thread."""
    if inspect.iscoroutinefunction(operation):
        await operation(req, resp)  # type: ignore[misc]
    else:
        await asyncio.get_running_loop().run_in_executor(None, operation, req, resp)


def _invalid_stored_state(diags: Diagnostics, type_name: str, reason: str) -> None:
    diags.add_error(
        "Invalid stored state",
        f"The stored state of this {type_name} cannot be read: {reason}. The provider changed "
        "nothing; restore the state file from a backup, or remove the object from state "
        "(terraform state rm) and import it again.",
    )


def _complete(schema: Schema, state: res.State | None) -> res.State | None:
    """Give every attribute and block of the schema a value (null when unset)."""
    if state is None:
        return None
    names = (*schema.block.attributes, *schema.block.blocks)
    return {name: state.get(name) for name in names}


@contextmanager
def _guard(diags: Diagnostics, doing: str) -> Iterator[None]:
    """Turn a wait that ended early, or a provider bug, into an error diagnostic."""
    try:
        yield
    except OperationInterrupted as err:
        diags.add_error(f"Stopped {doing}", str(err))
    except Exception as err:  # a resource bug must never crash the plugin
        log.exception("unexpected error while %s", doing)
        diags.add_error(
            f"Unexpected error while {doing}",
            f"{type(err).__name__}: {err}. This is a bug in the provider; "
            "the provider log (TF_LOG=debug) has the details.",
        )
