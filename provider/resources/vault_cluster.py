"""tarmak_vault_cluster: blocks until every Vault node is initialised and unsealed.

Read only observes (sys/health of each node, through Tarmak). A node found
sealed or uninitialised shows up as `status: "sealed" -> "ready"`, an update
that apply carries out by unsealing (and joining) the nodes; plan and refresh
never unseal or write anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from connector.methods import Method
from provider.cty import STRING, ListType
from provider.framework import (
    Attribute,
    Block,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DeleteResponse,
    ModifyPlanRequest,
    ModifyPlanResponse,
    ReadRequest,
    ReadResponse,
    Schema,
    UpdateRequest,
    UpdateResponse,
    timeouts_block,
)
from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.validators import non_empty
from provider.resources.waiting import Poll, TarmakWaitingResource, check_once, poll

if TYPE_CHECKING:
    from connector.protocol.contract import VaultClusterParams

# The `status` attribute once every node is unsealed (the word Tarmak answers, too).
READY = "ready"
# Like every waiting resource, plus `update`: the apply that unseals a restarted cluster.
CLUSTER_TIMEOUTS = timeouts_block(create="30m", read="1m", update="30m")

VAULT_CONNECTION_ATTRIBUTES = {
    "internal_fqdns": Attribute(
        ListType(STRING),
        required=True,
        force_new=True,
        validators=(non_empty,),
        description="Internal FQDNs (or `host:port`) of the Vault nodes, reached through "
        "the bastion.",
    ),
    "vault_ca": Attribute(
        STRING,
        required=True,
        force_new=True,
        description="PEM of the CA that signed the Vault nodes' certificates; the only CA trusted.",
    ),
}

# Which keys file holds the cluster's keys and which KMS key protects them (shared with
# the tarmak_vault_unseal action, whose schema has no replacement to describe).
VAULT_KEY_ATTRIBUTES = {
    "vault_kms_key_id": Attribute(
        STRING,
        optional=True,
        description="Name of the transit key in the KMS (a second OpenBao/Vault named by "
        "`vault.key_protection` in Tarmak's env.yaml) that protects the cluster's key shares "
        "and tokens when `vault.key_protection.kind` is `transit`: every share and token is "
        "sealed with a data key of its own that only this KMS key unwraps, and revealed in "
        "memory only when needed. The KMS must already have the key. Required for `transit`, "
        "unused for `pgp` and `file`.",
    ),
    "vault_unseal_key_name": Attribute(
        STRING,
        optional=True,
        description="Name under which Tarmak keeps the cluster's unseal key and root token "
        "(`<state_dir>/vault-<name>.json`; default `<environment>-vault`).",
    ),
}


def _replaces(attribute: Attribute, consequence: str) -> Attribute:
    """`attribute` as a resource's, whose change replaces the resource."""
    return replace(attribute, force_new=True, description=f"{attribute.description} {consequence}")


