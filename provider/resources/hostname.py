"""tarmak_hostname: a unique, human-readable hostname such as web-frontend-prod-vm7."""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING, Any

from provider.cty import BOOL, NUMBER, STRING, UNKNOWN
from provider.framework import (
    Attribute,
    Block,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResponse,
    ImportRequest,
    ImportResponse,
    ModifyPlanRequest,
    ModifyPlanResponse,
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
from provider.tarmak.hostnames.rules import (
    DEFAULT_FORMAT,
    DEFAULT_MOUNT,
    MAX_HOSTNAME_LENGTH,
    hostname_problem,
)
from provider.tarmak.settings import ProviderSettings
from provider.tarmak.vault_kv import KV2, NotKV2Mount, VaultError, client_for

if TYPE_CHECKING:
    from provider.tarmak.hostnames.allocator import Hostnaming

_PLACEHOLDERS = {"application", "role", "environment", "number"}
_KEY_ATTRIBUTES = ("application", "role", "environment")
# A Vault mount path: segments of letters, digits, '-', '_' and '.', never '..'.
_MOUNT_PATH = re.compile(r"(?!.*(?:^|/)\.\.?(?:/|$))[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")


def _mount_problem(mount: Any) -> str | None:
    if not isinstance(mount, str) or len(mount) > 200 or not _MOUNT_PATH.fullmatch(mount):
        return (
            f"kv_mount is {str(mount)[:80]!r}, which is not a Vault mount path: use letters, "
            "digits, '-', '_' and '.', in segments separated by '/'"
        )
    return None


def _kv_mount(value: Any, path: Path, diags: Diagnostics) -> None:
    if problem := _mount_problem(value):
        diags.add_attribute_error(path, "Invalid KV mount", f"{problem}.")


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
                    validators=(_kv_mount,),
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

    def _hostnaming(
        self, mount: str, ctx: Context, diags: Diagnostics, summary: str
    ) -> Hostnaming | None:
        # The allocator loads on first use: schemas and validation (every provider
        # start) only need the rules.
        from provider.tarmak.hostnames.allocator import Hostnaming

        if self.settings is None or self.settings.vault is None:
            problem = self.settings.vault_problem if self.settings else "provider not configured"
            diags.add_error("Vault is not configured", problem)
            return None
        kv = KV2(client_for(self.settings.vault), mount)
        try:
            kv.check_mount()
        except NotKV2Mount as err:
            diags.add_attribute_error("kv_mount", summary, f"{err}.")
            return None
        except VaultError as err:
            diags.add_error(summary, f"{err}.")
            return None
        return Hostnaming(kv, sleep=lambda s: ctx.sleep(s, "a free hostname number"))

    def validate_config(self, req: ValidateRequest, resp: ValidateResponse) -> None:
        name_format = req.config.get("format")
        if name_format is UNKNOWN:
            return
        if name_format is None:
            name_format = DEFAULT_FORMAT
        if problem := _format_problem(name_format):
            resp.diagnostics.add_attribute_error("format", "Invalid format", problem)
            return
        _check_rendered_name(req.config, name_format, resp.diagnostics)

    def modify_plan(self, req: ModifyPlanRequest, resp: ModifyPlanResponse) -> None:
        """Values unknown at validation are known by now: check the name they make."""
        plan = req.plan
        if plan is None or req.prior_state is not None:
            return  # destroy, or an allocation that already exists
        name_format = plan.get("format")
        if not isinstance(name_format, str):
            return
        if problem := _format_problem(name_format):
            resp.diagnostics.add_attribute_error("format", "Invalid format", problem)
            return
        _check_rendered_name(plan, name_format, resp.diagnostics)

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        plan = req.plan
        if problem := _mount_problem(plan["kv_mount"]):
            resp.diagnostics.add_attribute_error("kv_mount", "Invalid KV mount", f"{problem}.")
            return
        if not isinstance(plan["format"], str) or (problem := _format_problem(plan["format"])):
            resp.diagnostics.add_attribute_error("format", "Invalid format", str(problem))
            return
        if not all(isinstance(plan[k], str) for k in _KEY_ATTRIBUTES):
            resp.diagnostics.add_error(
                "Invalid plan", "application, role and environment must be set."
            )
            return
        hostnaming = self._hostnaming(
            plan["kv_mount"], req.context, resp.diagnostics, "Cannot allocate a hostname"
        )
        if hostnaming is None:
            return
        from provider.tarmak.hostnames.allocator import HostnameKey, InvalidName

        key = HostnameKey(plan["application"], plan["role"], plan["environment"])
        try:
            allocation = hostnaming.allocate(key, plan["format"], plan["reuse_released_numbers"])
        except InvalidName as err:
            resp.diagnostics.add_attribute_error(
                "format", "Hostname too long or invalid", f"{err}."
            )
            return
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
        if problem := _state_problem(state):
            resp.diagnostics.add_error("Invalid tarmak_hostname state", problem)
            return
        hostnaming = self._hostnaming(
            state["kv_mount"], req.context, resp.diagnostics, "Cannot read the hostname allocation"
        )
        if hostnaming is None:
            return
        try:
            record = hostnaming.lookup(state["name"])
        except VaultError as err:
            resp.diagnostics.add_error("Cannot read the hostname allocation", f"{err}.")
            return
        if record is None or _record_number(record) != state["number"]:
            return  # released elsewhere: Terraform plans a new one
        resp.state = dict(state)

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        state = req.state
        if problem := _state_problem(state):
            resp.diagnostics.add_error("Invalid tarmak_hostname state", problem)
            return
        hostnaming = self._hostnaming(
            state["kv_mount"], req.context, resp.diagnostics, "Cannot release the hostname"
        )
        if hostnaming is None:
            return
        from provider.tarmak.hostnames.allocator import HostnameKey

        key = HostnameKey(state["application"], state["role"], state["environment"])
        try:
            hostnaming.release(key, int(state["number"]), state["name"])
        except VaultError as err:
            resp.diagnostics.add_error("Cannot release the hostname", f"{err}.")

    def import_state(self, req: ImportRequest, resp: ImportResponse) -> None:
        """ID: the name (in the default mount), or `<mount>/<name>`."""
        mount, _, name = req.id.rpartition("/")
        mount = mount or DEFAULT_MOUNT
        problem = _mount_problem(mount) or hostname_problem(name)
        if problem:
            resp.diagnostics.add_error(
                "Invalid import ID",
                f"{problem}. Import IDs are a hostname (in the {DEFAULT_MOUNT!r} mount), or "
                "<mount>/<hostname>.",
            )
            return
        hostnaming = self._hostnaming(
            mount, req.context, resp.diagnostics, "Cannot import the hostname"
        )
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
        number = _record_number(record)
        fields = [record.get(k) for k in (*_KEY_ATTRIBUTES, "format")]
        if number is None or not all(isinstance(v, str) for v in fields[:3]):
            resp.diagnostics.add_error(
                "Cannot import the hostname",
                f"The allocation record of {name!r} in {mount!r} lacks its application, role, "
                "environment or number; it was not written by this provider.",
            )
            return
        resp.state = {
            "application": record["application"],
            "role": record["role"],
            "environment": record["environment"],
            "format": fields[3] if isinstance(fields[3], str) else DEFAULT_FORMAT,
            "kv_mount": mount,
            "reuse_released_numbers": False,
            "name": name,
            "number": number,
            "id": name,
        }


def _format_problem(name_format: str) -> str | None:
    """Why `name_format` cannot make names (None when it can)."""
    try:
        parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(name_format)]
    except ValueError as err:
        return f"format: {err}."
    if any(spec or conv for f, spec, conv in parsed if f is not None):
        return (
            f"format {name_format!r}: placeholders take no conversion or format "
            "specification (write {number}, not {number:03} or {number!r})."
        )
    fields = {f for f, _, _ in parsed if f is not None}
    if "number" not in fields or not fields <= _PLACEHOLDERS:
        return (
            f"format {name_format!r} must contain {{number}} and may only use "
            "{application}, {role}, {environment} and {number}."
        )
    return None


