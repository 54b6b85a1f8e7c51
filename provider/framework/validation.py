"""Schema-driven checks of a configuration: validators and deprecations."""

from __future__ import annotations

from typing import Any

from provider.cty import UNKNOWN
from provider.framework.diagnostics import Diagnostics
from provider.framework.path import Path
from provider.framework.schema import Block, Nesting


def validate_block(
    block: Block, value: dict[str, Any] | None, base: Path | None = None
) -> Diagnostics:
    diags = Diagnostics()
    _walk(block, value, base, diags)
    return diags


def _walk(
    block: Block, value: dict[str, Any] | None, base: Path | None, diags: Diagnostics
) -> None:
    if not isinstance(value, dict):
        return
    for name, attr in block.attributes.items():
        path = base.at_name(name) if base else Path.root(name)
        attr_value = value.get(name)
        if attr_value is None or attr_value is UNKNOWN:
            continue
        if attr.deprecation_message:
            diags.add_warning("Deprecated attribute", f"{path}: {attr.deprecation_message}", path)
        for validator in attr.validators:
            validator(attr_value, path, diags)
    for name, nested in block.blocks.items():
        path = base.at_name(name) if base else Path.root(name)
        inner = value.get(name)
        if inner is None or inner is UNKNOWN:
            continue
        if nested.nesting in (Nesting.SINGLE, Nesting.GROUP):
            _walk(nested.block, inner, path, diags)
        elif nested.nesting is Nesting.MAP:
            for key, element in inner.items():
                _walk(nested.block, element, path.at_key(key), diags)
        else:
            for index, element in enumerate(inner):
                _walk(nested.block, element, path.at_key(index), diags)
