"""Provider-defined functions (Terraform 1.8+): `provider::tarmak::name(...)`.

A function declares typed parameters and a return type and computes its result
from known arguments alone: no clients, no I/O, so Terraform may call it at
any time (validate, plan, console). A bad argument is reported with
FunctionError, naming the argument, instead of a diagnostic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from provider.cty import CtyType
from provider.prebuilt_dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    name: str
    type: CtyType
    description: str = ""


class FunctionError(Exception):
    """Raised by `call` for a bad argument; `argument` is its position."""

    def __init__(self, text: str, argument: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.argument = argument


class Function:
    """Base class for provider functions. Subclasses set the class attributes."""

    name: ClassVar[str]
    summary: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[Sequence[Parameter]] = ()
    returns: ClassVar[CtyType]

    def call(self, arguments: list[Any]) -> Any:
        raise NotImplementedError
