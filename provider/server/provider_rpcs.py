"""The RPCs about the provider as a whole: what it offers, its configuration,
stopping, and its functions.

Each handler fills in the empty response it is given: it decodes the request
(from_proto), calls the framework, and encodes the result (to_proto).
"""

from __future__ import annotations

import logging

from provider.cty import msgpack_codec
from provider.server import from_proto, to_proto
from provider.server.backend import Backend, Wire

log = logging.getLogger(__name__)


def _capabilities(b: Backend) -> Wire:
    # plan_destroy: the runner plans destroys (and resources may warn then).
    # get_provider_schema_optional: no RPC depends on GetProviderSchema having
    # been called first, so Terraform may reuse a schema it already has.
    # MoveResourceState and GenerateResourceConfig are not implemented.
    return b.pb.ServerCapabilities(plan_destroy=True, get_provider_schema_optional=True)


def get_metadata(b: Backend, request: Wire, response: Wire) -> None:
    meta, runner = b.pb.GetMetadata, b.runner
    response.server_capabilities.CopyFrom(_capabilities(b))
    response.resources.extend(meta.ResourceMetadata(type_name=n) for n in runner.resources)
    response.data_sources.extend(meta.DataSourceMetadata(type_name=n) for n in runner.data_sources)
    response.ephemeral_resources.extend(
        meta.EphemeralMetadata(type_name=n) for n in runner.ephemeral_resources
    )
    response.list_resources.extend(
        meta.ListResourceMetadata(type_name=n) for n in runner.list_resources
    )
    response.functions.extend(meta.FunctionMetadata(name=n) for n in runner.functions)
    response.actions.extend(meta.ActionMetadata(type_name=n) for n in runner.actions)


def get_provider_schema(b: Backend, request: Wire, response: Wire) -> None:
    if b.schema_response is None:
        pb, runner = b.pb, b.runner
        made = pb.GetProviderSchema.Response(
            provider=to_proto.schema(pb, runner.provider.schema),
            resource_schemas={
                n: to_proto.schema(pb, r.schema) for n, r in runner.resources.items()
            },
            data_source_schemas={
                n: to_proto.schema(pb, d.schema) for n, d in runner.data_sources.items()
            },
            server_capabilities=_capabilities(b),
        )
        for name, ephemeral in runner.ephemeral_resources.items():
            made.ephemeral_resource_schemas[name].CopyFrom(to_proto.schema(pb, ephemeral.schema))
        for name, listed in runner.list_resources.items():
            made.list_resource_schemas[name].CopyFrom(to_proto.schema(pb, listed.schema))
        for name, function in runner.functions.items():
            made.functions[name].CopyFrom(to_proto.function(pb, function))
        for name, action in runner.actions.items():
            made.action_schemas[name].CopyFrom(to_proto.action_schema(pb, action.schema))
        b.schema_response = made
    response.CopyFrom(b.schema_response)


def validate_provider_config(b: Backend, request: Wire, response: Wire) -> None:
    schema = b.runner.provider.schema
    config = from_proto.dynamic_value(request.config, schema.cty_type(), "config")
    response.diagnostics.extend(b.diagnostics(b.runner.validate_provider_config(config)))
    if b.version == 5:  # protocol 5 echoes the (unchanged) configuration
        response.prepared_config.CopyFrom(request.config)


def configure(b: Backend, request: Wire, response: Wire) -> None:
    schema = b.runner.provider.schema
    config = from_proto.dynamic_value(request.config, schema.cty_type(), "config")
    diags = b.runner.configure(config, request.terraform_version)
    response.diagnostics.extend(b.diagnostics(diags))


async def stop(b: Backend, request: Wire, response: Wire) -> None:
    log.info("Terraform asked the provider to stop: cancelling running operations")
    b.runner.stop()


def get_functions(b: Backend, request: Wire, response: Wire) -> None:
    for name, function in b.runner.functions.items():
        response.functions[name].CopyFrom(to_proto.function(b.pb, function))


def call_function(b: Backend, request: Wire, response: Wire) -> None:
    pb = b.pb
    function = b.runner.functions.get(request.name)
    if function is None:
        response.error.text = f"This provider has no function {request.name!r}."
        return
    if len(request.arguments) != len(function.parameters):
        response.error.text = (
            f"{request.name} takes {len(function.parameters)} argument(s), "
            f"got {len(request.arguments)}."
        )
        return
    arguments = [
        from_proto.dynamic_value(argument, parameter.type)
        for argument, parameter in zip(request.arguments, function.parameters, strict=True)
    ]
    result, error = b.kinds.call_function(request.name, arguments)
    if error is not None:
        response.error.CopyFrom(to_proto.function_error(pb, error))
        return
    response.result.msgpack = msgpack_codec.encode(result, function.returns)
