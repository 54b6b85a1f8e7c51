"""Schemas as Terraform receives them, and schema declaration errors."""

from __future__ import annotations

import json

import pytest

from provider._generated import tfplugin5_pb2, tfplugin6_pb2
from provider.cty import NUMBER, STRING, ListType
from provider.framework import Attribute, Block, NestedBlock, Nesting, Schema, timeouts_block
from provider.framework.diagnostics import Diagnostics
from provider.framework.path import Path
from provider.server import to_proto

SCHEMA = Schema(
    Block(
        attributes={
            "fqdns": Attribute(ListType(STRING), required=True, description="Nodes."),
            "token": Attribute(STRING, computed=True, sensitive=True),
            "old": Attribute(NUMBER, optional=True, deprecation_message="Use new."),
        },
        blocks={
            "timeouts": timeouts_block(create="30m"),
            "rule": NestedBlock(
                Block({"port": Attribute(NUMBER, required=True)}), Nesting.LIST, 1, 3
            ),
        },
    ),
    version=2,
)


@pytest.mark.parametrize("pb", [tfplugin5_pb2, tfplugin6_pb2])
def test_schema_to_proto(pb) -> None:  # type: ignore[no-untyped-def]
    message = to_proto.schema(pb, SCHEMA)
    assert message.version == 2
    attrs = {a.name: a for a in message.block.attributes}
    assert json.loads(attrs["fqdns"].type) == ["list", "string"]
    assert attrs["fqdns"].required and attrs["fqdns"].description == "Nodes."
    assert attrs["token"].computed and attrs["token"].sensitive
    assert attrs["old"].deprecated
    blocks = {b.type_name: b for b in message.block.block_types}
    assert blocks["timeouts"].nesting == pb.Schema.NestedBlock.SINGLE
    assert [a.name for a in blocks["timeouts"].block.attributes] == ["create"]
    assert (blocks["rule"].nesting, blocks["rule"].min_items, blocks["rule"].max_items) == (
        pb.Schema.NestedBlock.LIST,
        1,
        3,
    )


def test_block_cty_type_includes_nested_blocks() -> None:
    assert SCHEMA.cty_type().attribute_types["rule"] == ListType(
        Block({"port": Attribute(NUMBER, required=True)}).cty_type()
    )


def test_diagnostic_paths_to_proto() -> None:
    diags = Diagnostics()
    diags.add_attribute_error(Path.root("rule").at_key(0).at_name("port"), "Bad port")
    (message,) = to_proto.diagnostics(tfplugin6_pb2, diags)
    steps = message.attribute.steps
    assert [s.WhichOneof("selector") for s in steps] == [
        "attribute_name",
        "element_key_int",
        "attribute_name",
    ]
    assert message.severity == tfplugin6_pb2.Diagnostic.ERROR


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"required": True, "computed": True}, {"optional": True, "default": 1}],
)
def test_invalid_attribute_declarations_fail_early(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        Attribute(NUMBER, **kwargs)
