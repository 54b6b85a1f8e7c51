"""A small typed view of Vault's KV version 2 engine.

Vault's answers are translated here, at the edge, into `VaultError` with a
message a Terraform user can act on, or `CasConflict` when a check-and-set
write lost a race. Requests go through vault_http.py (the standard library's
http.client), not hvac: the allocation path sends hundreds of them per apply,
and every provider process must start fast.

Redirects are followed here, and only to a node of the same cluster
(vault_nodes.py), so the token never leaves it; `read_on_active` asks the
active node when a standby's answer may be stale.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from provider.prebuilt_dataclasses import dataclass
from provider.tarmak.settings import VaultSettings

if TYPE_CHECKING:
    # Loaded on first use, not at import: every provider start imports this module
    # (through the resource's schema), and few of them talk to Vault.
    from provider.tarmak.vault_http import NodeClient, Reply
    from provider.tarmak.vault_nodes import VaultNodes

__all__ = [
    "KV2",
    "CasConflict",
    "Entry",
    "NotKV2Mount",
    "VaultError",
    "VaultUnavailable",
    "client_for",
    "open_kv",
]
# A standby may redirect to the active node; more hops than this is a loop.
MAX_REDIRECTS = 3
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# Answers that say "not now" (a busy or unreachable upstream, a rate limit), and
# what a cluster without a leader answers with a 500 during an election.
_UNAVAILABLE_CODES = frozenset({429, 502, 504})
_NO_LEADER = ("active cluster node not found", "leadership lost", "not the leader", "no leader")


class VaultError(Exception):
    """Vault refused or could not be reached; the message says which and where."""


class VaultUnavailable(VaultError):
    """Vault could not answer for now: unreachable, sealed, or without a leader (an
    election takes seconds). Trying again later may succeed; a write that met this
    may or may not have been done."""


class NotKV2Mount(VaultError):
    """kv_mount names no KV version 2 mount (or none this token may use)."""


class CasConflict(Exception):
    """Someone else wrote the key since we read it."""


@dataclass(frozen=True)
class Entry:
    """One key: its current version (0 when it never existed) and data (None when deleted)."""

    version: int
    data: dict[str, Any] | None

    @property
    def exists(self) -> bool:
        return self.data is not None

    @property
    def released(self) -> bool:
        """The key's metadata shows its newest version deleted or destroyed: proof that
        it was written and then released, which a bare absence (404 with no metadata,
        as a node that is behind answers) is not."""
        return self.version > 0 and self.data is None


def open_kv(settings: VaultSettings, mount: str) -> KV2:
    """The KV mount `mount` of the Vault in `settings`, sharing its client."""
    from provider.tarmak.vault_nodes import nodes_for

    nodes = nodes_for(settings)
    return KV2(nodes.client(nodes.home), mount, nodes)


def client_for(settings: VaultSettings) -> NodeClient:
    """The client of the configured node, shared by the whole process."""
    from provider.tarmak.vault_nodes import client_for as configured_client

    return configured_client(settings)


# Mounts already seen to be KV version 2, per Vault address and namespace: checked
# once per provider process, before the first read or write there. The lock makes
# the operations Terraform starts at once wait for the first one's answer instead
# of each asking Vault the same question.
_CHECKED_MOUNTS: set[tuple[str, str | None, str]] = set()
_CHECKING = threading.Lock()


class KV2:
    def __init__(self, client: NodeClient, mount: str, nodes: VaultNodes | None = None) -> None:
        self.client = client
        self.mount = mount
        self._nodes = nodes

    @property
    def address(self) -> str:
        return str(self.client.url)

    def _node(self) -> NodeClient:
        """The node requests go to: the cluster's active node once found (vault_nodes)."""
        if self._nodes is None:
            return self.client
        return self._nodes.client(self._nodes.active())

    def _request(
        self, method: str, path: str, node: NodeClient | None = None, **kwargs: Any
    ) -> Reply:
        """One request; a redirect (a standby pointing at the active node) is followed
        only to a node of the same cluster, so the token never leaves it."""
        node = node or self._node()
        for _ in range(MAX_REDIRECTS + 1):
            reply = node.request(method, path, **kwargs)
            if reply.status not in _REDIRECT_CODES:
                return reply
            self._forget(node)  # no longer the active node, if it was
            from provider.tarmak.vault_nodes import Membership, base_url

            location = urllib.parse.urljoin(f"{node.url}{path}", reply.location or "")
            target = base_url(location)
            nodes = self._nodes
            membership = nodes.membership(target) if nodes is not None else None
            if membership is Membership.UNREACHABLE:
                # A standby still pointing at an active node that is down: a leader change.
                raise VaultUnavailable(
                    f"Vault at {self.client.url} redirected to {target}, which does not answer "
                    "(the active node is down or changing); the token was not sent there"
                )
            if nodes is None or membership is not Membership.SAME:
                raise VaultError(
                    f"Vault at {self.client.url} redirected to {target}, which is not a node "
                    "of the same cluster (its sys/health shows another cluster_id, or none); "
                    "the token was not sent there"
                )
            node = nodes.client(target)
            path = urllib.parse.urlsplit(location).path
        raise VaultError(f"Vault at {self.client.url} redirected more than {MAX_REDIRECTS} times")

    def check_mount(self) -> None:
        """Refuse, before anything is read or written, a mount that is not KV version 2.

        sys/internal/ui/mounts/<path> is what Vault's own `kv` commands ask: it
        answers any token with some capability under the mount (sys/mounts/<path>
        needs a sudo-like policy). A KV v1 mount would take our v2 requests as
        plain keys named data/..., so this check must come first."""
        cache_key = (self.client.url, self.client.settings.namespace or None, self.mount)
        if cache_key in _CHECKED_MOUNTS:
            return
        with _CHECKING:
            if cache_key not in _CHECKED_MOUNTS:
                self._check_mount()
                _CHECKED_MOUNTS.add(cache_key)

    def _check_mount(self) -> None:
        make_v2 = (
            f"make a KV version 2 mount with `bao secrets enable -version=2 -path={self.mount} kv` "
            f"(Vault: `vault secrets enable -path={self.mount} kv-v2`), or set kv_mount to one"
        )
        path = f"/v1/sys/internal/ui/mounts/{self.mount}"
        reply = self._call("GET", path, f"sys/internal/ui/mounts/{self.mount}")
        if reply.status in (403, 404):
            raise NotKV2Mount(
                f"Vault has no mount at {self.mount!r} that this token may use (it needs "
                f"read, create, update, list and delete on {self.mount}/data/* and "
                f"{self.mount}/metadata/*): permission denied, or {make_v2}"
            )
        self._raise_for(reply, "GET", path, f"sys/internal/ui/mounts/{self.mount}")
        response = reply.body
        info = response.get("data") if isinstance(response, dict) else None
        if not isinstance(info, dict):
            raise NotKV2Mount(f"Vault did not describe the mount {self.mount!r}; {make_v2}")
        engine = info.get("type")
        version = str((info.get("options") or {}).get("version") or "1")
        mounted_at = str(info.get("path") or "").rstrip("/")
        if mounted_at and mounted_at != self.mount:
            raise NotKV2Mount(
                f"{self.mount!r} is a path inside the {engine} mount {mounted_at!r}, not a mount "
                f"of its own; {make_v2}"
            )
        if engine not in ("kv", "generic") or version != "2":
            what = f"KV version {version}" if engine in ("kv", "generic") else f"a {engine} engine"
            raise NotKV2Mount(
                f"the mount {self.mount!r} is {what}, not KV version 2, and nothing was "
                f"written to it; {make_v2}"
            )

    def _where(self, path: str) -> str:
        return f"{self.mount}/data/{path} at {self.client.url}"

    def read(self, path: str) -> Entry:
        return self._read(path, None)

    def read_on_active(self, path: str) -> Entry | None:
        """`path` as the active node sees it, for reads that decide whether something
        exists; None when no active node can be found (no quorum, or the configured
        node cannot tell)."""
        leader = self._nodes.leader() if self._nodes is not None else None
        if leader is None:
            return None
        if leader.is_self:
            return self._read(path, None)
        assert self._nodes is not None
        return self._read(path, self._nodes.client(leader.address))

    def _read(self, path: str, node: NodeClient | None) -> Entry:
        url = f"/v1/{self.mount}/data/{path}"
        reply = self._call("GET", url, path, node=node)
        if reply.status == 404:
            # never written, or its latest version is deleted/destroyed
            body = reply.body if isinstance(reply.body, dict) else {}
            metadata = body.get("data", {}) or {}
            return Entry(int((metadata.get("metadata") or {}).get("version") or 0), None)
        self._raise_for(reply, "GET", url, path)
        data = reply.body["data"]
        return Entry(int(data["metadata"]["version"]), data["data"])

    def current_version(self, path: str) -> int:
        """The newest version number, also when that version is deleted (0: none)."""
        reply = self._ok_or_404("GET", f"/v1/{self.mount}/metadata/{path}", path)
        return 0 if reply is None else int(reply.body["data"]["current_version"])

    def versions(self, path: str) -> dict[int, dict[str, Any]]:
        reply = self._ok_or_404("GET", f"/v1/{self.mount}/metadata/{path}", path)
        if reply is None:
            return {}
        return {int(v): meta for v, meta in reply.body["data"]["versions"].items()}

    def read_version(self, path: str, version: int) -> dict[str, Any] | None:
        url = f"/v1/{self.mount}/data/{path}"
        reply = self._ok_or_404("GET", url, path, params={"version": version})
        if reply is None:
            return None
        data: dict[str, Any] | None = reply.body["data"]["data"]
        return data

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        """Write `data`; with `cas`, only if the current version is still `cas`."""
        body: dict[str, Any] = {"data": data}
        if cas is not None:
            body["options"] = {"cas": cas}
        url = f"/v1/{self.mount}/data/{path}"
        reply = self._call("POST", url, path, json_body=body)
        if reply.status == 400 and "check-and-set" in reply.errors():
            raise CasConflict(path)
        self._raise_for(reply, "POST", url, path)
        return int(reply.body["data"]["version"])

    def delete_latest(self, path: str) -> None:
        """Soft-delete the newest version; metadata and history stay."""
        self._ok_or_404("DELETE", f"/v1/{self.mount}/data/{path}", path)

    def list(self, path: str) -> list[str]:
        reply = self._ok_or_404("LIST", f"/v1/{self.mount}/metadata/{path}", path)
        if reply is None or not isinstance(reply.body, dict):
            return []
        return list((reply.body.get("data") or {}).get("keys", []))

    def _call(
        self, method: str, url: str, path: str, node: NodeClient | None = None, **kwargs: Any
    ) -> Reply:
        node = node or self._node()
        with self._translated(path, node):
            reply = self._request(method, url, node, **kwargs)
        if reply.status >= 500 or reply.status == 429:
            self._forget(node)  # sealed, stepping down, or overloaded: look again
        return reply

    def _forget(self, node: NodeClient) -> None:
        if self._nodes is not None and node is not self.client:
            from provider.tarmak.vault_nodes import base_url

            self._nodes.forget_active(base_url(node.url))

    def _ok_or_404(self, method: str, url: str, path: str, **kwargs: Any) -> Reply | None:
        """The answer, or None for a 404 (nothing there)."""
        reply = self._call(method, url, path, **kwargs)
        if reply.status == 404:
            return None
        self._raise_for(reply, method, url, path)
        return reply

    def _raise_for(self, reply: Reply, method: str, url: str, path: str) -> None:
        """A VaultError that says what went wrong, for any answer that is not a success."""
        if reply.status < 400:
            return
        where = self._where(path)
        err = f"{reply.errors()}, on {method} {self.client.url}{url}"
        if reply.status == 404:
            raise VaultError(
                f"Vault has no KV version 2 mount at {self.mount!r} ({err}); enable it with "
                f"`vault secrets enable -path={self.mount} kv-v2`"
            )
        if reply.status == 403:
            raise VaultError(
                f"permission denied on {where}: the token needs read, create, update, "
                f"list and delete on {self.mount}/data/* and {self.mount}/metadata/*"
            )
        if reply.status == 503:
            raise VaultUnavailable(f"Vault at {self.client.url} is sealed or in maintenance")
        if reply.status in _UNAVAILABLE_CODES or (
            reply.status == 500 and any(s in reply.errors() for s in _NO_LEADER)
        ):
            raise VaultUnavailable(f"Vault is unavailable for now on {where}: {err}")
        if reply.status == 401:
            raise VaultError(f"Vault at {self.client.url} rejected the token")
        if reply.status == 400:
            raise VaultError(f"Vault rejected a request on {where}: {err}")
        raise VaultError(f"Vault error on {where}: {err}")

    @contextmanager
    def _translated(self, path: str, node: NodeClient) -> Iterator[None]:
        """What never got an answer: a certificate we do not trust, or no connection.
        A node other than the configured one is named as what it is, and forgotten
        as the active node (the next request looks for it again)."""
        from provider.tarmak.vault_http import TLSFailure, Unreachable, Unsendable

        where = self.client.url
        if node is not self.client:
            where = f"{node.url} (the active node named by {self.client.url})"
        try:
            yield
        except TLSFailure as err:
            self._forget(node)
            raise VaultError(
                f"TLS verification of Vault at {where} failed ({err}); "
                "set vault_ca_cert or VAULT_CACERT to the CA that signed it"
            ) from None
        except Unreachable as err:
            self._forget(node)
            raise VaultUnavailable(f"cannot reach Vault at {where}: {err}") from None
        except Unsendable as err:
            raise VaultError(f"{err} (Vault at {where})") from None