def _check_rendered_name(values: dict[str, Any], name_format: str, diags: Diagnostics) -> None:
    """The shortest name this configuration makes must be a valid DNS label."""
    parts = {k: values.get(k) for k in _KEY_ATTRIBUTES}
    if any(v is UNKNOWN for v in parts.values()):
        return  # checked again at plan time, once known
    sample = {k: v if isinstance(v, str) else "x" for k, v in parts.items()}
    rendered = name_format.format(**sample, number=1)
    if len(rendered) > MAX_HOSTNAME_LENGTH:
        used = [k for k in _KEY_ATTRIBUTES if "{" + k + "}" in name_format]
        lengths = ", ".join(f"{k} {len(sample[k])}" for k in used)
        diags.add_attribute_error(
            Path.root("format"),
            "Hostname too long",
            f"The name made from format, {', '.join(used)} would be {len(rendered)} characters "
            f"long ({rendered[:20]}...-{rendered[-8:]}) before the number grows, but a hostname "
            f"label holds at most {MAX_HOSTNAME_LENGTH}. Shorten {' or '.join(used) or 'format'} "
            f"(lengths: {lengths or 'none'}; the format itself adds "
            f"{len(rendered) - sum(len(sample[k]) for k in used)}).",
        )
        return
    dns_label(rendered, Path.root("format"), diags)


def _state_problem(state: dict[str, Any]) -> str | None:
    """Why a stored state cannot be a hostname this provider allocated (None: it can)."""
    mount_problem = _mount_problem(state.get("kv_mount"))
    if mount_problem:
        return f"{mount_problem}."
    name_problem = hostname_problem(state.get("name"))
    if name_problem:
        return f"{name_problem}."
    number = state.get("number")
    if not isinstance(number, int) or number < 0:
        return f"number is {number!r}, not a whole number."
    if not all(isinstance(state.get(k), str) for k in _KEY_ATTRIBUTES):
        return "application, role and environment must all be set."
    return None


def _record_number(record: dict[str, Any]) -> int | None:
    number = record.get("number")
    if isinstance(number, bool) or not isinstance(number, int | str):
        return None
    if isinstance(number, str):
        return int(number) if number.isdigit() and len(number) < 20 else None
    return number
