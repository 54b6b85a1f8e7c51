"""The Tarmak provider block: its configuration and the resources it offers."""

from __future__ import annotations

import os
from typing import Any

from connector.socket_path import DEFAULT_SOCKET, SOCKET_ENV
from provider.cty import STRING, UNKNOWN
from provider.framework import (
    Attribute,
    Block,
    ConfigureRequest,
    ConfigureResponse,
    Provider,
    Resource,
    Schema,
)
from provider.framework.action import Action
from provider.framework.ephemeral import EphemeralResource
from provider.framework.function import Function
from provider.framework.list_resource import ListResource
from provider.tarmak.settings import ProviderSettings, VaultSettings


def _setting(config: dict[str, Any], name: str, env: str) -> str | None:
    value = config.get(name)
    if value is None or value is UNKNOWN or value == "":
        value = os.environ.get(env) or None
    return value


def _header_setting(config: dict[str, Any], name: str, env: str) -> tuple[str | None, str]:
    """A setting sent as an HTTP header (the token, the namespace): stripped of
    surrounding whitespace, as Vault's CLI reads a token file (`file(".vault-token")`
    may end in a newline); and what is wrong with it, without its value, if it holds
    characters a header cannot carry (http.client's own error would quote it)."""
    value = _setting(config, name, env)
    if value is None:
        return None, ""
    value = value.strip()
    if not all(" " <= c <= "~" for c in value):
        return None, (
            f"{name} (or {env}) holds characters a Vault header cannot carry (control or "
            "non-ASCII characters); its value is not shown here."
        )
    return value or None, ""


class TarmakProvider(Provider):
    type_name = "tarmak"
    schema = Schema(
        Block(
            attributes={
                "vault_address": Attribute(
                    STRING,
                    optional=True,
                    description="Vault address for `tarmak_hostname` (default: `VAULT_ADDR`).",
                ),
                "vault_token": Attribute(
                    STRING,
                    optional=True,
                    sensitive=True,
                    description="Vault token for `tarmak_hostname` (default: `VAULT_TOKEN`).",
                ),
                "vault_ca_cert": Attribute(
                    STRING,
                    optional=True,
                    description="PEM file of the CA that signed Vault's certificate "
                    "(default: `VAULT_CACERT`).",
                ),
                "vault_namespace": Attribute(
                    STRING,
                    optional=True,
                    description="Vault Enterprise namespace (default: `VAULT_NAMESPACE`).",
                ),
                "socket_path": Attribute(
                    STRING,
                    optional=True,
                    description="Unix socket of `tarmak-connector` (default: "
                    f"`{SOCKET_ENV}`, else `{DEFAULT_SOCKET}`).",
                ),
            },
            description="Resources that wait for Tarmak, and unique hostnames from Vault.",
        )
    )

    def configure(self, req: ConfigureRequest, resp: ConfigureResponse) -> None:
        config = req.config or {}
        address = _setting(config, "vault_address", "VAULT_ADDR")
        token, token_problem = _header_setting(config, "vault_token", "VAULT_TOKEN")
        namespace, namespace_problem = _header_setting(config, "vault_namespace", "VAULT_NAMESPACE")
        vault = None
        # Like a missing setting, reported by the first resource that needs Vault.
        problem = token_problem or namespace_problem
        if not problem and address and token:
            vault = VaultSettings(
                address=address.rstrip("/"),
                token=token,
                ca_cert=_setting(config, "vault_ca_cert", "VAULT_CACERT"),
                namespace=namespace,
            )
        elif not problem:
            missing = [n for n, v in (("vault_address", address), ("vault_token", token)) if not v]
            problem = (
                f"Vault is not configured: set {' and '.join(missing)} in the provider block "
                "(or VAULT_ADDR / VAULT_TOKEN in the environment)."
            )
        socket_path = _setting(config, "socket_path", SOCKET_ENV) or DEFAULT_SOCKET
        resp.provider_data = ProviderSettings(vault, problem, socket_path)

    def resources(self) -> list[Resource]:
        from provider.resources import all_resources

        return all_resources()

    def ephemeral_resources(self) -> list[EphemeralResource]:
        from provider.resources import all_ephemeral_resources

        return all_ephemeral_resources()

    def list_resources(self) -> list[ListResource]:
        from provider.resources import all_list_resources

        return all_list_resources()

    def functions(self) -> list[Function]:
        from provider.functions import all_functions

        return all_functions()

    def actions(self) -> list[Action]:
        from provider.actions import all_actions

        return all_actions()
