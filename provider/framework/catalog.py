"""What a provider offers, by type name, read once from its author's methods.

Answering for the schema (GetMetadata, GetProviderSchema) needs only this,
not the runner that performs operations. Terraform starts a provider several
times per run and some starts only ask for the schema; those then never
import the runner, the codecs and the planning rules (docs/benchmarks.md,
"A start that only reports the schema").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from provider.framework.identity import IdentitySchema, ResourceWithIdentity
from provider.framework.resource import DataSource, Resource, implements
from provider.prebuilt_dataclasses import dataclass

if TYPE_CHECKING:
    from provider.framework.action import Action
    from provider.framework.ephemeral import EphemeralResource
    from provider.framework.function import Function
    from provider.framework.list_resource import ListResource
    from provider.framework.provider import Provider


@dataclass(frozen=True)
class Catalog:
    provider: Provider
    resources: dict[str, Resource]
    data_sources: dict[str, DataSource]
    ephemeral_resources: dict[str, EphemeralResource]
    list_resources: dict[str, ListResource]
    functions: dict[str, Function]
    actions: dict[str, Action]
    # The identity schema of every resource that has one.
    identity_schemas: dict[str, IdentitySchema]

    @classmethod
    def of(cls, provider: Provider) -> Catalog:
        resources = {r.type_name: r for r in provider.resources()}
        return cls(
            provider=provider,
            resources=resources,
            data_sources={d.type_name: d for d in provider.data_sources()},
            ephemeral_resources={e.type_name: e for e in provider.ephemeral_resources()},
            list_resources={r.type_name: r for r in provider.list_resources()},
            functions={f.name: f for f in provider.functions()},
            actions={a.type_name: a for a in provider.actions()},
            identity_schemas={
                name: r.identity_schema
                for name, r in resources.items()
                if implements(r, ResourceWithIdentity)
            },
        )
