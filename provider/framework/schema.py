"""Declarative schemas: what a resource's configuration and state look like."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from provider.cty import CtyType, ListType, MapType, ObjectType, SetType
from provider.framework.diagnostics import Diagnostics
from provider.framework.path import Path
from provider.prebuilt_dataclasses import dataclass, field

# A validator inspects one known, non-null value and reports problems at `path`.
Validator = Callable[[Any, Path, Diagnostics], None]


@dataclass(frozen=True)
class Attribute:
    type: CtyType
    description: str = ""
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    # A change to this attribute replaces the resource instead of updating it.
    force_new: bool = False
    # Used when the configuration leaves the attribute null (needs optional+computed).
    default: Any = None
    # A non-empty message marks the attribute deprecated and is shown when it is set.
    deprecation_message: str = ""
    validators: tuple[Validator, ...] = ()
    # Computed values normally become unknown when the resource changes; a stable
    # attribute keeps its prior value (like the framework's UseStateForUnknown).
    stable: bool = False
    # Terraform 1.11+: the value (may be ephemeral) reaches apply through the
    # configuration only and is never kept in the plan or state (always null there).
    write_only: bool = False

    def __post_init__(self) -> None:
        if not (self.required or self.optional or self.computed):
            raise ValueError("an attribute must be required, optional or computed")
        if self.required and (self.optional or self.computed):
            raise ValueError("a required attribute cannot also be optional or computed")
        if self.default is not None and not (self.optional and self.computed):
            raise ValueError("an attribute with a default must be optional and computed")
        if self.write_only and self.computed:
            raise ValueError("a write-only attribute cannot be computed")


class Nesting(Enum):
    SINGLE = 1
    LIST = 2
    SET = 3
    MAP = 4
    GROUP = 5


@dataclass(frozen=True)
class Block:
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    blocks: Mapping[str, NestedBlock] = field(default_factory=dict)
    description: str = ""
    deprecated: bool = False

    def cty_type(self) -> ObjectType:
        # Asked on every call that decodes a value: made once per block, which is
        # frozen (kept beside the fields, so equality and hashing ignore it).
        made: ObjectType | None = self.__dict__.get("_cty_type")
        if made is None:
            types: dict[str, CtyType] = {n: a.type for n, a in self.attributes.items()}
            types.update({n: b.cty_type() for n, b in self.blocks.items()})
            made = self.__dict__["_cty_type"] = ObjectType.of(types)
        return made


@dataclass(frozen=True)
class NestedBlock:
    block: Block
    nesting: Nesting = Nesting.SINGLE
    min_items: int = 0
    max_items: int = 0
    force_new: bool = False

    def cty_type(self) -> CtyType:
        inner = self.block.cty_type()
        if self.nesting in (Nesting.SINGLE, Nesting.GROUP):
            return inner
        return {Nesting.LIST: ListType, Nesting.SET: SetType, Nesting.MAP: MapType}[self.nesting](
            inner
        )


@dataclass(frozen=True)
class Schema:
    block: Block
    version: int = 0

    def cty_type(self) -> ObjectType:
        return self.block.cty_type()

    @property
    def attributes(self) -> Mapping[str, Attribute]:
        return self.block.attributes