class VaultCluster(TarmakWaitingResource):
    type_name = "tarmak_vault_cluster"
    destroy_leaves = (
        "Vault is not deleted or sealed: its data, root token and unseal key stay as they are."
    )
    schema = Schema(
        Block(
            description=(
                "Waits until Tarmak has initialised the Vault cluster (once, on first use), "
                "joined and unsealed every node listed in `internal_fqdns`, and set up each "
                "instance role its environment config names. It is ready when every listed "
                "node is unsealed and one is active.\n\n"
                "Plan and refresh only observe: a node that was restarted (and so is sealed) "
                'or replaced shows as `status = "sealed" -> "ready"`, and `terraform apply` '
                "unseals and joins it. Tarmak initialises a cluster only when no keys are "
                "stored for it and every listed node answers uninitialised; a new node is "
                "joined, never initialised. Destroying it only removes it from the state; "
                "Vault's data, root token and unseal key are left as they are.\n\n"
                "Tarmak keeps the key shares (`vault.key_shares`, `vault.key_threshold`) "
                "protected as its env.yaml's `vault.key_protection.kind` says, and refuses to "
                "initialise a cluster until it has shown it can keep them: choose `transit` "
                "(a KMS unwraps them; unattended unseal, the usual choice) or `pgp` (Vault "
                "encrypts each share to an operator's key; unsealing needs that operator's "
                "gpg agent or smartcard), and `file` (plaintext, mode 0600) only for "
                "throwaway environments. A cluster whose nodes auto-unseal (`seal "
                '"transit"`) is given recovery shares and never sent an unseal key. See '
                "docs/vault-keys.md."
            ),
            attributes={
                **VAULT_CONNECTION_ATTRIBUTES,
                "vault_kms_key_id": _replaces(
                    VAULT_KEY_ATTRIBUTES["vault_kms_key_id"],
                    "A change replaces the resource: the cluster is waited for again, and the "
                    "keys already stored keep the key they were sealed with "
                    "(`tarmak-controller rotate-kms-key` rewraps them).",
                ),
                "vault_unseal_key_name": _replaces(
                    VAULT_KEY_ATTRIBUTES["vault_unseal_key_name"],
                    "A change replaces the resource, and the new name must already hold the "
                    "keys of an initialised cluster: Tarmak never initialises a cluster twice.",
                ),
                "status": Attribute(
                    STRING,
                    computed=True,
                    description="`ready` when every listed node is unsealed and one is active; "
                    "`sealed` when refresh found a node sealed, uninitialised (new) or not "
                    "answering, which the next apply fixes.",
                ),
                "id": Attribute(
                    STRING,
                    computed=True,
                    stable=True,
                    description="`vault-` and a digest of `internal_fqdns`, set at creation.",
                ),
            },
            blocks={"timeouts": CLUSTER_TIMEOUTS},
        )
    )

    def _params(self, state: dict[str, Any], create: bool) -> VaultClusterParams:
        from connector.protocol.contract import VaultClusterParams

        return VaultClusterParams(
            tuple(state["internal_fqdns"]),
            state["vault_ca"],
            state["vault_kms_key_id"],
            state["vault_unseal_key_name"],
            create,
        )

    async def _converge(self, plan: dict[str, Any], ctx: Context, diags: Diagnostics) -> bool:
        """Ask Tarmak to initialise (once), join and unseal every node; wait for it."""
        what = f"Vault ({', '.join(plan['internal_fqdns'])}) to be initialised and unsealed"
        wait = Poll(Method.VAULT_CLUSTER_CONVERGE, self._params(plan, create=True), what)
        return await poll(self.settings, wait, ctx, diags) is not None

    async def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        plan = req.plan
        if await self._converge(plan, req.context, resp.diagnostics):
            digest = hashlib.sha256(",".join(plan["internal_fqdns"]).encode()).hexdigest()[:12]
            resp.state = {**plan, "status": READY, "id": f"vault-{digest}"}

    def modify_plan(self, req: ModifyPlanRequest, resp: ModifyPlanResponse) -> None:
        """A cluster refresh found not ready is planned back to ready: apply unseals it."""
        if req.plan is not None and req.prior_state is not None:
            resp.plan = {**req.plan, "status": READY}

    async def update(self, req: UpdateRequest, resp: UpdateResponse) -> None:
        if req.prior_state.get("status") == READY:
            resp.state = {**req.plan, "status": READY}  # e.g. only `timeouts` changed
        elif await self._converge(req.plan, req.context, resp.diagnostics):
            resp.state = {**req.plan, "status": READY}

    async def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)
        answer = await check_once(
            self.settings,
            Method.VAULT_CLUSTER_OBSERVE,
            self._params(req.state, create=False),
            req.context,
            "the Vault cluster",
            resp.diagnostics,
        )
        if answer is None:
            return
        from connector.protocol.contract import ClusterObservation

        seen = ClusterObservation.from_result(answer)
        if not seen.reachable:
            resp.diagnostics.add_warning("Vault not reachable", f"{seen.detail}; state kept.")
        elif not seen.initialized:
            resp.state = None  # a new, empty cluster: Terraform plans to set it up again
        else:
            resp.state["status"] = READY if seen.ready else "sealed"

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        """Nothing to undo: Vault is not ours to remove."""


# What VaultCluster claims, checked by the type checker (as Go's `var _ X = ...`).
if TYPE_CHECKING:
    from provider.framework import ResourceWithModifyPlan

    _modifies_plans: type[ResourceWithModifyPlan] = VaultCluster
