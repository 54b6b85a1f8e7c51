"""ephemeral tarmak_vault_instance_role: the role's init token, never stored.

Terraform opens an ephemeral resource in plan and again in apply, and keeps
its result in memory only: the token reaches no state and no saved plan file.
Since plans only observe, opening never asks Tarmak to create anything: it
waits (like the resource) until the role's init token exists, which Tarmak
makes while converging `tarmak_vault_cluster` for the roles in its
configuration, or for a `tarmak_vault_instance_role` resource.
"""

from __future__ import annotations

from typing import Any

from connector.methods import Method
from provider.cty import STRING
from provider.framework import Attribute, Block, Schema, timeouts_block
from provider.framework.context import Context
from provider.framework.diagnostics import Diagnostics
from provider.framework.ephemeral import EphemeralResource, OpenRequest, OpenResponse
from provider.framework.validators import dns_label
from provider.resources.vault_cluster import VAULT_CONNECTION_ATTRIBUTES
from provider.resources.vault_instance_role import VaultInstanceRole

# Between answers that the token does not exist yet (Tarmak answers those at once).
NOT_YET_INTERVAL_SECONDS = 2.0


class VaultInstanceRoleEphemeral(EphemeralResource):
    type_name = "tarmak_vault_instance_role"
    schema = Schema(
        Block(
            description=(
                "Waits until the instance role's init token exists in Vault and returns it "
                "without it ever reaching the state or a plan file (Terraform 1.10+). Use it "
                "where Terraform takes ephemeral values: provider blocks, write-only "
                "attributes, ephemeral outputs and locals. It only reads: the token is made "
                "by Tarmak for the roles in its configuration when `tarmak_vault_cluster` "
                "converges, or by a `tarmak_vault_instance_role` resource."
            ),
            attributes={
                "vault_cluster_name": Attribute(
                    STRING,
                    required=True,
                    validators=(dns_label,),
                    description="Name of the cluster, e.g. `prod`.",
                ),
                "role_name": Attribute(
                    STRING,
                    required=True,
                    validators=(dns_label,),
                    description="Instance role, e.g. `worker`.",
                ),
                **{
                    name: Attribute(
                        attr.type,
                        required=True,
                        validators=attr.validators,
                        description=attr.description,
                    )
                    for name, attr in VAULT_CONNECTION_ATTRIBUTES.items()
                },
                "vault_unseal_key_name": Attribute(
                    STRING,
                    optional=True,
                    description="The cluster's `vault_unseal_key_name`, when it sets one: the "
                    "name of the keys Tarmak uses to reach the cluster.",
                ),
                "vault_cluster_id": Attribute(
                    STRING,
                    optional=True,
                    description="`id` of the `tarmak_vault_cluster`. Terraform opens an "
                    "ephemeral resource as soon as its configuration is known, also while "
                    "planning; referencing the cluster's `id` makes it wait until the cluster "
                    "is ready instead.",
                ),
                "init_token": Attribute(
                    STRING, computed=True, sensitive=True, description="The role's init token."
                ),
            },
            blocks={"timeouts": timeouts_block(open="30m")},
        )
    )

    def __init__(self) -> None:
        # The resource of the same name knows how to ask Tarmak; share it.
        self._role = VaultInstanceRole()

    def configure(self, provider_data: Any) -> None:
        self._role.configure(provider_data)

    async def open(self, req: OpenRequest, resp: OpenResponse) -> None:
        config = req.config
        name = f"{config['vault_cluster_name']}/{config['role_name']}"
        token = await self._wait_for_token(config, name, req.context, resp.diagnostics)
        if token is not None:
            resp.result = {**config, "init_token": token}

    async def _wait_for_token(
        self, config: dict[str, Any], name: str, ctx: Context, diags: Diagnostics
    ) -> str | None:
        """Ask (without creating) until the token exists, the timeout, or Ctrl-C."""
        from provider.tarmak.client import TarmakError  # loaded with the client

        client = self._role._client(diags)
        if client is None:
            return None
        params = {**self._role._params(config), "create": False, "wait": True}
        waiting_for = f"the init token of instance role {name}"
        seen = ""
        while True:
            what = f"{waiting_for} (last seen: {seen})" if seen else waiting_for
            remaining = ctx.remaining()
            wait = 20.0 if remaining is None else max(0.2, min(20.0, remaining))
            try:
                result = await client.call(
                    Method.VAULT_INSTANCE_ROLE, {**params, "wait_seconds": wait}, ctx, what
                )
            except TarmakError as err:
                diags.add_error(f"Tarmak could not provide {waiting_for}", str(err))
                return None
            status = result.get("status")
            if status == "ready":
                return str(result["init_token"])
            seen = str(result.get("detail", "not ready"))
            if status == "gone":
                # Not made yet: Tarmak answers at once, so pause before asking again.
                await ctx.wait(NOT_YET_INTERVAL_SECONDS, what)
