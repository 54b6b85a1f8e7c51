"""The RPCs about the provider as a whole: its configuration, stopping, and
calling its functions (what it offers is reported by schema_rpcs.py).

Each handler fills in the empty response it is given: it decodes the request
(from_proto), calls the framework, and encodes the result (to_proto).
"""

from __future__ import annotations

import logging

from provider.cty import msgpack_codec
from provider.server import from_proto, to_proto
from provider.server.backend import Backend, Wire

log = logging.getLogger(__name__)


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
    b.stop()


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
