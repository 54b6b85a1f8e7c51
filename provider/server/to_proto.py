"""Framework values to wire messages. The only place paths and diagnostics
take their wire shape.

The msgpack codec is imported by the first value encoded, and the schema
and cty modules only by the type checker, not with this module: the server
imports it at start, and a start that only reports the schema does without
the codecs (rpc_table.py, `Later`) and, with a prebuilt schema, without
the framework's schema and types (schema_snapshot.py)."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from provider.framework.diagnostics import Diagnostic, Severity
from provider.framework.path import AttributeName, Path

if TYPE_CHECKING:
    from provider.cty import CtyType
    from provider.framework.function import Function, FunctionError
    from provider.framework.identity import IdentitySchema
    from provider.framework.schema import Block, Schema


def dynamic_value(pb: ModuleType, value: Any, type_: CtyType) -> Any:
    from provider.cty import msgpack_codec

    return pb.DynamicValue(msgpack=msgpack_codec.encode(value, type_))


def attribute_path(pb: ModuleType, path: Path) -> Any:
    steps = []
    for step in path.steps:
        if isinstance(step, AttributeName):
            steps.append(pb.AttributePath.Step(attribute_name=step.name))
        elif isinstance(step.key, int):
            steps.append(pb.AttributePath.Step(element_key_int=step.key))
        else:
            steps.append(pb.AttributePath.Step(element_key_string=step.key))
    return pb.AttributePath(steps=steps)


def diagnostics(pb: ModuleType, items: Iterable[Diagnostic]) -> list[Any]:
    out = []
    for diag in items:
        severity = pb.Diagnostic.ERROR if diag.severity is Severity.ERROR else pb.Diagnostic.WARNING
        message = pb.Diagnostic(severity=severity, summary=diag.summary, detail=diag.detail)
        if diag.path is not None:
            message.attribute.CopyFrom(attribute_path(pb, diag.path))
        out.append(message)
    return out


def schema(pb: ModuleType, value: Schema) -> Any:
    return pb.Schema(version=value.version, block=_block(pb, value.block))


def action_schema(pb: ModuleType, value: Schema) -> Any:
    return pb.ActionSchema(schema=schema(pb, value))


def _block(pb: ModuleType, block: Block) -> Any:
    attributes = [
        pb.Schema.Attribute(
            name=name,
            type=attr.type.json_bytes(),
            description=attr.description,
            description_kind=pb.MARKDOWN,
            required=attr.required,
            optional=attr.optional,
            computed=attr.computed,
            sensitive=attr.sensitive,
            deprecated=bool(attr.deprecation_message),
            write_only=attr.write_only,
        )
        for name, attr in block.attributes.items()
    ]
    block_types = [
        pb.Schema.NestedBlock(
            type_name=name,
            block=_block(pb, nested.block),
            nesting=nested.nesting.value,
            min_items=nested.min_items,
            max_items=nested.max_items,
        )
        for name, nested in block.blocks.items()
    ]
    return pb.Schema.Block(
        attributes=attributes,
        block_types=block_types,
        description=block.description,
        description_kind=pb.MARKDOWN,
        deprecated=block.deprecated,
    )


def identity_schema(pb: ModuleType, value: IdentitySchema) -> Any:
    return pb.ResourceIdentitySchema(
        version=value.version,
        identity_attributes=[
            pb.ResourceIdentitySchema.IdentityAttribute(
                name=name,
                type=attr.type.json_bytes(),
                required_for_import=attr.required_for_import,
                optional_for_import=not attr.required_for_import,
                description=attr.description,
            )
            for name, attr in value.attributes.items()
        ],
    )


def identity_data(pb: ModuleType, value: Any, schema_: IdentitySchema) -> Any:
    return pb.ResourceIdentityData(identity_data=dynamic_value(pb, value, schema_.cty_type()))


def function(pb: ModuleType, value: Function) -> Any:
    return pb.Function(
        parameters=[
            pb.Function.Parameter(
                name=p.name,
                type=p.type.json_bytes(),
                description=p.description,
                description_kind=pb.MARKDOWN,
            )
            for p in value.parameters
        ],
        summary=value.summary,
        description=value.description,
        description_kind=pb.MARKDOWN,
        **{"return": pb.Function.Return(type=value.returns.json_bytes())},
    )


def function_error(pb: ModuleType, err: FunctionError) -> Any:
    message = pb.FunctionError(text=err.text)
    if err.argument is not None:
        message.function_argument = err.argument
    return message
