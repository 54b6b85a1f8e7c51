"""One provider servicer for both protocol versions.

Protocols 5 and 6 carry the same messages under a few different names, so a
single core does the work and `ProtocolAdapter` maps each version's RPC and
message names onto it. Each handler decodes, calls the runner, encodes.

The handlers that may wait (ReadResource, ApplyResourceChange) and
StopProvider are coroutines: grpc.aio runs them on its event loop, so a wait
holds no thread and Stop never queues behind waits. The quick ones (schemas,
validation, state upgrades, planning: no I/O, by the framework's contract)
run on the loop too (`ON_THE_LOOP`). The rest (configure, import, data
sources: they may call remote APIs) are plain functions, which grpc.aio runs
on its worker threads.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from provider.cty import msgpack_codec
from provider.framework.diagnostics import Diagnostics
from provider.framework.runner import ProviderRunner
from provider.server import from_proto, to_proto
from provider.server.refusals import answering

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProtocolNames:
    """How one protocol version names the RPCs and messages that differ."""

    version: int
    rpc_to_core: dict[str, str]
    validate_provider: str
    validate_resource: str
    validate_data_source: str
    configure: str
    stop: str


PROTOCOL_5 = ProtocolNames(
    version=5,
    rpc_to_core={
        "GetSchema": "get_provider_schema",
        "PrepareProviderConfig": "validate_provider_config",
        "ValidateResourceTypeConfig": "validate_resource_config",
        "ValidateDataSourceConfig": "validate_data_source_config",
        "Configure": "configure",
        "Stop": "stop",
    },
    validate_provider="PrepareProviderConfig",
    validate_resource="ValidateResourceTypeConfig",
    validate_data_source="ValidateDataSourceConfig",
    configure="Configure",
    stop="Stop",
)

PROTOCOL_6 = ProtocolNames(
    version=6,
    rpc_to_core={
        "GetProviderSchema": "get_provider_schema",
        "ValidateProviderConfig": "validate_provider_config",
        "ValidateResourceConfig": "validate_resource_config",
        "ValidateDataResourceConfig": "validate_data_source_config",
        "ConfigureProvider": "configure",
        "StopProvider": "stop",
    },
    validate_provider="ValidateProviderConfig",
    validate_resource="ValidateResourceConfig",
    validate_data_source="ValidateDataResourceConfig",
    configure="ConfigureProvider",
    stop="StopProvider",
)

_SHARED_RPCS = {
    "UpgradeResourceState": "upgrade_resource_state",
    "ReadResource": "read_resource",
    "PlanResourceChange": "plan_resource_change",
    "ApplyResourceChange": "apply_resource_change",
    "ImportResourceState": "import_resource_state",
    "ReadDataSource": "read_data_source",
}


class ProviderServicerCore:
    def __init__(self, runner: ProviderRunner, pb: ModuleType, names: ProtocolNames) -> None:
        self.runner = runner
        self.pb = pb
        self.names = names
        self._schema_response: Any = None

    def _message(self, name: str) -> Any:
        return getattr(self.pb, name)

    def response_class(self, core_name: str) -> Any:
        """The response message of the RPC that `core_name` handles."""
        rpc = {v: k for k, v in {**self.names.rpc_to_core, **_SHARED_RPCS}.items()}[core_name]
        message = {"GetSchema": "GetProviderSchema"}.get(rpc, rpc)
        return self._message(message).Response

    def _diags(self, diags: Diagnostics) -> list[Any]:
        return to_proto.diagnostics(self.pb, diags)

    def _unknown_type(self, response_cls: Any, kind: str, type_name: str) -> Any:
        diags = Diagnostics()
        diags.add_error(f"Unknown {kind} type", f"This provider has no {kind} {type_name!r}.")
        return response_cls(diagnostics=self._diags(diags))

    def get_provider_schema(self, request: Any, context: Any) -> Any:
        if self._schema_response is None:
            pb, runner = self.pb, self.runner
            self._schema_response = pb.GetProviderSchema.Response(
                provider=to_proto.schema(pb, runner.provider.schema),
                resource_schemas={
                    n: to_proto.schema(pb, r.schema) for n, r in runner.resources.items()
                },
                data_source_schemas={
                    n: to_proto.schema(pb, d.schema) for n, d in runner.data_sources.items()
                },
            )
        return self._schema_response

    def validate_provider_config(self, request: Any, context: Any) -> Any:
        response_cls = self._message(self.names.validate_provider).Response
        config = from_proto.dynamic_value(
            request.config, self.runner.provider.schema.cty_type(), "config"
        )
        response = response_cls(
            diagnostics=self._diags(self.runner.validate_provider_config(config))
        )
        if self.names.version == 5:  # protocol 5 echoes the (unchanged) configuration
            response.prepared_config.CopyFrom(request.config)
        return response

    def validate_resource_config(self, request: Any, context: Any) -> Any:
        response_cls = self._message(self.names.validate_resource).Response
        if request.type_name not in self.runner.resources:
            return self._unknown_type(response_cls, "resource", request.type_name)
        schema = self.runner.resource_schema(request.type_name)
        config = from_proto.dynamic_value(
            request.config, schema.cty_type(), "config", required=True
        )
        diags = self.runner.validate_resource_config(request.type_name, config)
        return response_cls(diagnostics=self._diags(diags))

    def validate_data_source_config(self, request: Any, context: Any) -> Any:
        response_cls = self._message(self.names.validate_data_source).Response
        if request.type_name not in self.runner.data_sources:
            return self._unknown_type(response_cls, "data source", request.type_name)
        schema = self.runner.data_source_schema(request.type_name)
        config = from_proto.dynamic_value(
            request.config, schema.cty_type(), "config", required=True
        )
        diags = self.runner.validate_data_source_config(request.type_name, config)
        return response_cls(diagnostics=self._diags(diags))

    def configure(self, request: Any, context: Any) -> Any:
        config = from_proto.dynamic_value(
            request.config, self.runner.provider.schema.cty_type(), "config"
        )
        diags = self.runner.configure(config, request.terraform_version)
        return self._message(self.names.configure).Response(diagnostics=self._diags(diags))

    async def stop(self, request: Any, context: Any) -> Any:
        log.info("Terraform asked the provider to stop: cancelling running operations")
        self.runner.stop()
        return self._message(self.names.stop).Response()

    def upgrade_resource_state(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.UpgradeResourceState.Response
        if request.type_name not in self.runner.resources:
            return self._unknown_type(response_cls, "resource", request.type_name)
        raw_json = request.raw_state.json if request.raw_state.json else None
        out = self.runner.upgrade_state(request.type_name, request.version, raw_json)
        response = response_cls(diagnostics=self._diags(out.diagnostics))
        if not out.diagnostics.has_error():
            type_ = self.runner.resource_schema(request.type_name).cty_type()
            response.upgraded_state.msgpack = msgpack_codec.encode(out.state, type_)
        return response

    async def read_resource(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.ReadResource.Response
        if request.type_name not in self.runner.resources:
            return self._unknown_type(response_cls, "resource", request.type_name)
        type_ = self.runner.resource_schema(request.type_name).cty_type()
        state = from_proto.dynamic_value(
            request.current_state, type_, "current_state", required=True, known=True
        )
        out = await self.runner.read(request.type_name, state, request.private)
        return response_cls(
            new_state=to_proto.dynamic_value(self.pb, out.state, type_),
            private=out.private,
            diagnostics=self._diags(out.diagnostics),
        )

    def plan_resource_change(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.PlanResourceChange.Response
        if request.type_name not in self.runner.resources:
            return self._unknown_type(response_cls, "resource", request.type_name)
        type_ = self.runner.resource_schema(request.type_name).cty_type()
        prior = from_proto.dynamic_value(request.prior_state, type_, "prior_state", known=True)
        proposed = from_proto.dynamic_value(request.proposed_new_state, type_, "proposed_new_state")
        config = from_proto.dynamic_value(request.config, type_, "config")
        if prior is None and proposed is None:
            raise from_proto.MalformedRequest(
                "proposed_new_state", "both it and prior_state are null"
            )
        plan, private, diags = self.runner.plan(
            request.type_name, prior, proposed, config, request.prior_private
        )
        return response_cls(
            planned_state=to_proto.dynamic_value(self.pb, plan.planned, type_),
            requires_replace=[
                self.pb.AttributePath(steps=[self.pb.AttributePath.Step(attribute_name=name)])
                for name in plan.requires_replace
            ],
            planned_private=private,
            diagnostics=self._diags(diags),
        )

    async def apply_resource_change(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.ApplyResourceChange.Response
        if request.type_name not in self.runner.resources:
            return self._unknown_type(response_cls, "resource", request.type_name)
        type_ = self.runner.resource_schema(request.type_name).cty_type()
        prior = from_proto.dynamic_value(request.prior_state, type_, "prior_state", known=True)
        planned = from_proto.dynamic_value(request.planned_state, type_, "planned_state")
        config = from_proto.dynamic_value(request.config, type_, "config")
        if prior is None and planned is None:
            raise from_proto.MalformedRequest("planned_state", "both it and prior_state are null")
        out = await self.runner.apply(
            request.type_name, prior, planned, config, request.planned_private
        )
        return response_cls(
            new_state=to_proto.dynamic_value(self.pb, out.state, type_),
            private=out.private,
            diagnostics=self._diags(out.diagnostics),
        )

    def import_resource_state(self, request: Any, context: Any) -> Any:
        pb = self.pb
        if request.type_name not in self.runner.resources:
            return self._unknown_type(
                pb.ImportResourceState.Response, "resource", request.type_name
            )
        type_ = self.runner.resource_schema(request.type_name).cty_type()
        out = self.runner.import_state(request.type_name, request.id)
        imported = []
        if out.state is not None and not out.diagnostics.has_error():
            imported.append(
                pb.ImportResourceState.ImportedResource(
                    type_name=request.type_name, state=to_proto.dynamic_value(pb, out.state, type_)
                )
            )
        return pb.ImportResourceState.Response(
            imported_resources=imported, diagnostics=self._diags(out.diagnostics)
        )

    def read_data_source(self, request: Any, context: Any) -> Any:
        response_cls = self.pb.ReadDataSource.Response
        if request.type_name not in self.runner.data_sources:
            return self._unknown_type(response_cls, "data source", request.type_name)
        type_ = self.runner.data_source_schema(request.type_name).cty_type()
        config = from_proto.dynamic_value(request.config, type_, "config", required=True)
        out = self.runner.read_data_source(request.type_name, config)
        return response_cls(
            state=to_proto.dynamic_value(self.pb, out.state, type_),
            diagnostics=self._diags(out.diagnostics),
        )


# RPCs that only run the framework's quick, I/O-free code (and resources'
# validate_config / modify_plan / upgrade_state, which must not block: see
# provider/framework/resource.py). They run on the event loop itself: grpc.aio
# hands a plain handler to a worker thread and back, which cost 0.1-0.2 ms
# per call with 10 calls at once (bench/bare_null_plugin.py on grpc.aio, plain
# vs coroutine handlers), and a plan of 100 resources makes about 400 of them.
ON_THE_LOOP = frozenset(
    {
        "GetMetadata",
        "GetSchema",
        "GetProviderSchema",
        "GetResourceIdentitySchemas",
        "PrepareProviderConfig",
        "ValidateProviderConfig",
        "ValidateResourceTypeConfig",
        "ValidateResourceConfig",
        "ValidateDataSourceConfig",
        "ValidateDataResourceConfig",
        "ValidateEphemeralResourceConfig",
        "ValidateListResourceConfig",
        "UpgradeResourceState",
        "UpgradeResourceIdentity",
        "PlanResourceChange",
    }
)


class ProtocolAdapter:
    """Presents the core under one protocol version's RPC names, as grpc expects.

    RPCs of the newer protocol features (servicer_features) come first; RPCs
    nobody implements (state stores, actions, ...) answer UNIMPLEMENTED."""

    def __init__(self, core: ProviderServicerCore) -> None:
        from provider.server.servicer_features import FeatureServicer

        self._routes = {**core.names.rpc_to_core, **_SHARED_RPCS}
        self._core = core
        self._features = FeatureServicer(core)

    def __getattr__(self, rpc_name: str) -> Any:
        if rpc_name.startswith("_"):
            raise AttributeError(rpc_name)
        core = self._core
        feature = getattr(self._features, rpc_name, None)
        if feature is not None and rpc_name[:1].isupper():
            if rpc_name == "ListResource":  # a stream: its events carry the diagnostics
                return feature
            message = {"GetSchema": "GetProviderSchema"}.get(rpc_name, rpc_name)
            # A wrapped core RPC is refused the core's way (e.g. handing back the state).
            name = self._routes.get(rpc_name, rpc_name)
            response_cls = getattr(core.pb, message).Response
            return answering(name, response_cls, core.pb, _placed(rpc_name, feature))
        core_name = self._routes.get(rpc_name)
        if core_name is None:
            return _unimplemented(rpc_name)
        response_cls = core.response_class(core_name)
        handler = _placed(rpc_name, getattr(core, core_name))
        return answering(core_name, response_cls, core.pb, handler)


def _placed(rpc_name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler`, made a coroutine (so grpc.aio runs it on the loop) when it is quick."""
    if rpc_name not in ON_THE_LOOP or inspect.iscoroutinefunction(handler):
        return handler

    @functools.wraps(handler)
    async def on_the_loop(request: Any, context: Any) -> Any:
        return handler(request, context)

    return on_the_loop


def _unimplemented(rpc_name: str) -> Any:
    def handler(request: Any, context: Any) -> Any:
        import grpc

        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{rpc_name} is not implemented")

    return handler
