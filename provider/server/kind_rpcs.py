"""The RPCs of data sources, ephemeral resources and list resources.

Each handler fills in the empty response it is given: it decodes the request
(from_proto), calls the framework, and encodes the result (to_proto).
ListResource streams its events instead, each carrying its own diagnostics.
"""

from __future__ import annotations

from collections.abc import Iterator

from provider.framework.diagnostics import Diagnostics
from provider.server import from_proto, to_proto
from provider.server.backend import Backend, Wire

# ---- data sources -----------------------------------------------------------------


def validate_data_source_config(b: Backend, request: Wire, response: Wire) -> None:
    if request.type_name not in b.runner.data_sources:
        return b.refuse_unknown(response, "data source", request.type_name)
    schema = b.runner.data_source_schema(request.type_name)
    config = from_proto.dynamic_value(request.config, schema.cty_type(), "config", required=True)
    diags = b.runner.validate_data_source_config(request.type_name, config)
    response.diagnostics.extend(b.diagnostics(diags))


def read_data_source(b: Backend, request: Wire, response: Wire) -> None:
    if request.type_name not in b.runner.data_sources:
        return b.refuse_unknown(response, "data source", request.type_name)
    type_ = b.runner.data_source_schema(request.type_name).cty_type()
    config = from_proto.dynamic_value(request.config, type_, "config", required=True)
    out = b.runner.read_data_source(request.type_name, config)
    response.state.CopyFrom(to_proto.dynamic_value(b.pb, out.state, type_))
    response.diagnostics.extend(b.diagnostics(out.diagnostics))


# ---- ephemeral resources ----------------------------------------------------------


def validate_ephemeral_resource_config(b: Backend, request: Wire, response: Wire) -> None:
    resource = b.runner.ephemeral_resources.get(request.type_name)
    if resource is None:
        return b.refuse_unknown(response, "ephemeral resource", request.type_name)
    config = from_proto.dynamic_value(request.config, resource.schema.cty_type())
    diags = b.kinds.validate_ephemeral_config(request.type_name, config)
    response.diagnostics.extend(b.diagnostics(diags))


async def open_ephemeral_resource(b: Backend, request: Wire, response: Wire) -> None:
    resource = b.runner.ephemeral_resources.get(request.type_name)
    if resource is None:
        return b.refuse_unknown(response, "ephemeral resource", request.type_name)
    type_ = resource.schema.cty_type()
    config = from_proto.dynamic_value(request.config, type_)
    opened = await b.kinds.open_ephemeral(request.type_name, config)
    response.diagnostics.extend(b.diagnostics(opened.diagnostics))
    if opened.result is not None:
        response.result.CopyFrom(to_proto.dynamic_value(b.pb, opened.result, type_))
    if opened.private:
        response.private = opened.private


def renew_ephemeral_resource(b: Backend, request: Wire, response: Wire) -> None:
    """We never set renew_at, so Terraform has nothing to renew."""


def close_ephemeral_resource(b: Backend, request: Wire, response: Wire) -> None:
    if request.type_name not in b.runner.ephemeral_resources:
        return b.refuse_unknown(response, "ephemeral resource", request.type_name)
    diags = b.kinds.close_ephemeral(request.type_name, request.private)
    response.diagnostics.extend(b.diagnostics(diags))


# ---- list resources ---------------------------------------------------------------


def validate_list_resource_config(b: Backend, request: Wire, response: Wire) -> None:
    listed = b.runner.list_resources.get(request.type_name)
    if listed is None:
        return b.refuse_unknown(response, "list resource", request.type_name)
    config = from_proto.dynamic_value(request.config, listed.schema.cty_type())
    diags = b.kinds.validate_list_config(request.type_name, config or {})
    response.diagnostics.extend(b.diagnostics(diags))


def list_resource(b: Backend, request: Wire) -> Iterator[Wire]:
    pb, runner = b.pb, b.runner
    listed = runner.list_resources.get(request.type_name)
    if listed is None:
        diags = Diagnostics()
        diags.add_error(
            "Unknown list resource type", f"This provider has no {request.type_name!r}."
        )
        event = pb.ListResource.Event()
        event.diagnostic.extend(b.diagnostics(diags))
        yield event
        return
    identity_schema = runner.identity_schemas.get(request.type_name)
    config = from_proto.dynamic_value(request.config, listed.schema.cty_type()) or {}
    managed = runner.resources.get(request.type_name)
    results = b.kinds.list_objects(
        request.type_name, config, request.include_resource_object, request.limit
    )
    for result in results:
        event = pb.ListResource.Event(display_name=result.display_name)
        event.diagnostic.extend(b.diagnostics(result.diagnostics))
        if result.identity is not None and identity_schema is not None:
            event.identity.CopyFrom(to_proto.identity_data(pb, result.identity, identity_schema))
        if result.resource is not None and managed is not None:
            event.resource_object.CopyFrom(
                to_proto.dynamic_value(pb, result.resource, managed.schema.cty_type())
            )
        yield event
