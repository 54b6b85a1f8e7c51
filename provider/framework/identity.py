"""Resource identity (Terraform 1.12+): the few attributes that name one object
for good, independent of how it is configured.

Terraform stores the identity beside the state, imports by it (`import { to =
... identity = { ... } }`) and uses it for `terraform query` results. A
resource opts in by declaring `identity_schema` and turning a state into its
identity; `import_id` maps an identity back onto the resource's import ID, so
importing by identity and by ID share one code path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from provider.cty import CtyType, ObjectType
from provider.framework.resource import State
from provider.prebuilt_dataclasses import dataclass


@dataclass(frozen=True)
class IdentityAttribute:
    type: CtyType
    description: str = ""
    # Must be given in an `import` block's identity (else the provider fills it in).
    required_for_import: bool = False


@dataclass(frozen=True)
class IdentitySchema:
    attributes: Mapping[str, IdentityAttribute]
    version: int = 0

    def cty_type(self) -> ObjectType:
        # Made once, as Block.cty_type is: the codecs keep per-type converters on it.
        made: ObjectType | None = self.__dict__.get("_cty_type")
        if made is None:
            types = {name: a.type for name, a in self.attributes.items()}
            made = self.__dict__["_cty_type"] = ObjectType.of(types)
        return made


@runtime_checkable
class ResourceWithIdentity(Protocol):
    @property
    def identity_schema(self) -> IdentitySchema:
        """Usually a class attribute."""
        ...

    def identity(self, state: State) -> State:
        """The identity of the object `state` describes (every value known)."""
        ...

    def import_id(self, identity: State) -> str:
        """The import ID naming the same object as `identity`."""
        ...
