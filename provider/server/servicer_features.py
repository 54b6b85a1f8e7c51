"""The RPCs of protocol 5.10 / 6.10 beyond the managed-resource core.

GetMetadata and server capabilities, resource identity, ephemeral resources,
list resources (`terraform query`) and provider functions. Their names are the
same in both protocol versions. Identity rides on the core's managed-resource
RPCs: those are wrapped here (the core answers, we add the identity), so the
core stays as it is. Each handler decodes, calls KindsRunner, encodes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from provider.cty import msgpack_codec
from provider.framework.diagnostics import Diagnostics
from provider.framework.kinds import KindsRunner
from provider.server import from_proto, to_proto

log = logging.getLogger(__name__)


class FeatureServicer:
    """RPC-named handlers (as grpc calls them) for one protocol version's module `pb`."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.pb = core.pb
        self.runner = core.runner
        self.kinds = KindsRunner(core.runner)
        self._schema_response: Any = None
        schema_rpc = "GetProviderSchema" if core.names.version == 6 else "GetSchema"
        setattr(self, schema_rpc, self._get_provider_schema)

    def _diags(self, diags: Diagnostics) -> list[Any]:
        return to_proto.diagnostics(self.pb, diags)

    def _unknown(self, response_cls: Any, kind: str, type_name: str, **fields: Any) -> Any:
        diags = Diagnostics()
        diags.add_error(f"Unknown {kind} type", f"This provider has no {kind} {type_name!r}.")
        return response_cls(diagnostics=self._diags(diags), **fields)

    # ---- what the provider offers -------------------------------------------------

    def _capabilities(self) -> Any:
        # plan_destroy: the runner plans destroys (and resources may warn then).
        # get_provider_schema_optional: no RPC depends on GetProviderSchema having
        # been called first, so Terraform may reuse a schema it already has.
        # MoveResourceState and GenerateResourceConfig are not implemented.
        return self.pb.ServerCapabilities(plan_destroy=True, get_provider_schema_optional=True)

    def GetMetadata(self, request: Any, context: Any) -> Any:
        pb, meta = self.pb, self.pb.GetMetadata
        return meta.Response(
            server_capabilities=self._capabilities(),
            resources=[meta.ResourceMetadata(type_name=n) for n in self.runner.resources],
            data_sources=[meta.DataSourceMetadata(type_name=n) for n in self.runner.data_sources],
            ephemeral_resources=[
                meta.EphemeralMetadata(type_name=n) for n in self.kinds.ephemeral_resources
            ],
            list_resources=[
                meta.ListResourceMetadata(type_name=n) for n in self.kinds.list_resources
            ],
            functions=[meta.FunctionMetadata(name=n) for n in self.kinds.functions],
            diagnostics=to_proto.diagnostics(pb, Diagnostics()),
        )

    def _get_provider_schema(self, request: Any, context: Any) -> Any:
        if self._schema_response is None:
            pb, kinds = self.pb, self.kinds
            response = pb.GetProviderSchema.Response()
            response.CopyFrom(self.core.get_provider_schema(request, context))
            for name, resource in kinds.ephemeral_resources.items():
                response.ephemeral_resource_schemas[name].CopyFrom(
                    to_proto.schema(pb, resource.schema)
                )
            for name, resource in kinds.list_resources.items():
                response.list_resource_schemas[name].CopyFrom(to_proto.schema(pb, resource.schema))
            for name, function in kinds.functions.items():
                response.functions[name].CopyFrom(to_proto.function(pb, function))
            response.server_capabilities.CopyFrom(self._capabilities())
            self._schema_response = response
        return self._schema_response

    # ---- resource identity --------------------------------------------------------

    def GetResourceIdentitySchemas(self, request: Any, context: Any) -> Any:
        pb = self.pb
        return pb.GetResourceIdentitySchemas.Response(
            identity_schemas={
                name: to_proto.identity_schema(pb, schema)
                for name, schema in self.kinds.identity_schemas().items()
            }
        )

    def UpgradeResourceIdentity(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.UpgradeResourceIdentity.Response
        schema = self.kinds.identity_schemas().get(request.type_name)
        if schema is None:
            return self._unknown(response_cls, "resource with an identity", request.type_name)
        diags = Diagnostics()
        if request.version != schema.version or not request.raw_identity.json:
            diags.add_error(
                "Identity version not supported",
                f"{request.type_name} identity has version {request.version}; this provider "
                f"only knows version {schema.version}.",
            )
            return response_cls(diagnostics=self._diags(diags))
        try:
            identity = from_proto.json_value(request.raw_identity.json, schema.cty_type())
        except ValueError as err:
            diags.add_error("Invalid stored identity", f"{request.type_name}: {err}.")
            return response_cls(diagnostics=self._diags(diags))
        return response_cls(upgraded_identity=to_proto.identity_data(self.pb, identity, schema))

    def _with_identity(self, type_name: str, state_message: Any) -> Any:
        """The identity of the object a response's DynamicValue holds, or None."""
        schema = self.kinds.identity_schemas().get(type_name)
        if schema is None or not (state_message.msgpack or state_message.json):
            return None
        type_ = self.runner.resource_schema(type_name).cty_type()
        identity = self.kinds.identity_of(type_name, from_proto.dynamic_value(state_message, type_))
        return None if identity is None else to_proto.identity_data(self.pb, identity, schema)

    def _drop_write_only(self, type_name: str, message: Any) -> None:
        """Null the write-only attributes in a state or plan: Terraform keeps them nowhere."""
        schema = self.runner.resource_schema(type_name)
        names = [n for n, a in schema.block.attributes.items() if a.write_only]
        if not names:
            return
        type_ = schema.cty_type()
        value = from_proto.dynamic_value(message, type_)
        if isinstance(value, dict) and any(value.get(n) is not None for n in names):
            message.CopyFrom(
                to_proto.dynamic_value(self.pb, {**value, **dict.fromkeys(names)}, type_)
            )

    def _finish_new_state(self, type_name: str, response: Any) -> Any:
        """A read's or an apply's new state: without write-only values, with its identity."""
        if type_name in self.runner.resources:
            self._drop_write_only(type_name, response.new_state)
            identity = self._with_identity(type_name, response.new_state)
            if identity is not None:
                response.new_identity.CopyFrom(identity)
        return response

    async def ReadResource(self, request: Any, context: Any) -> Any:
        response = await self.core.read_resource(request, context)
        return self._finish_new_state(request.type_name, response)

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        if request.type_name in self.runner.resources:
            # Plan as if write-only values were absent: they never count as a change.
            self._drop_write_only(request.type_name, request.proposed_new_state)
        response = self.core.plan_resource_change(request, context)
        if request.type_name not in self.runner.resources:
            return response
        type_ = self.runner.resource_schema(request.type_name).cty_type()
        if from_proto.dynamic_value(response.planned_state, type_) is None:
            return response  # a destroy: the identity goes with the object
        self._drop_write_only(request.type_name, response.planned_state)
        identity = self._with_identity(request.type_name, response.planned_state)
        keeps_identity = not response.requires_replace and request.HasField("prior_identity")
        if identity is None and keeps_identity:
            identity = request.prior_identity  # an update keeps its identity
        if identity is not None:
            response.planned_identity.CopyFrom(identity)
        return response

    async def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        response = await self.core.apply_resource_change(request, context)
        return self._finish_new_state(request.type_name, response)

    def ImportResourceState(self, request: Any, context: Any) -> Any:
        pb = self.pb
        if request.type_name in self.runner.resources and request.HasField("identity"):
            schema = self.kinds.identity_schemas().get(request.type_name)
            identity = (
                from_proto.identity_data(request.identity, schema.cty_type()) if schema else None
            )
            import_id, diags = self.kinds.import_id_for(request.type_name, identity or {})
            if import_id is None:
                return pb.ImportResourceState.Response(diagnostics=self._diags(diags))
            by_id = pb.ImportResourceState.Request()
            by_id.CopyFrom(request)
            by_id.id = import_id
            by_id.ClearField("identity")
            request = by_id
        response = self.core.import_resource_state(request, context)
        for imported in response.imported_resources:
            identity = self._with_identity(imported.type_name, imported.state)
            if identity is not None:
                imported.identity.CopyFrom(identity)
        return response

    # ---- ephemeral resources ------------------------------------------------------

    def ValidateEphemeralResourceConfig(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.ValidateEphemeralResourceConfig.Response
        resource = self.kinds.ephemeral_resources.get(request.type_name)
        if resource is None:
            return self._unknown(response_cls, "ephemeral resource", request.type_name)
        config = from_proto.dynamic_value(request.config, resource.schema.cty_type())
        diags = self.kinds.validate_ephemeral_config(request.type_name, config)
        return response_cls(diagnostics=self._diags(diags))

    async def OpenEphemeralResource(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.OpenEphemeralResource.Response
        resource = self.kinds.ephemeral_resources.get(request.type_name)
        if resource is None:
            return self._unknown(response_cls, "ephemeral resource", request.type_name)
        type_ = resource.schema.cty_type()
        config = from_proto.dynamic_value(request.config, type_)
        opened = await self.kinds.open_ephemeral(request.type_name, config)
        response = response_cls(diagnostics=self._diags(opened.diagnostics))
        if opened.result is not None:
            response.result.CopyFrom(to_proto.dynamic_value(self.pb, opened.result, type_))
        if opened.private:
            response.private = opened.private
        return response

    def RenewEphemeralResource(self, request: Any, context: Any) -> Any:
        # We never set renew_at, so Terraform has nothing to renew.
        return self.pb.RenewEphemeralResource.Response()

    def CloseEphemeralResource(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.CloseEphemeralResource.Response
        if request.type_name not in self.kinds.ephemeral_resources:
            return self._unknown(response_cls, "ephemeral resource", request.type_name)
        diags = self.kinds.close_ephemeral(request.type_name, request.private)
        return response_cls(diagnostics=self._diags(diags))

    # ---- list resources -----------------------------------------------------------

    def ValidateListResourceConfig(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.ValidateListResourceConfig.Response
        if request.type_name not in self.kinds.list_resources:
            return self._unknown(response_cls, "list resource", request.type_name)
        schema = self.kinds.list_resource(request.type_name).schema
        config = from_proto.dynamic_value(request.config, schema.cty_type())
        diags = self.kinds.validate_list_config(request.type_name, config or {})
        return response_cls(diagnostics=self._diags(diags))

    def ListResource(self, request: Any, context: Any) -> Iterator[Any]:
        pb = self.pb
        event_cls = pb.ListResource.Event
        if request.type_name not in self.kinds.list_resources:
            yield self._unknown_event(request.type_name)
            return
        schema = self.kinds.list_resource(request.type_name).schema
        identity_schema = self.kinds.identity_schemas().get(request.type_name)
        config = from_proto.dynamic_value(request.config, schema.cty_type()) or {}
        managed = self.runner.resources.get(request.type_name)
        results = self.kinds.list(
            request.type_name, config, request.include_resource_object, request.limit
        )
        for result in results:
            event = event_cls(display_name=result.display_name)
            event.diagnostic.extend(self._diags(result.diagnostics))
            if result.identity is not None and identity_schema is not None:
                event.identity.CopyFrom(
                    to_proto.identity_data(pb, result.identity, identity_schema)
                )
            if result.resource is not None and managed is not None:
                event.resource_object.CopyFrom(
                    to_proto.dynamic_value(pb, result.resource, managed.schema.cty_type())
                )
            yield event

    def _unknown_event(self, type_name: str) -> Any:
        diags = Diagnostics()
        diags.add_error("Unknown list resource type", f"This provider has no {type_name!r}.")
        event = self.pb.ListResource.Event()
        event.diagnostic.extend(self._diags(diags))
        return event

    # ---- functions ----------------------------------------------------------------

    def GetFunctions(self, request: Any, context: Any) -> Any:
        pb = self.pb
        return pb.GetFunctions.Response(
            functions={n: to_proto.function(pb, f) for n, f in self.kinds.functions.items()}
        )

    def CallFunction(self, request: Any, context: Any) -> Any:
        pb = self.pb
        function = self.kinds.functions.get(request.name)
        if function is None:
            return pb.CallFunction.Response(
                error=pb.FunctionError(text=f"This provider has no function {request.name!r}.")
            )
        if len(request.arguments) != len(function.parameters):
            return pb.CallFunction.Response(
                error=pb.FunctionError(
                    text=f"{request.name} takes {len(function.parameters)} argument(s), "
                    f"got {len(request.arguments)}."
                )
            )
        arguments = [
            from_proto.dynamic_value(argument, parameter.type)
            for argument, parameter in zip(request.arguments, function.parameters, strict=True)
        ]
        result, error = self.kinds.call_function(request.name, arguments)
        if error is not None:
            return pb.CallFunction.Response(error=to_proto.function_error(pb, error))
        return pb.CallFunction.Response(
            result=pb.DynamicValue(msgpack=msgpack_codec.encode(result, function.returns))
        )
