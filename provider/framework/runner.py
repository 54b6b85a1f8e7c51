"""Runs a provider's resources and data sources on behalf of the protocol server.

Everything here speaks framework-native values (decoded dicts, Diagnostics);
it is the counterpart of terraform-plugin-framework's fwserver. The runner
enforces what Terraform requires of every provider: state after create, no
unknown values after apply, timeouts and cancellation, write-only values kept
out of every plan and state, identities beside states, and that an exception
inside a resource becomes an error diagnostic instead of a crash.

Read and apply are coroutines; which thread runs what is in docs/threads.md.
"""

from __future__ import annotations

from typing import Any, Protocol

from provider.cty import json_codec, wholly_known
from provider.cty.decoding import DecodeError
from provider.framework import resource as res
from provider.framework import write_only
from provider.framework.author_code import complete, guard, perform
from provider.framework.catalog import Catalog
from provider.framework.context import Context, StopSignal
from provider.framework.diagnostics import Diagnostics
from provider.framework.duration import DurationError
from provider.framework.identity_rules import identity_of, import_id_for
from provider.framework.planning import Plan, plan_change
from provider.framework.provider import ConfigureRequest, ConfigureResponse, Provider
from provider.framework.schema import Schema
from provider.framework.timeouts import default_timeouts, timeout_errors, timeout_for
from provider.framework.validation import validate_block
from provider.prebuilt_dataclasses import dataclass, field


class _Configurable(Protocol):
    def configure(self, provider_data: Any) -> None: ...


@dataclass
class Outcome:
    """What an operation produced: a state (or None), its identity, and diagnostics."""

    state: res.State | None = None
    private: bytes = b""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    identity: res.State | None = None


@dataclass
class Planned:
    """A plan with the private bytes to keep beside it and the identity it plans."""

    plan: Plan
    private: bytes
    diagnostics: Diagnostics
    identity: res.State | None = None


