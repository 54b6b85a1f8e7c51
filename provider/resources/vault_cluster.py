"""tarmak_vault_cluster: blocks until Vault is initialised and unsealed."""

from __future__ import annotations

import hashlib
from typing import Any

from connector.protocol import Method
from provider.cty import STRING, ListType
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
from provider.framework.validators import non_empty
from provider.resources.waiting import WAITING_TIMEOUTS, TarmakWaitingResource

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


def vault_params(state: dict[str, Any]) -> dict[str, Any]:
    return {"internal_fqdns": list(state["internal_fqdns"]), "vault_ca": state["vault_ca"]}


class VaultCluster(TarmakWaitingResource):
    type_name = "tarmak_vault_cluster"
    destroy_leaves = (
        "Vault is not deleted or sealed: its data, root token and unseal key stay as they are."
    )
    schema = Schema(
        Block(
            description=(
                "Waits until Tarmak has initialised (on first use) and unsealed the Vault "
                "cluster and set up each instance role. Destroying it only removes it from "
                "the state; Vault's data, root token and unseal key are left as they are."
            ),
            attributes={
                **VAULT_CONNECTION_ATTRIBUTES,
                "vault_kms_key_id": Attribute(
                    STRING, optional=True, description="KMS key that protects the unseal key."
                ),
                "vault_unseal_key_name": Attribute(
                    STRING,
                    optional=True,
                    description="Name under which Tarmak keeps the unseal key and root token.",
                ),
                "status": Attribute(STRING, computed=True, description="`ready` once unsealed."),
                "id": Attribute(STRING, computed=True, stable=True),
            },
            blocks={"timeouts": WAITING_TIMEOUTS},
        )
    )

    def _params(self, state: dict[str, Any]) -> dict[str, Any]:
        return {
            **vault_params(state),
            "vault_kms_key_id": state["vault_kms_key_id"],
            "vault_unseal_key_name": state["vault_unseal_key_name"],
        }

    async def create(self, req: CreateRequest, resp: CreateResponse) -> None:
        plan = req.plan
        what = f"Vault ({', '.join(plan['internal_fqdns'])}) to be initialised and unsealed"
        params = {**self._params(plan), "create": True}
        result = await self.wait_ready(
            Method.VAULT_CLUSTER_STATUS, params, req.context, what, resp.diagnostics
        )
        if result is not None:
            digest = hashlib.sha256(",".join(plan["internal_fqdns"]).encode()).hexdigest()[:12]
            resp.state = {**plan, "status": "ready", "id": f"vault-{digest}"}

    async def read(self, req: ReadRequest, resp: ReadResponse) -> None:
        resp.state = dict(req.state)
        result = await self.check_once(
            Method.VAULT_CLUSTER_INIT_STATUS,
            self._params(req.state),
            req.context,
            "the Vault cluster",
            resp.diagnostics,
        )
        if result is None or not result.get("reachable"):
            if result is not None:
                resp.diagnostics.add_warning(
                    "Vault not reachable", f"{result.get('detail')}; state kept."
                )
            return
        if not result.get("initialized"):
            resp.state = None  # a new, empty cluster: Terraform plans to set it up again
        else:
            resp.state["status"] = "sealed" if result.get("sealed") else "ready"

    def delete(self, req: DeleteRequest, resp: DeleteResponse) -> None:
        """Nothing to undo: Vault is not ours to remove."""
