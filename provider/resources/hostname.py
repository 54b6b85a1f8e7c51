"""tarmak_hostname: a unique, human-readable hostname such as web-frontend-prod-vm7."""

from __future__ import annotations

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
    KEY_ATTRIBUTES,
    MAX_HOSTNAME_LENGTH,
    format_problem,
    hostname_problem,
    is_label,
    mount_problem,
)
from provider.tarmak.settings import ProviderSettings, vault_settings
from provider.tarmak.vault_kv import VaultError

if TYPE_CHECKING:
    from provider.tarmak.hostnames.allocator import Hostnaming


def _kv_mount(value: Any, path: Path, diags: Diagnostics) -> None:
    if problem := mount_problem(value):
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
        # The allocator and Vault's client load on first use: schemas and
        # validation (every provider start) only need the rules.
        from provider.tarmak.hostnames.allocator import Hostnaming
        from provider.tarmak.vault_kv import NotKV2Mount, open_kv

        vault = vault_settings(self.settings, diags)
        if vault is None:
            return None
        kv = open_kv(vault, mount)
        try:
            kv.check_mount()
        except NotKV2Mount as err:
            diags.add_attribute_error("kv_mount", summary, f"{err}.")
            return None
        except VaultError as err:
            diags.add_error(summary, f"{err}.")
            return None
        what = "a free hostname number"
        return Hostnaming(kv, sleep=lambda s: ctx.sleep(s, what), check=lambda: ctx.check(what))

    def validate_config(self, req: ValidateRequest, resp: ValidateResponse) -> None:
        _check_config(req.config, resp.diagnostics)

    def modify_plan(self, req: ModifyPlanRequest, resp: ModifyPlanResponse) -> None:
        """Values unknown at validation are known by now: check the name they make."""
        if req.plan is not None and req.prior_state is None:  # not a destroy, nor existing
            _check_config(req.plan, resp.diagnostics, check_mount=True)

    def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        """The plan was checked (modify_plan); the allocator checks each name it makes."""
        plan = req.plan
        hostnaming = self._hostnaming(
            plan["kv_mount"], req.context, resp.diagnostics, "Cannot allocate a hostname"
        )
        if hostnaming is None:
            return
        from provider.tarmak.hostnames.counters import InvalidName
        from provider.tarmak.hostnames.records import HostnameKey

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
            lookup = hostnaming.lookup(state["name"])
        except VaultError as err:
            resp.diagnostics.add_error("Cannot read the hostname allocation", f"{err}.")
            return
        from provider.tarmak.hostnames.records import NameStatus, record_number

        if lookup.status is NameStatus.UNCERTAIN:
            # Absent on a node that may be behind, and no active node to confirm: a live
            # name dropped here would be replaced by a new one at the next apply.
            resp.state = dict(state)
            resp.diagnostics.add_warning(
                "Could not confirm the hostname allocation",
                f"Vault at {hostnaming.kv.address} does not know {state['name']!r} and no "
                "active node could be asked (a standby that is behind, or a cluster without "
                "quorum). The state is kept; refresh again once the cluster has a leader.",
            )
            return
        record = lookup.record
        if record is None or record_number(record) != state["number"]:
            return  # released (proven by Vault): Terraform plans a new one
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
        from provider.tarmak.hostnames.records import HostnameKey

        key = HostnameKey(state["application"], state["role"], state["environment"])
        try:
            hostnaming.release(key, int(state["number"]), state["name"])
        except VaultError as err:
            resp.diagnostics.add_error("Cannot release the hostname", f"{err}.")

    def import_state(self, req: ImportRequest, resp: ImportResponse) -> None:
        """ID: the name (in the default mount), or `<mount>/<name>`."""
        mount, _, name = req.id.rpartition("/")
        mount = mount or DEFAULT_MOUNT
        problem = mount_problem(mount) or hostname_problem(name)
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
            lookup = hostnaming.lookup(name)
        except VaultError as err:
            resp.diagnostics.add_error("Cannot import the hostname", f"{err}.")
            return
        from provider.tarmak.hostnames.records import NameStatus, state_from_record

        if lookup.status is NameStatus.UNCERTAIN:
            resp.diagnostics.add_error(
                "Cannot import the hostname",
                f"Vault at {hostnaming.kv.address} does not know {name!r} and no active node "
                "could be asked; import again once the cluster has a leader.",
            )
            return
        record = lookup.record
        if record is None:
            resp.diagnostics.add_error(
                "Hostname not found",
                f"No live allocation named {name!r} in the KV mount {mount!r}. Import IDs "
                "are a name, or <mount>/<name> for another mount.",
            )
            return
        resp.state = state_from_record(record, mount, name)
        if resp.state is None:
            resp.diagnostics.add_error(
                "Cannot import the hostname",
                f"The allocation record of {name!r} in {mount!r} lacks its application, role, "
                "environment or number; it was not written by this provider.",
            )


def _check_config(values: dict[str, Any], diags: Diagnostics, check_mount: bool = False) -> None:
    """The one check of a configuration: its format, then the name it makes. Each
    diagnostic names the attribute that is wrong: a name that is no DNS label
    because of an invalid application is the application's validator's to report,
    not the format's."""
    if check_mount and (problem := mount_problem(values.get("kv_mount"))):
        diags.add_attribute_error("kv_mount", "Invalid KV mount", f"{problem}.")
    name_format = values.get("format")
    if name_format is UNKNOWN:
        return
    if name_format is None:
        name_format = DEFAULT_FORMAT
    if not isinstance(name_format, str):
        return
    if problem := format_problem(name_format):
        diags.add_attribute_error("format", "Invalid format", problem)
        return
    _check_rendered_name(values, name_format, diags)


def _check_rendered_name(values: dict[str, Any], name_format: str, diags: Diagnostics) -> None:
    """The shortest name this configuration makes must be a valid DNS label."""
    parts = {k: values.get(k) for k in KEY_ATTRIBUTES}
    if any(v is UNKNOWN for v in parts.values()):
        return  # checked again at plan time, once known
    sample = {k: v if isinstance(v, str) else "x" for k, v in parts.items()}
    rendered = name_format.format(**sample, number=1)
    if len(rendered) > MAX_HOSTNAME_LENGTH:
        used = [k for k in KEY_ATTRIBUTES if "{" + k + "}" in name_format]
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
    if all(is_label(v) for v in parts.values() if v is not None):
        # Every part is a label, so only the format can make the name invalid.
        dns_label(rendered, Path.root("format"), diags)


def _state_problem(state: dict[str, Any]) -> str | None:
    """Why a stored state cannot be a hostname this provider allocated (None: it can)."""
    if problem := mount_problem(state.get("kv_mount")):
        return f"{problem}."
    name_problem = hostname_problem(state.get("name"))
    if name_problem:
        return f"{name_problem}."
    number = state.get("number")
    if not isinstance(number, int) or number < 0:
        return f"number is {number!r}, not a whole number."
    if not all(isinstance(state.get(k), str) for k in KEY_ATTRIBUTES):
        return "application, role and environment must all be set."
    return None


# What Hostname claims, checked by the type checker (as Go's `var _ X = ...`).
if TYPE_CHECKING:
    from provider.framework import (
        ResourceWithIdentity,
        ResourceWithImport,
        ResourceWithModifyPlan,
        ResourceWithValidate,
    )

    _identity: type[ResourceWithIdentity] = Hostname
    _imports: type[ResourceWithImport] = Hostname
    _modifies_plans: type[ResourceWithModifyPlan] = Hostname
    _validates: type[ResourceWithValidate] = Hostname