class ProviderRunner:
    """Every kind the provider offers, by type name, and the operations on the
    managed resources and data sources (kinds.py runs the newer kinds)."""

    def __init__(
        self,
        provider: Provider,
        catalog: Catalog | None = None,
        stop_event: StopSignal | None = None,
    ) -> None:
        """`catalog` and `stop_event` when the server already has them (it reads
        the catalog, and may be stopped, before any operation needs a runner)."""
        self.provider = provider
        self.catalog = catalog if catalog is not None else Catalog.of(provider)
        self.resources = self.catalog.resources
        self.data_sources = self.catalog.data_sources
        self.ephemeral_resources = self.catalog.ephemeral_resources
        self.list_resources = self.catalog.list_resources
        self.functions = self.catalog.functions
        self.actions = self.catalog.actions
        self.identity_schemas = self.catalog.identity_schemas
        self.stop_event = stop_event if stop_event is not None else StopSignal()

    # ---- schemas and validation -------------------------------------------------

    def resource_schema(self, type_name: str) -> Schema:
        return self.resources[type_name].schema

    def data_source_schema(self, type_name: str) -> Schema:
        return self.data_sources[type_name].schema

    def validate_provider_config(self, config: res.State | None) -> Diagnostics:
        return validate_block(self.provider.schema.block, config)

    def validate_resource_config(self, type_name: str, config: res.State) -> Diagnostics:
        resource = self.resources[type_name]
        diags = validate_block(resource.schema.block, config)
        if res.implements(resource, res.ResourceWithValidate):
            resp = res.ValidateResponse()
            with guard(diags, f"validating {type_name}"):
                resource.validate_config(res.ValidateRequest(config), resp)
            diags.extend(resp.diagnostics)
        return diags

    def validate_data_source_config(self, type_name: str, config: res.State) -> Diagnostics:
        return validate_block(self.data_sources[type_name].schema.block, config)

    # ---- provider -----------------------------------------------------------------

    def configure(self, config: res.State | None, terraform_version: str) -> Diagnostics:
        """Configure the provider, then hand what it produced to every kind that takes it."""
        resp = ConfigureResponse()
        with guard(resp.diagnostics, "configuring the provider"):
            self.provider.configure(ConfigureRequest(config or {}, terraform_version), resp)
        if not resp.diagnostics.has_error():
            configurable: list[_Configurable] = [
                *self.resources.values(),
                *self.data_sources.values(),
                *self.ephemeral_resources.values(),
                *self.list_resources.values(),
                *self.actions.values(),
            ]
            for item in configurable:
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
            with guard(out.diagnostics, f"upgrading the state of {type_name}"):
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
        resp = res.ReadResponse()
        ctx = self._context(state, "read", resource, resp.diagnostics)
        with guard(resp.diagnostics, f"reading {type_name}"):
            await perform(resource.read, res.ReadRequest(state, ctx, private), resp)
        if resp.diagnostics.has_error() and resp.state is None:
            # Never drop an object from state because reading it failed.
            resp.state = state
        out = Outcome(complete(resource.schema, resp.state), resp.private, resp.diagnostics)
        return _with_identity(resource, out)

    def plan(
        self,
        type_name: str,
        prior: res.State | None,
        proposed: res.State | None,
        config: res.State | None,
        prior_private: bytes,
        prior_identity: res.State | None = None,
    ) -> Planned:
        resource = self.resources[type_name]
        # Plan as if write-only values were absent: they never count as a change.
        proposed = write_only.nulled(resource.schema, proposed)
        diags = Diagnostics()
        plan = Plan(proposed)
        with guard(diags, f"planning {type_name}"):
            plan = plan_change(resource.schema, prior, proposed, config)
            if res.implements(resource, res.ResourceWithModifyPlan):
                resp = res.ModifyPlanResponse(plan.planned)
                resource.modify_plan(res.ModifyPlanRequest(plan.planned, prior, config), resp)
                diags.extend(resp.diagnostics)
                plan = Plan(resp.plan, plan.requires_replace + resp.requires_replace)
        if plan.planned is not None:  # refuse now a timeout its apply could not use
            diags.extend(timeout_errors(plan.planned, _creates_or_updates(prior)))
        planned = Planned(plan, prior_private, diags)
        if plan.planned is None:
            return planned  # a destroy: the identity goes with the object
        plan.planned = write_only.nulled(resource.schema, plan.planned)
        planned.identity = identity_of(resource, plan.planned)
        if planned.identity is None and not plan.requires_replace:
            planned.identity = prior_identity  # an update keeps its identity
        return planned

    async def apply(
        self,
        type_name: str,
        prior: res.State | None,
        planned: res.State | None,
        config: res.State | None,
        planned_private: bytes,
    ) -> Outcome:
        resource = self.resources[type_name]
        refused = timeout_errors(planned, _creates_or_updates(prior)) if planned else None
        if refused and refused.has_error():  # nothing done: what exists stays in state
            kept = Outcome(prior, planned_private if prior is not None else b"", refused)
            return _with_identity(resource, kept)
        if planned is None:
            out = await self._delete(resource, prior or {}, planned_private)
        elif prior is None:
            out = await self._create(resource, planned, config)
        else:
            out = await self._update(resource, prior, planned, config, planned_private)
        return _with_identity(resource, out)

    async def _create(
        self, resource: res.Resource, planned: res.State, config: res.State | None
    ) -> Outcome:
        type_name = resource.type_name
        ctx = self._context(planned, "create", resource)
        create = res.CreateResponse()
        with guard(create.diagnostics, f"creating {type_name}"):
            await perform(resource.create, res.CreateRequest(planned, config or {}, ctx), create)
        out = Outcome(create.state, create.private, create.diagnostics)
        if out.state is None and not out.diagnostics.has_error():
            out.diagnostics.add_error(
                "Missing state after create",
                f"{type_name} reported success but returned no state. This is a provider bug.",
            )
        return _known_after_apply(resource, out)

    async def _update(
        self,
        resource: res.Resource,
        prior: res.State,
        planned: res.State,
        config: res.State | None,
        private: bytes,
    ) -> Outcome:
        ctx = self._context(planned, "update", resource)
        update = res.UpdateResponse()
        with guard(update.diagnostics, f"updating {resource.type_name}"):
            request = res.UpdateRequest(planned, prior, config or {}, ctx, private)
            await perform(resource.update, request, update)
        if update.state is None and update.diagnostics.has_error():
            update.state = prior  # keep what exists
        return _known_after_apply(
            resource, Outcome(update.state, update.private, update.diagnostics)
        )

    async def _delete(self, resource: res.Resource, prior: res.State, private: bytes) -> Outcome:
        resp = res.DeleteResponse()
        ctx = self._context(prior, "delete", resource, resp.diagnostics)
        with guard(resp.diagnostics, f"deleting {resource.type_name}"):
            await perform(resource.delete, res.DeleteRequest(prior, ctx, private), resp)
        # On failure the object stays in state, so nothing is lost.
        return Outcome(prior if resp.diagnostics.has_error() else None, b"", resp.diagnostics)

    def import_state(self, type_name: str, import_id: str) -> Outcome:
        resource = importer = self.resources[type_name]  # the check narrows `importer` only
        out = Outcome()
        if not res.implements(importer, res.ResourceWithImport):
            out.diagnostics.add_error(
                "Import not supported", f"{type_name} cannot be imported; create it instead."
            )
            return out
        resp = res.ImportResponse()
        ctx = self._context(None, "read", resource)
        with guard(resp.diagnostics, f"importing {type_name}"):
            importer.import_state(res.ImportRequest(import_id, ctx), resp)
        out.diagnostics = resp.diagnostics
        out.state = complete(resource.schema, resp.state)
        if out.state is None and not out.diagnostics.has_error():
            out.diagnostics.add_error(
                "Nothing imported", f"No {type_name} has the ID {import_id!r}."
            )
        if out.state is not None and not out.diagnostics.has_error():
            out.identity = identity_of(resource, out.state)
        return out

    def import_by_identity(self, type_name: str, identity: res.State | None) -> Outcome:
        """Import the object `identity` names, through the resource's import ID."""
        import_id, diags = import_id_for(self.resources[type_name], type_name, identity or {})
        if import_id is None:
            return Outcome(diagnostics=diags)
        return self.import_state(type_name, import_id)

    # ---- data sources -------------------------------------------------------------

    def read_data_source(self, type_name: str, config: res.State) -> Outcome:
        source = self.data_sources[type_name]
        resp = res.DataSourceReadResponse()
        with guard(resp.diagnostics, f"reading data source {type_name}"):
            source.read(res.DataSourceReadRequest(config, Context(self.stop_event)), resp)
        return Outcome(complete(source.schema, resp.state), b"", resp.diagnostics)

    def _context(
        self,
        value: res.State | None,
        operation: str,
        resource: res.Resource,
        diags: Diagnostics | None = None,
    ) -> Context:
        """The operation's context, with its timeout. A stored state's timeout that
        is not a duration (the state was edited by hand) must not block a refresh
        or a destroy: it is reported on `diags` as a warning and the default used.
        A create's or update's comes from a plan, which refused it already."""
        default = default_timeouts(resource.schema).get(operation)
        try:
            seconds = timeout_for(value, operation, default)
        except DurationError:  # parsed once; the diagnostics only when it is not a duration
            warned = diags if diags is not None else Diagnostics()
            for problem in timeout_errors(value, operation):
                warned.add_warning(
                    f"{problem.summary} in the stored state",
                    f"{problem.detail} The default ({default or 'none'}) is used instead.",
                    problem.path,
                )
            seconds = timeout_for(None, operation, default)
        return Context(self.stop_event, seconds)


def _creates_or_updates(prior: res.State | None) -> str:
    """The operation whose timeout applying a planned value uses."""
    return "create" if prior is None else "update"


def _known_after_apply(resource: res.Resource, out: Outcome) -> Outcome:
    """Complete a created or updated state, and refuse one that is not wholly known."""
    out.state = complete(resource.schema, out.state)
    if out.state is not None and not wholly_known(out.state):
        unknown = sorted(k for k, v in out.state.items() if not wholly_known(v))
        out.diagnostics.add_error(
            "Unknown value after apply",
            f"{resource.type_name} left {', '.join(unknown)} unknown after apply. "
            "This is a provider bug.",
        )
    return out


def _with_identity(resource: res.Resource, out: Outcome) -> Outcome:
    """A read's or an apply's new state: without write-only values, with its identity."""
    out.state = write_only.nulled(resource.schema, out.state)
    out.identity = identity_of(resource, out.state)
    return out


def _invalid_stored_state(diags: Diagnostics, type_name: str, reason: str) -> None:
    diags.add_error(
        "Invalid stored state",
        f"The stored state of this {type_name} cannot be read: {reason}. The provider changed "
        "nothing; restore the state file from a backup, or remove the object from state "
        "(terraform state rm) and import it again.",
    )
