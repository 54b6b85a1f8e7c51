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

from provider.cty import STRING
from provider.framework import Attribute, Block, Schema, timeouts_block
from provider.framework.ephemeral import EphemeralResource, OpenRequest, OpenResponse
from provider.framework.validators import dns_label
from provider.resources.vault_cluster import VAULT_CONNECTION_ATTRIBUTES
from provider.resources.vault_instance_role import init_token_poll
from provider.resources.waiting import poll
from provider.tarmak.settings import ProviderSettings


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

    settings: ProviderSettings | None = None

    def configure(self, provider_data: Any) -> None:
        self.settings = provider_data

    async def open(self, req: OpenRequest, resp: OpenResponse) -> None:
        """Ask (without creating) until the token exists, the timeout, or Ctrl-C."""
        wait = init_token_poll(req.config, create=False)
        result = await poll(self.settings, wait, req.context, resp.diagnostics)
        if result is not None:
            resp.result = {**req.config, "init_token": result.init_token}
