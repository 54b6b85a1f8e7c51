"""Which Vault node to trust: the cluster behind the configured address.

Standbys answer reads from their own copy, which may be behind (a node
restarted while the leader was backing off from it answers 404 for keys the
cluster holds). What decides whether something exists must therefore come
from the active node, and a standby's redirect may be followed only to a node
of the same cluster: the token goes only where it was meant to go. "Same
cluster" is what an unauthenticated `sys/health` says (`cluster_id`), asked
before the token is sent.
"""

from __future__ import annotations

import functools
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provider.tarmak.settings import VaultSettings

if TYPE_CHECKING:
    import hvac

# Ask sys/health for a body from every kind of node, not a status that means "not active".
_HEALTH_PARAMS = {
    "standbyok": "true",
    "perfstandbyok": "true",
    "sealedcode": "200",
    "uninitcode": "200",
    "drsecondarycode": "200",
}


def base_url(url: str) -> str:
    """scheme://host:port of `url`: what names one node."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Leader:
    """The active node as the configured node knows it."""

    address: str  # base URL
    is_self: bool


class VaultNodes:
    """The nodes of the cluster reached through one configured address."""

    def __init__(self, settings: VaultSettings) -> None:
        self.settings = settings
        self.home = base_url(settings.address)
        self._clients: dict[str, hvac.Client] = {}

    def _unauthenticated_get(self, base: str, path: str, **params: str) -> dict[str, Any] | None:
        import requests

        try:
            response = requests.get(
                f"{base}/v1/{path}",
                params=params,
                verify=self.settings.ca_cert or True,
                timeout=self.settings.timeout,
                allow_redirects=False,
            )
        except requests.RequestException:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def cluster_id(self, base: str) -> str | None:
        body = self._unauthenticated_get(base, "sys/health", **_HEALTH_PARAMS)
        cluster = (body or {}).get("cluster_id")
        return cluster if isinstance(cluster, str) and cluster else None

    def same_cluster(self, base: str) -> bool:
        """Whether the node at `base` belongs to the cluster of the configured address."""
        if base == self.home:
            return True
        home_id = self.cluster_id(self.home)
        return home_id is not None and home_id == self.cluster_id(base)

    def leader(self) -> Leader | None:
        """The active node, checked to be of the same cluster; None when there is none
        (no quorum) or the configured node cannot say."""
        body = self._unauthenticated_get(self.home, "sys/leader")
        if body is None:
            return None
        # Without HA (a single node, e.g. `-dev`) the configured node is the only one.
        if body.get("is_self") is True or body.get("ha_enabled") is False:
            return Leader(self.home, True)
        address = body.get("leader_address")
        if not isinstance(address, str) or not address:
            return None
        base = base_url(address)
        return Leader(base, False) if self.same_cluster(base) else None

    def client(self, base: str) -> hvac.Client:
        """A client for another node of the cluster, with the configured token."""
        if base not in self._clients:
            self._clients[base] = _client(self.settings, base)
        return self._clients[base]


def _client(settings: VaultSettings, url: str) -> hvac.Client:
    import hvac

    return hvac.Client(
        url=url,
        token=settings.token,
        verify=settings.ca_cert or True,
        namespace=settings.namespace or None,
        timeout=settings.timeout,
        # Redirects are followed by KV2, after checking where they lead.
        allow_redirects=False,
    )


@functools.cache
def client_for(settings: VaultSettings) -> hvac.Client:
    """One client (one connection pool) per Vault, shared by every operation of
    the provider process: each would otherwise open its own connection (and
    TLS session) for the few requests it makes."""
    return _client(settings, settings.address)


@functools.cache
def nodes_for(settings: VaultSettings) -> VaultNodes:
    return VaultNodes(settings)
