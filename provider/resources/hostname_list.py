"""list tarmak_hostname: the live hostname allocations in a KV mount, for
`terraform query` (Terraform 1.14+) and `-generate-config-out`.

Only reads: the `names/` index of the mount says which names exist, and each
live record says whose they are. Released names (soft-deleted records) are
not listed. Each result carries the allocation's identity (mount and name), so
the configuration Terraform generates imports it by identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from provider.cty import STRING
from provider.framework import Attribute, Block, Schema
from provider.framework.list_resource import ListRequest, ListResource, ListResult
from provider.framework.validators import dns_label
from provider.tarmak.hostnames.rules import DEFAULT_MOUNT, KEY_ATTRIBUTES
from provider.tarmak.settings import ProviderSettings, vault_settings

# A listing may be narrowed by any part of the counter's key.
_FILTERS = KEY_ATTRIBUTES


class HostnameList(ListResource):
    type_name = "tarmak_hostname"
    schema = Schema(
        Block(
            description=(
                "Lists the live hostname allocations in a KV version 2 mount, optionally only "
                "those of one application, role or environment."
            ),
            attributes={
                "kv_mount": Attribute(
                    STRING,
                    optional=True,
                    description=f"Path of the KV version 2 mount (default `{DEFAULT_MOUNT}`).",
                ),
                **{
                    name: Attribute(
                        STRING,
                        optional=True,
                        validators=(dns_label,),
                        description=f"Only allocations of this {name}.",
                    )
                    for name in _FILTERS
                },
            },
        )
    )
    settings: ProviderSettings | None = None

    def configure(self, provider_data: Any) -> None:
        self.settings = provider_data

    def list(self, req: ListRequest) -> Iterator[ListResult]:
        # Vault's client and the records load here, not with the schema (every start).
        from provider.tarmak.hostnames.records import state_from_record
        from provider.tarmak.vault_kv import VaultError, open_kv

        problems = ListResult()
        vault = vault_settings(self.settings, problems.diagnostics)
        if vault is None:
            yield problems
            return
        mount = req.config.get("kv_mount") or DEFAULT_MOUNT
        wanted = {k: req.config[k] for k in _FILTERS if req.config.get(k) is not None}
        kv = open_kv(vault, mount)
        try:
            names = sorted(n for n in kv.list("names/") if not n.endswith("/"))
        except VaultError as err:
            yield _error("Cannot list hostnames", f"{err}.")
            return
        for name in names:
            req.context.check(f"the hostnames in {mount}")
            try:
                record = kv.read(f"names/{name}").data
            except VaultError as err:
                yield _error(f"Cannot read the allocation of {name}", f"{err}.")
                return
            if record is None or any(record.get(k) != v for k, v in wanted.items()):
                continue
            state = state_from_record(record, mount, name)
            if state is None:
                continue  # not written by this provider
            yield ListResult(
                identity={"kv_mount": mount, "name": name},
                display_name=name,
                resource=state if req.include_resource else None,
            )


def _error(summary: str, detail: str) -> ListResult:
    result = ListResult()
    result.diagnostics.add_error(summary, detail)
    return result
