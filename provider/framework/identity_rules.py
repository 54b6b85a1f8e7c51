"""What the framework does with resource identities (see identity.py): derive
one from a state, import by one, and read one Terraform stored earlier.

Identities ride on the managed-resource operations, as in
terraform-plugin-framework's fwserver: the runner applies these beside read,
plan, apply and import, on framework-native values.
"""

from __future__ import annotations

from provider.cty import json_codec, wholly_known
from provider.cty.decoding import DecodeError
from provider.framework.author_code import guard
from provider.framework.diagnostics import Diagnostics
from provider.framework.identity import IdentitySchema, ResourceWithIdentity
from provider.framework.resource import State, implements


def identity_of(resource: object, state: State | None) -> State | None:
    """The identity of a wholly known object; None without one (or while unknown)."""
    if not implements(resource, ResourceWithIdentity) or state is None:
        return None
    if not wholly_known(state):
        return None
    return resource.identity(state)


def import_id_for(
    resource: object, type_name: str, identity: State
) -> tuple[str | None, Diagnostics]:
    """The import ID that names the object `identity` names."""
    diags = Diagnostics()
    if not implements(resource, ResourceWithIdentity):
        diags.add_error(
            "Import by identity not supported",
            f"{type_name} has no resource identity; import it by ID instead.",
        )
        return None, diags
    missing = [
        name
        for name, attr in resource.identity_schema.attributes.items()
        if attr.required_for_import and identity.get(name) in (None, "")
    ]
    if missing:
        diags.add_error(
            "Incomplete identity",
            f"The identity of {type_name} needs {', '.join(missing)} to import.",
        )
        return None, diags
    with guard(diags, f"importing {type_name} by identity"):
        return resource.import_id(identity), diags
    return None, diags


def upgrade_identity(
    schema: IdentitySchema, type_name: str, version: int, raw_json: bytes
) -> tuple[State | None, Diagnostics]:
    """An identity Terraform stored as JSON, read with the current identity schema."""
    diags = Diagnostics()
    if version != schema.version or not raw_json:
        diags.add_error(
            "Identity version not supported",
            f"{type_name} identity has version {version}; this provider "
            f"only knows version {schema.version}.",
        )
        return None, diags
    try:
        identity: State | None = json_codec.decode(raw_json, schema.cty_type())
    except DecodeError as err:
        diags.add_error("Invalid stored identity", f"{type_name}: {err.reason}.")
        return None, diags
    return identity, diags
