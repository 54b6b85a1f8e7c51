"""The managed-resource RPCs, identities included.

Each handler fills in the empty response it is given: it decodes the request
(from_proto), calls the runner, and encodes the result (to_proto; a state's
msgpack goes straight into the response's own DynamicValue, which spares
making a message and copying it on every read, plan and apply). The rules
about write-only values and identities live in the framework; here they are
only carried to and from the wire.
"""

from __future__ import annotations

from provider.cty import msgpack_codec
from provider.framework.identity_rules import upgrade_identity
from provider.framework.resource import State
from provider.server import from_proto, to_proto
from provider.server.backend import Backend, Wire
from provider.server.malformed import MalformedRequest


def _identity(b: Backend, type_name: str, identity: State | None) -> Wire | None:
    """The wire form of an object's identity (None when it has none)."""
    schema = b.runner.identity_schemas.get(type_name)
    if identity is None or schema is None:
        return None
    return to_proto.identity_data(b.pb, identity, schema)


def validate_resource_config(b: Backend, request: Wire, response: Wire) -> None:
    if request.type_name not in b.runner.resources:
        return b.refuse_unknown(response, "resource", request.type_name)
    schema = b.runner.resource_schema(request.type_name)
    config = from_proto.dynamic_value(request.config, schema.cty_type(), "config", required=True)
    diags = b.runner.validate_resource_config(request.type_name, config)
    response.diagnostics.extend(b.diagnostics(diags))


def upgrade_resource_state(b: Backend, request: Wire, response: Wire) -> None:
    if request.type_name not in b.runner.resources:
        return b.refuse_unknown(response, "resource", request.type_name)
    raw_json = request.raw_state.json if request.raw_state.json else None
    out = b.runner.upgrade_state(request.type_name, request.version, raw_json)
    response.diagnostics.extend(b.diagnostics(out.diagnostics))
    if not out.diagnostics.has_error():
        type_ = b.runner.resource_schema(request.type_name).cty_type()
        response.upgraded_state.msgpack = msgpack_codec.encode(out.state, type_)


async def read_resource(b: Backend, request: Wire, response: Wire) -> None:
    if request.type_name not in b.runner.resources:
        return b.refuse_unknown(response, "resource", request.type_name)
    type_ = b.runner.resource_schema(request.type_name).cty_type()
    state = from_proto.dynamic_value(
        request.current_state, type_, "current_state", required=True, known=True
    )
    out = await b.runner.read(request.type_name, state, request.private)
    response.new_state.msgpack = msgpack_codec.encode(out.state, type_)
    response.private = out.private
    response.diagnostics.extend(b.diagnostics(out.diagnostics))
    identity = _identity(b, request.type_name, out.identity)
    if identity is not None:
        response.new_identity.CopyFrom(identity)


def plan_resource_change(b: Backend, request: Wire, response: Wire) -> None:
    pb, runner, type_name = b.pb, b.runner, request.type_name
    if type_name not in runner.resources:
        return b.refuse_unknown(response, "resource", type_name)
    type_ = runner.resource_schema(type_name).cty_type()
    prior = from_proto.dynamic_value(request.prior_state, type_, "prior_state", known=True)
    proposed = from_proto.dynamic_value(request.proposed_new_state, type_, "proposed_new_state")
    config = from_proto.dynamic_value(request.config, type_, "config")
    if prior is None and proposed is None:
        raise MalformedRequest("proposed_new_state", "both it and prior_state are null")
    identity_schema = runner.identity_schemas.get(type_name)
    prior_identity = None
    if identity_schema is not None and request.HasField("prior_identity"):
        prior_identity = from_proto.identity_data(
            request.prior_identity, identity_schema.cty_type()
        )
    planned = runner.plan(type_name, prior, proposed, config, request.prior_private, prior_identity)
    response.planned_state.msgpack = msgpack_codec.encode(planned.plan.planned, type_)
    response.requires_replace.extend(
        pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name=name)])
        for name in planned.plan.requires_replace
    )
    response.planned_private = planned.private
    response.diagnostics.extend(b.diagnostics(planned.diagnostics))
    identity = _identity(b, type_name, planned.identity)
    if identity is not None:
        response.planned_identity.CopyFrom(identity)


async def apply_resource_change(b: Backend, request: Wire, response: Wire) -> None:
    if request.type_name not in b.runner.resources:
        return b.refuse_unknown(response, "resource", request.type_name)
    type_ = b.runner.resource_schema(request.type_name).cty_type()
    prior = from_proto.dynamic_value(request.prior_state, type_, "prior_state", known=True)
    planned = from_proto.dynamic_value(request.planned_state, type_, "planned_state")
    config = from_proto.dynamic_value(request.config, type_, "config")
    if prior is None and planned is None:
        raise MalformedRequest("planned_state", "both it and prior_state are null")
    out = await b.runner.apply(request.type_name, prior, planned, config, request.planned_private)
    response.new_state.msgpack = msgpack_codec.encode(out.state, type_)
    response.private = out.private
    response.diagnostics.extend(b.diagnostics(out.diagnostics))
    identity = _identity(b, request.type_name, out.identity)
    if identity is not None:
        response.new_identity.CopyFrom(identity)


def import_resource_state(b: Backend, request: Wire, response: Wire) -> None:
    runner, type_name = b.runner, request.type_name
    if type_name not in runner.resources:
        return b.refuse_unknown(response, "resource", type_name)
    if request.HasField("identity"):
        schema = runner.identity_schemas.get(type_name)
        identity = from_proto.identity_data(request.identity, schema.cty_type()) if schema else None
        out = runner.import_by_identity(type_name, identity)
    else:
        out = runner.import_state(type_name, request.id)
    if out.state is not None and not out.diagnostics.has_error():
        type_ = runner.resource_schema(type_name).cty_type()
        imported = response.imported_resources.add(
            type_name=type_name, state=to_proto.dynamic_value(b.pb, out.state, type_)
        )
        identity_message = _identity(b, type_name, out.identity)
        if identity_message is not None:
            imported.identity.CopyFrom(identity_message)
    response.diagnostics.extend(b.diagnostics(out.diagnostics))


def upgrade_resource_identity(b: Backend, request: Wire, response: Wire) -> None:
    schema = b.runner.identity_schemas.get(request.type_name)
    if schema is None:
        return b.refuse_unknown(response, "resource with an identity", request.type_name)
    identity, diags = upgrade_identity(
        schema, request.type_name, request.version, request.raw_identity.json
    )
    if diags.has_error():
        response.diagnostics.extend(b.diagnostics(diags))
        return
    response.upgraded_identity.CopyFrom(to_proto.identity_data(b.pb, identity, schema))
