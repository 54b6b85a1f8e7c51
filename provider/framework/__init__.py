"""A small provider framework in the spirit of terraform-plugin-framework.

Resources declare a schema and implement create/read/update/delete, and
claim optional features (`ResourceWith*`) by implementing them; the runner
applies Terraform's planning rules and invariants. Nothing here knows about
gRPC or about Tarmak.

Its names are loaded on first use (PEP 562 `__getattr__`), so that importing
one light module of the package (the server's hand-off, diagnostics, paths)
does not import every module a provider declares itself with: a start that
answers only with a prebuilt schema needs none of them
(provider/server/schema_snapshot.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provider.framework.context import (
        Context,
        OperationCancelled,
        OperationInterrupted,
        OperationTimedOut,
    )
    from provider.framework.diagnostics import Diagnostic, Diagnostics, Severity
    from provider.framework.identity import ResourceWithIdentity
    from provider.framework.path import Path
    from provider.framework.provider import ConfigureRequest, ConfigureResponse, Provider
    from provider.framework.resource import (
        CreateRequest,
        CreateResponse,
        DataSource,
        DataSourceReadRequest,
        DataSourceReadResponse,
        DeleteRequest,
        DeleteResponse,
        ImportRequest,
        ImportResponse,
        ModifyPlanRequest,
        ModifyPlanResponse,
        ReadRequest,
        ReadResponse,
        Resource,
        ResourceWithImport,
        ResourceWithModifyPlan,
        ResourceWithUpgradeState,
        ResourceWithValidate,
        State,
        UpdateRequest,
        UpdateResponse,
        ValidateRequest,
        ValidateResponse,
    )
    from provider.framework.schema import Attribute, Block, NestedBlock, Nesting, Schema
    from provider.framework.timeouts import timeouts_block

# The module of this package each name comes from.
_HOMES = {
    "Context": "context",
    "OperationCancelled": "context",
    "OperationInterrupted": "context",
    "OperationTimedOut": "context",
    "Diagnostic": "diagnostics",
    "Diagnostics": "diagnostics",
    "Severity": "diagnostics",
    "ResourceWithIdentity": "identity",
    "Path": "path",
    "ConfigureRequest": "provider",
    "ConfigureResponse": "provider",
    "Provider": "provider",
    "CreateRequest": "resource",
    "CreateResponse": "resource",
    "DataSource": "resource",
    "DataSourceReadRequest": "resource",
    "DataSourceReadResponse": "resource",
    "DeleteRequest": "resource",
    "DeleteResponse": "resource",
    "ImportRequest": "resource",
    "ImportResponse": "resource",
    "ModifyPlanRequest": "resource",
    "ModifyPlanResponse": "resource",
    "ReadRequest": "resource",
    "ReadResponse": "resource",
    "Resource": "resource",
    "ResourceWithImport": "resource",
    "ResourceWithModifyPlan": "resource",
    "ResourceWithUpgradeState": "resource",
    "ResourceWithValidate": "resource",
    "State": "resource",
    "UpdateRequest": "resource",
    "UpdateResponse": "resource",
    "ValidateRequest": "resource",
    "ValidateResponse": "resource",
    "Attribute": "schema",
    "Block": "schema",
    "NestedBlock": "schema",
    "Nesting": "schema",
    "Schema": "schema",
    "timeouts_block": "timeouts",
}

__all__ = [
    "Attribute",
    "Block",
    "ConfigureRequest",
    "ConfigureResponse",
    "Context",
    "CreateRequest",
    "CreateResponse",
    "DataSource",
    "DataSourceReadRequest",
    "DataSourceReadResponse",
    "DeleteRequest",
    "DeleteResponse",
    "Diagnostic",
    "Diagnostics",
    "ImportRequest",
    "ImportResponse",
    "ModifyPlanRequest",
    "ModifyPlanResponse",
    "NestedBlock",
    "Nesting",
    "OperationCancelled",
    "OperationInterrupted",
    "OperationTimedOut",
    "Path",
    "Provider",
    "ReadRequest",
    "ReadResponse",
    "Resource",
    "ResourceWithIdentity",
    "ResourceWithImport",
    "ResourceWithModifyPlan",
    "ResourceWithUpgradeState",
    "ResourceWithValidate",
    "Schema",
    "Severity",
    "State",
    "UpdateRequest",
    "UpdateResponse",
    "ValidateRequest",
    "ValidateResponse",
    "timeouts_block",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # found without this function from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
