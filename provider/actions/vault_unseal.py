"""tarmak_vault_unseal: unseal the cluster's nodes now, one by one, reporting each.

The imperative twin of what `tarmak_vault_cluster`'s apply does for a sealed
node, for an operator who wants it done now (after a restart) without a plan
of the whole configuration. Tarmak is asked once per node (VAULT_NODE_UNSEAL)
and a progress line follows each answer; a node that fails is reported by
name and the others are still tried. Nothing is initialised or joined, and
the resource's state is not touched: its next refresh sees the nodes ready.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from connector.methods import Method
from provider.framework import Block, Schema
from provider.framework.action import Action, InvokeActionRequest, InvokeActionResponse
from provider.framework.context import OperationInterrupted
from provider.framework.timeouts import timeouts_block
from provider.resources.vault_cluster import VAULT_CONNECTION_ATTRIBUTES, VAULT_KEY_ATTRIBUTES
from provider.resources.waiting import tarmak_client
from provider.tarmak.settings import ProviderSettings

if TYPE_CHECKING:
    from connector.protocol.contract import NodeUnsealParams


class VaultUnseal(Action):
    type_name = "tarmak_vault_unseal"
    settings: ProviderSettings | None = None
    schema = Schema(
        Block(
            description=(
                "Asks Tarmak to unseal the Vault cluster's nodes now, one after another, and "
                "reports each as it goes (`vault-1:8200: unsealed`, `...: already unsealed`, "
                "`...: auto-unseal (transit), nothing sent`). Each sealed node is sent the "
                "stored key shares, revealed through the key protection Tarmak's env.yaml "
                "names; a node that cannot be unsealed is reported by name and the others are "
                "still tried.\n\n"
                "It never initialises or joins a node and changes no state: use it after "
                "nodes were restarted, when waiting for a plan of the whole configuration is "
                "not wanted (`terraform apply -invoke=action.tarmak_vault_unseal.<label>`, "
                "Terraform 1.14+). `tarmak_vault_cluster` stays the declarative path, on "
                "every Terraform: its apply unseals and joins what its refresh found sealed. "
                "See docs/actions.md."
            ),
            attributes={
                **{n: replace(a, force_new=False) for n, a in VAULT_CONNECTION_ATTRIBUTES.items()},
                **VAULT_KEY_ATTRIBUTES,
            },
            blocks={"timeouts": timeouts_block(invoke="10m")},
        )
    )

    def configure(self, provider_data: Any) -> None:
        self.settings = provider_data

    def _params(self, config: dict[str, Any], node: str) -> NodeUnsealParams:
        from connector.protocol.contract import NodeUnsealParams

        return NodeUnsealParams(
            node, config["vault_ca"], config["vault_kms_key_id"], config["vault_unseal_key_name"]
        )

    async def invoke(
        self, req: InvokeActionRequest, resp: InvokeActionResponse
    ) -> AsyncIterator[str]:
        from connector.protocol.contract import NodeUnsealResult
        from provider.tarmak.client import TarmakError  # loaded with the client

        client = tarmak_client(self.settings, resp.diagnostics)
        if client is None:
            return
        for node in req.config["internal_fqdns"]:
            params = self._params(req.config, node).to_params()
            try:
                answer = await client.call(
                    Method.VAULT_NODE_UNSEAL, params, req.context, f"Tarmak to unseal {node}"
                )
            except OperationInterrupted as err:
                resp.diagnostics.add_error(f"Stopped unsealing Vault {node}", str(err))
                yield f"{node}: stopped"
                return
            except TarmakError as err:
                resp.diagnostics.add_error(f"Vault {node} was not unsealed", str(err))
                yield f"{node}: not unsealed"
                continue
            yield NodeUnsealResult.from_result(answer).describe()
