"""The RPCs that report what the provider offers: its metadata and schemas.

They read only the catalog (provider/framework/catalog.py), so this is the
one handler module the RPC table imports with the server: a start that
Terraform makes only to read the schema imports nothing else of the
handlers' machinery (rpc_table.py, `Later`), and, when the answer was
prebuilt (schema_snapshot.py), not the catalog either.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

from provider.server import to_proto
from provider.server.backend import Backend, Wire


def _capabilities(b: Backend) -> Wire:
    # plan_destroy: the runner plans destroys (and resources may warn then).
    # get_provider_schema_optional: no RPC depends on GetProviderSchema having
    # been called first, so Terraform may reuse a schema it already has.
    # MoveResourceState and GenerateResourceConfig are not implemented.
    return b.pb.ServerCapabilities(plan_destroy=True, get_provider_schema_optional=True)


def get_metadata(b: Backend, request: Wire, response: Wire) -> None:
    meta, catalog = b.pb.GetMetadata, b.catalog
    response.server_capabilities.CopyFrom(_capabilities(b))
    response.resources.extend(meta.ResourceMetadata(type_name=n) for n in catalog.resources)
    response.data_sources.extend(meta.DataSourceMetadata(type_name=n) for n in catalog.data_sources)
    response.ephemeral_resources.extend(
        meta.EphemeralMetadata(type_name=n) for n in catalog.ephemeral_resources
    )
    response.list_resources.extend(
        meta.ListResourceMetadata(type_name=n) for n in catalog.list_resources
    )
    response.functions.extend(meta.FunctionMetadata(name=n) for n in catalog.functions)
    response.actions.extend(meta.ActionMetadata(type_name=n) for n in catalog.actions)


def _prebuilt(b: Backend) -> Wire:
    """The snapshot's answer, or None (then it is made, as with no snapshot)."""
    answer = b.prebuilt_schema() if b.prebuilt_schema is not None else None
    if answer is None:
        return None
    try:
        return b.pb.GetProviderSchema.Response.FromString(answer)
    except DecodeError:
        return None


def get_provider_schema(b: Backend, request: Wire, response: Wire) -> None:
    if b.schema_response is None:
        b.schema_response = _prebuilt(b)
    if b.schema_response is None:
        pb, catalog = b.pb, b.catalog
        made = pb.GetProviderSchema.Response(
            provider=to_proto.schema(pb, catalog.provider.schema),
            resource_schemas={
                n: to_proto.schema(pb, r.schema) for n, r in catalog.resources.items()
            },
            data_source_schemas={
                n: to_proto.schema(pb, d.schema) for n, d in catalog.data_sources.items()
            },
            server_capabilities=_capabilities(b),
        )
        for name, ephemeral in catalog.ephemeral_resources.items():
            made.ephemeral_resource_schemas[name].CopyFrom(to_proto.schema(pb, ephemeral.schema))
        for name, listed in catalog.list_resources.items():
            made.list_resource_schemas[name].CopyFrom(to_proto.schema(pb, listed.schema))
        for name, function in catalog.functions.items():
            made.functions[name].CopyFrom(to_proto.function(pb, function))
        for name, action in catalog.actions.items():
            made.action_schemas[name].CopyFrom(to_proto.action_schema(pb, action.schema))
        b.schema_response = made
    response.CopyFrom(b.schema_response)


def get_functions(b: Backend, request: Wire, response: Wire) -> None:
    for name, function in b.catalog.functions.items():
        response.functions[name].CopyFrom(to_proto.function(b.pb, function))


def get_resource_identity_schemas(b: Backend, request: Wire, response: Wire) -> None:
    for name, schema in b.catalog.identity_schemas.items():
        response.identity_schemas[name].CopyFrom(to_proto.identity_schema(b.pb, schema))
