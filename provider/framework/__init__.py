"""A small provider framework in the spirit of terraform-plugin-framework.

Resources declare a schema and implement create/read/update/delete, and
claim optional features (`ResourceWith*`) by implementing them; the runner
applies Terraform's planning rules and invariants. Nothing here knows about
gRPC or about Tarmak.
"""

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
