"""tarmak_hostname: a unique, human-readable hostname such as web-frontend-prod-vm7."""

from __future__ import annotations

import string
from typing import Any

from provider.cty import BOOL, NUMBER, STRING
from provider.framework import (
    Attribute,
    Block,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResponse,
    ImportRequest,
    ImportResponse,
    ReadRequest,
    ReadResponse,
    Resource,
    Schema,
    ValidateRequest,
    ValidateResponse,
    timeouts_block,
)
from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.identity import IdentityAttribute, IdentitySchema
from provider.framework.path import Path
from provider.framework.validators import dns_label
from provider.hostnaming import DEFAULT_FORMAT, DEFAULT_MOUNT, HostnameKey, Hostnaming
from provider.tarmak import ProviderSettings
from provider.vault_kv import KV2, VaultError, client_for

_PLACEHOLDERS = {"application", "role", "environment", "number"}


def _key_attribute(what: str) -> Attribute:
    return Attribute(
        STRING,
        required=True,
        force_new=True,
        validators=(dns_label,),
        description=f"The {what}; part of the name, so it must be a valid DNS label.",
    )


class Hostname(Resource):
    type_name = "tarmak_hostname"
    schema = Schema(
        Block(
            description=(
                "Allocates a unique hostname from a counter in Vault's KV v2 engine, updated "
                "with check-and-set so that concurrent `terraform apply` runs never get the "
                "same name. Numbers are never handed out twice, even after destroy, unless "
                "`reuse_released_numbers` is set."
            ),
            attributes={
                "application": _key_attribute("application, e.g. `web`"),
                "role": _key_attribute("role, e.g. `frontend`"),
                "environment": _key_attribute("environment, e.g. `prod`"),
                "format": Attribute(
                    STRING,
                    optional=True,
                    computed=True,
                    force_new=True,
                    default=DEFAULT_FORMAT,
                    description="How the name is built, with `{application}`, `{role}`, "
                    "`{environment}` and `{number}` (required).",
                ),
                "kv_mount": Attribute(
                    STRING,
                    optional=True,
                    computed=True,
                    force_new=True,
                    default=DEFAULT_MOUNT,
                    description="Path of the KV version 2 mount holding the counters.",
                ),
                "reuse_released_numbers": Attribute(
                    BOOL,
                    optional=True,
                    computed=True,
                    default=False,
                    description="Hand out numbers released by destroyed hostnames again "
                    "(lowest first) before new ones. Off by default: a destroyed name is "
                    "never reused, so logs and metrics stay unambiguous.",
                ),
                "name": Attribute(
                    STRING, computed=True, stable=True, description="The allocated hostname."
                ),
                "number": Attribute(
                    NUMBER, computed=True, stable=True, description="The allocated number."
                ),
                "id": Attribute(STRING, computed=True, stable=True, description="Same as `name`."),
            },
            blocks={"timeouts": timeouts_block(create="5m")},
        )
    )
    # An allocation is its name in a KV mount: what `import` blocks (Terraform
    # 1.12+) and `terraform query` results name it by.
    identity_schema = IdentitySchema(
        {
            "kv_mount": IdentityAttribute(
                STRING, f"The KV version 2 mount of the allocation (default `{DEFAULT_MOUNT}`)."
            ),
            "name": IdentityAttribute(STRING, "The allocated hostname.", required_for_import=True),
        }
    )
    settings: ProviderSettings | None = None

    def configure(self, provider_data: Any) -> None:
        self.settings = provider_data

    def identity(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"kv_mount": state["kv_mount"], "name": state["name"]}

    def import_id(self, identity: dict[str, Any]) -> str:
        return f"{identity.get('kv_mount') or DEFAULT_MOUNT}/{identity['name']}"

    def _hostnaming(self, mount: str, ctx: Context, diags: Diagnostics) -> Hostnaming | None:
        if self.settings is None or self.settings.vault is None:
            problem = self.settings.vault_problem if self.settings else "provider not configured"
            diags.add_error("Vault is not configured", problem)
            return None
        kv = KV2(client_for(self.settings.vault), mount)
        return Hostnaming(kv, sleep=lambda s: ctx.sleep(s, "a free hostname number"))

    def validate_config(self, req: ValidateRequest, resp: ValidateResponse) -> None:
        name_format = req.config.get("format")
        if not isinstance(name_format, str):
            return
        path = Path.root("format")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(name_format) if f is not None}
        except ValueError as err:
            resp.diagnostics.add_attribute_error(path, "Invalid format", f"format: {err}.")
            return
        if "number" not in fields or not fields <= _PLACEHOLDERS:
            resp.diagnostics.add_attribute_error(
                path,
                "Invalid format",
                f"format {name_format!r} must contain {{number}} and may only use "
                "{application}, {role}, {environment} and {number}.",
            )
            return
        sample = {k: v if isinstance(v, str) else "x" for k, v in req.config.items()}
        rendered = name_format.format(
            application=sample.get("application", "x"),
            role=sample.get("role", "x"),
            environment=sample.get("environment", "x"),
            number=1,
        )
        dns_label(rendered, path, resp.diagnostics)

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        plan = req.plan
        hostnaming = self._hostnaming(plan["kv_mount"], req.context, resp.diagnostics)
        if hostnaming is None:
            return
        key = HostnameKey(plan["application"], plan["role"], plan["environment"])
        try:
            allocation = hostnaming.allocate(key, plan["format"], plan["reuse_released_numbers"])
        except VaultError as err:
            resp.diagnostics.add_error("Cannot allocate a hostname", f"{err}.")
            return
        resp.state = {
            **plan,
            "name": allocation.name,
            "number": allocation.number,
            "id": allocation.name,
        }

    def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        state = req.state
        hostnaming = self._hostnaming(state["kv_mount"], req.context, resp.diagnostics)
        if hostnaming is None:
            return
        try:
            record = hostnaming.lookup(state["name"])
        except VaultError as err:
            resp.diagnostics.add_error("Cannot read the hostname allocation", f"{err}.")
            return
        if record is None or int(record.get("number", -1)) != state["number"]:
            return  # released elsewhere: Terraform plans a new one
        resp.state = dict(state)

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        state = req.state
        hostnaming = self._hostnaming(state["kv_mount"], req.context, resp.diagnostics)
        if hostnaming is None:
            return
        key = HostnameKey(state["application"], state["role"], state["environment"])
        try:
            hostnaming.release(key, int(state["number"]), state["name"])
        except VaultError as err:
            resp.diagnostics.add_error("Cannot release the hostname", f"{err}.")

    def import_state(self, req: ImportRequest, resp: ImportResponse) -> None:
        """ID: the name (in the default mount), or `<mount>/<name>`."""
        mount, _, name = req.id.rpartition("/")
        mount = mount or DEFAULT_MOUNT
        hostnaming = self._hostnaming(mount, req.context, resp.diagnostics)
        if hostnaming is None:
            return
        try:
            record = hostnaming.lookup(name)
        except VaultError as err:
            resp.diagnostics.add_error("Cannot import the hostname", f"{err}.")
            return
        if record is None:
            resp.diagnostics.add_error(
                "Hostname not found",
                f"No live allocation named {name!r} in the KV mount {mount!r}. Import IDs "
                "are a name, or <mount>/<name> for another mount.",
            )
            return
        resp.state = {
            "application": record["application"],
            "role": record["role"],
            "environment": record["environment"],
            "format": record.get("format", DEFAULT_FORMAT),
            "kv_mount": mount,
            "reuse_released_numbers": False,
            "name": name,
            "number": int(record["number"]),
            "id": name,
        }
