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
import threading
import urllib.parse
from enum import Enum
from typing import Any

from provider.prebuilt_dataclasses import dataclass
from provider.tarmak.settings import VaultSettings
from provider.tarmak.vault_http import NodeClient, TLSFailure, Unreachable

# Seconds to connect to a node other than the configured one (see VaultNodes.client).
PEER_CONNECT_TIMEOUT = 2.0
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


class Membership(Enum):
    """What a node's unauthenticated sys/health says of it, against the configured node."""

    SAME = "same"  # the configured node's cluster_id
    OTHER = "other"  # another cluster_id, or none
    UNREACHABLE = "unreachable"  # no answer: nothing can be told (a node down)


@dataclass(frozen=True)
class Leader:
    """The active node as the configured node knows it."""

    address: str  # base URL
    is_self: bool


class VaultNodes:
    """The nodes of the cluster reached through one configured address.

    A node's cluster_id is asked once per process and kept (only a real answer
    is kept: a node that did not answer is asked again next time). Every
    redirect of every write would otherwise cost two more requests, each on a
    new connection. A node's cluster does not change under a running apply; a
    node that left it would still have to present a certificate our CA signed
    before the token is sent to it."""

    def __init__(self, settings: VaultSettings) -> None:
        self.settings = settings
        self.home = base_url(settings.address)
        # The configured node is reached at the configured address (with its path, if any).
        self._clients = {self.home: NodeClient(settings, settings.address)}
        self._cluster_ids: dict[str, str] = {}
        self._active: str | None = None  # where requests go, once found (active())
        self._lock = threading.Lock()

    def _unauthenticated_get(self, base: str, path: str, **params: str) -> dict[str, Any] | None:
        try:
            return self._ask(base, path, **params)
        except Unreachable:
            return None

    def _ask(self, base: str, path: str, **params: str) -> dict[str, Any] | None:
        """The JSON body of an unauthenticated GET; raises Unreachable without an answer."""
        reply = self.client(base).request("GET", f"/v1/{path}", params=params, token=False)
        return reply.body if isinstance(reply.body, dict) else None

    def _cluster_id(self, base: str) -> str | None:
        known = self._cluster_ids.get(base)
        if known is not None:
            return known
        body = self._ask(base, "sys/health", **_HEALTH_PARAMS)
        cluster = (body or {}).get("cluster_id")
        if not isinstance(cluster, str) or not cluster:
            return None
        self._cluster_ids[base] = cluster
        return cluster

    def membership(self, base: str) -> Membership:
        """Whether the node at `base` belongs to the cluster of the configured address,
        another one, or cannot be asked (then nothing is sent to it)."""
        if base == self.home:
            return Membership.SAME
        try:
            home_id = self._cluster_id(self.home)
            their_id = self._cluster_id(base)
        except TLSFailure:
            return Membership.OTHER  # a certificate our CA did not sign: not our cluster
        except Unreachable:
            return Membership.UNREACHABLE
        same = home_id is not None and home_id == their_id
        return Membership.SAME if same else Membership.OTHER

    def same_cluster(self, base: str) -> bool:
        """Whether the node at `base` is known to belong to the configured node's cluster."""
        return self.membership(base) is Membership.SAME

    def leader(self) -> Leader | None:
        """The active node, checked to be of the same cluster; None when there is none
        (no quorum) or the configured node cannot say. Asked every time: the
        leader may change between two questions."""
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

    def client(self, base: str) -> NodeClient:
        """The client of a node of the cluster (kept: it holds the node's connections).
        A node other than the configured one gets a short connect timeout: the
        address a leader gives may not be reachable from here (a tunnel or a load
        balancer in between), and finding that out must not cost the whole timeout."""
        client = self._clients.get(base)
        if client is None:
            connect = min(PEER_CONNECT_TIMEOUT, self.settings.timeout)
            with self._lock:
                client = self._clients.setdefault(
                    base, NodeClient(self.settings, base, connect_timeout=connect)
                )
        return client

    def active(self) -> str:
        """Where requests go: the active node, when the configured node names one
        that answers and is of the same cluster; else the configured node, which
        forwards to it. A standby decides check-and-set against its own copy, which
        may be behind (a write there can be refused for a version the active node
        already has), and forwarding costs the cluster more CPU than the write
        itself. Kept until a request there fails (forget_active)."""
        known = self._active
        if known is not None:
            return known
        found = self._find_active()
        if found is None:
            return self.home  # no leader now: ask again next time
        self._active = found
        return found

    def forget_active(self, base: str) -> None:
        """A request to `base` failed or was redirected: find the active node again."""
        with self._lock:
            if self._active == base:
                self._active = None

    def _find_active(self) -> str | None:
        """The active node's base URL; None while the cluster has no leader, or the
        configured node does not answer (both are asked again next time)."""
        body = self._unauthenticated_get(self.home, "sys/leader")
        if body is None:
            return None
        if body.get("ha_enabled") is not True or body.get("is_self") is True:
            return self.home  # no HA (one node, `-dev`), this node, or it cannot say
        address = body.get("leader_address")
        if not isinstance(address, str) or not address:
            return None  # an election
        base = base_url(address)
        # Another cluster never gets the token, and a leader not reachable from here
        # is reached through the configured node: both are kept, not asked again.
        return base if self.membership(base) is Membership.SAME else self.home


def client_for(settings: VaultSettings) -> NodeClient:
    """The client of the configured node, shared by every operation of the provider
    process: each would otherwise open its own connection (and TLS session) for
    the few requests it makes."""
    nodes = nodes_for(settings)
    return nodes.client(nodes.home)


@functools.cache
def nodes_for(settings: VaultSettings) -> VaultNodes:
    return VaultNodes(settings)
