"""tarmak_vault_instance_role: blocks until the role's init token exists; returns it.

Read only observes: it reads the stored token and checks it with lookup-self
(a read). A revoked or missing token drops the object from state, so the next
apply creates a new one; refresh never creates, renews or rewrites anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.methods import Method
from provider.cty import STRING
from provider.framework import (
    Attribute,
    Block,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResponse,
    ReadRequest,
    ReadResponse,
    Schema,
)
from provider.framework.validators import dns_label
from provider.resources.vault_cluster import VAULT_CONNECTION_ATTRIBUTES
from provider.resources.waiting import (
    WAITING_TIMEOUTS,
    Poll,
    TarmakWaitingResource,
    check_once,
    poll,
)

if TYPE_CHECKING:
    from connector.protocol.contract import InstanceRoleParams


def instance_role_params(values: dict[str, Any], create: bool) -> InstanceRoleParams:
    """The call for a role, from the resource's (or the ephemeral resource's) values."""
    from connector.protocol.contract import InstanceRoleParams

    return InstanceRoleParams(
        tuple(values["internal_fqdns"]),
        values["vault_ca"],
        values["vault_cluster_name"],
        values["role_name"],
        values.get("vault_unseal_key_name"),
        create,
    )


def init_token_poll(values: dict[str, Any], create: bool) -> Poll:
    name = f"{values['vault_cluster_name']}/{values['role_name']}"
    what = f"the init token of instance role {name}"
    return Poll(Method.VAULT_INSTANCE_ROLE, instance_role_params(values, create), what)


class VaultInstanceRole(TarmakWaitingResource):
    type_name = "tarmak_vault_instance_role"
    destroy_leaves = (
        "The instance role and its init token stay in Vault, valid for the instances that use it."
    )
    schema = Schema(
        Block(
            description=(
                "Waits until Tarmak has set up the instance role in Vault (policies, token "
                "role `<cluster>-<role>`) and its init token exists, and returns the token. "
                "Instances of the role use it to obtain their own tokens. Tarmak serves only "
                "the clusters and roles its environment config (`env.yaml`, `vault.clusters`) "
                "names; any other gets an error and no token.\n\n"
                "The init token is a periodic token: its period is set on the Tarmak side "
                "(`vault.init_token_period` in `env.yaml`, default `43800h`, five years, as "
                "Tarmak used), so it does not lapse between applies months apart. Each apply "
                "that creates the resource renews a stored token that is still valid. Refresh "
                "only checks the token (a revoked one makes the next apply create a new one). "
                "Destroying it only removes it from the state; the token stays valid in Vault."
            ),
            attributes={
                "vault_cluster_name": Attribute(
                    STRING,
                    required=True,
                    force_new=True,
                    validators=(dns_label,),
                    description="Name of the cluster, e.g. `prod`.",
                ),
                "role_name": Attribute(
                    STRING,
                    required=True,
                    force_new=True,
                    validators=(dns_label,),
                    description="Instance role, e.g. `worker`.",
                ),
                **VAULT_CONNECTION_ATTRIBUTES,
                "vault_unseal_key_name": Attribute(
                    STRING,
                    optional=True,
                    force_new=True,
                    description="Set it to the cluster's `vault_unseal_key_name` when that is "
                    "set (e.g. `tarmak_vault_cluster.vault.vault_unseal_key_name`): the name of "
                    "the keys Tarmak uses to reach the cluster.",
                ),
                "init_token": Attribute(
                    STRING, computed=True, sensitive=True, description="The role's init token."
                ),
                "id": Attribute(
                    STRING, computed=True, stable=True, description="`<cluster>/<role>`."
                ),
            },
            blocks={"timeouts": WAITING_TIMEOUTS},
        )
    )

    async def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        plan = req.plan
        wait = init_token_poll(plan, create=True)
        result = await poll(self.settings, wait, req.context, resp.diagnostics)
        if result is not None:
            name = f"{plan['vault_cluster_name']}/{plan['role_name']}"
            resp.state = {**plan, "init_token": result.init_token, "id": name}

    async def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)
        answer = await check_once(
            self.settings,
            Method.VAULT_INSTANCE_ROLE,
            instance_role_params(req.state, create=False),
            req.context,
            f"instance role {req.state['id']}",
            resp.diagnostics,
        )
        if answer is None:
            return
        from connector.protocol.contract import Status

        status = answer.get("status")
        if status == Status.GONE:
            resp.state = None
        elif status == Status.READY:
            resp.state["init_token"] = answer["init_token"]

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        """Nothing to undo: the token stays in Vault for instances still using it."""
