"""A small typed view of Vault's KV version 2 engine, over hvac.

Errors from hvac and requests are translated here, at the edge, into
`VaultError` with a message a Terraform user can act on, or `CasConflict`
when a check-and-set write lost a race. hvac (and requests) load on first use,
not at import: most provider processes never talk to Vault, and all of them
must start fast.

hvac does not follow redirects here: requests would carry the token to wherever
a redirect points. KV2 follows one only to a node of the same cluster
(vault_nodes.py), and `read_on_active` asks the active node when a standby's
answer may be stale.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provider.tarmak.settings import VaultSettings
from provider.tarmak.vault_nodes import VaultNodes, base_url, client_for, nodes_for

if TYPE_CHECKING:
    import hvac

__all__ = ["KV2", "CasConflict", "Entry", "NotKV2Mount", "VaultError", "client_for", "open_kv"]
# A standby may redirect to the active node; more hops than this is a loop.
MAX_REDIRECTS = 3
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class VaultError(Exception):
    """Vault refused or could not be reached; the message says which and where."""


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
    return KV2(client_for(settings), mount, nodes_for(settings))


# Mounts already seen to be KV version 2, per Vault address and namespace: checked
# once per provider process, before the first read or write there.
_CHECKED_MOUNTS: set[tuple[str, str | None, str]] = set()


class KV2:
    def __init__(self, client: hvac.Client, mount: str, nodes: VaultNodes | None = None) -> None:
        self.client = client
        self.mount = mount
        self._adapter = client.adapter
        self._nodes = nodes

    @property
    def address(self) -> str:
        return str(self.client.url)

    def _request(self, method: str, url: str, adapter: Any = None, **kwargs: Any) -> Any:
        """One request; a redirect (a standby pointing at the active node) is followed
        only to a node of the same cluster, so the token never leaves it."""
        adapter = adapter or self._adapter
        for _ in range(MAX_REDIRECTS + 1):
            response = adapter.request(method, url, **kwargs)
            if getattr(response, "status_code", None) not in _REDIRECT_CODES:
                return response
            location = urllib.parse.urljoin(response.url, response.headers.get("Location", ""))
            target = base_url(location)
            if self._nodes is None or not self._nodes.same_cluster(target):
                raise VaultError(
                    f"Vault at {self.client.url} redirected to {target}, which is not a node "
                    "of the same cluster (its sys/health shows another cluster_id, or none); "
                    "the token was not sent there"
                )
            adapter = self._nodes.client(target).adapter
            url = urllib.parse.urlsplit(location).path
        raise VaultError(f"Vault at {self.client.url} redirected more than {MAX_REDIRECTS} times")

    def _get(self, url: str, adapter: Any = None, **kwargs: Any) -> Any:
        return self._request("GET", url, adapter, **kwargs)

    def check_mount(self) -> None:
        """Refuse, before anything is read or written, a mount that is not KV version 2.

        sys/internal/ui/mounts/<path> is what Vault's own `kv` commands ask: it
        answers any token with some capability under the mount (sys/mounts/<path>
        needs a sudo-like policy). A KV v1 mount would take our v2 requests as
        plain keys named data/..., so this check must come first."""
        cache_key = (self.client.url, getattr(self.client.adapter, "namespace", None), self.mount)
        if cache_key in _CHECKED_MOUNTS:
            return
        import hvac.exceptions

        make_v2 = (
            f"make a KV version 2 mount with `bao secrets enable -version=2 -path={self.mount} kv` "
            f"(Vault: `vault secrets enable -path={self.mount} kv-v2`), or set kv_mount to one"
        )
        with self._translated(f"sys/internal/ui/mounts/{self.mount}"):
            try:
                response = self._get(f"/v1/sys/internal/ui/mounts/{self.mount}")
            except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidPath):
                raise NotKV2Mount(
                    f"Vault has no mount at {self.mount!r} that this token may use (it needs "
                    f"read, create, update, list and delete on {self.mount}/data/* and "
                    f"{self.mount}/metadata/*): permission denied, or {make_v2}"
                ) from None
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
        _CHECKED_MOUNTS.add(cache_key)

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
        return self._read(path, self._nodes.client(leader.address).adapter)

    def _read(self, path: str, adapter: Any) -> Entry:
        with self._translated(path):
            try:
                response = self._get(f"/v1/{self.mount}/data/{path}", adapter)
            except _errors().InvalidPath as err:
                # 404: never written, or its latest version is deleted/destroyed
                body = _json_errors(err)
                metadata = (body or {}).get("data", {}) or {}
                return Entry(int((metadata.get("metadata") or {}).get("version") or 0), None)
        data = response["data"]
        return Entry(int(data["metadata"]["version"]), data["data"])

    def current_version(self, path: str) -> int:
        """The newest version number, also when that version is deleted (0: none)."""
        with self._translated(path):
            try:
                response = self._get(f"/v1/{self.mount}/metadata/{path}")
            except _errors().InvalidPath:
                return 0
        return int(response["data"]["current_version"])

    def versions(self, path: str) -> dict[int, dict[str, Any]]:
        with self._translated(path):
            try:
                response = self._get(f"/v1/{self.mount}/metadata/{path}")
            except _errors().InvalidPath:
                return {}
        return {int(v): meta for v, meta in response["data"]["versions"].items()}

    def read_version(self, path: str, version: int) -> dict[str, Any] | None:
        with self._translated(path):
            try:
                response = self._get(f"/v1/{self.mount}/data/{path}", params={"version": version})
            except _errors().InvalidPath:
                return None
        data: dict[str, Any] | None = response["data"]["data"]
        return data

    def write(self, path: str, data: dict[str, Any], cas: int | None) -> int:
        """Write `data`; with `cas`, only if the current version is still `cas`."""
        body: dict[str, Any] = {"data": data}
        if cas is not None:
            body["options"] = {"cas": cas}
        with self._translated(path):
            try:
                response = self._request("POST", f"/v1/{self.mount}/data/{path}", json=body)
            except _errors().InvalidRequest as err:
                if "check-and-set" in str(err):
                    raise CasConflict(path) from None
                raise
        return int(response["data"]["version"])

    def delete_latest(self, path: str) -> None:
        """Soft-delete the newest version; metadata and history stay."""
        with self._translated(path), suppress(_errors().InvalidPath):
            self._request("DELETE", f"/v1/{self.mount}/data/{path}")

    def list(self, path: str) -> list[str]:
        with self._translated(path):
            try:
                response = self._request("LIST", f"/v1/{self.mount}/metadata/{path}")
            except _errors().InvalidPath:
                return []
        return list((response or {}).get("data", {}).get("keys", []))

    @contextmanager
    def _translated(self, path: str) -> Iterator[None]:
        import hvac.exceptions
        import requests

        where = self._where(path)
        try:
            yield
        except hvac.exceptions.InvalidPath as err:
            raise VaultError(
                f"Vault has no KV version 2 mount at {self.mount!r} ({err}); enable it with "
                f"`vault secrets enable -path={self.mount} kv-v2`"
            ) from None
        except hvac.exceptions.Forbidden:
            raise VaultError(
                f"permission denied on {where}: the token needs read, create, update, "
                f"list and delete on {self.mount}/data/* and {self.mount}/metadata/*"
            ) from None
        except hvac.exceptions.VaultDown:
            raise VaultError(f"Vault at {self.client.url} is sealed or in maintenance") from None
        except hvac.exceptions.Unauthorized:
            raise VaultError(f"Vault at {self.client.url} rejected the token") from None
        except hvac.exceptions.InvalidRequest as err:
            raise VaultError(f"Vault rejected a request on {where}: {err}") from None
        except hvac.exceptions.VaultError as err:
            raise VaultError(f"Vault error on {where}: {err}") from None
        except requests.exceptions.SSLError as err:
            raise VaultError(
                f"TLS verification of Vault at {self.client.url} failed ({err}); "
                "set vault_ca_cert or VAULT_CACERT to the CA that signed it"
            ) from None
        except requests.exceptions.RequestException as err:
            raise VaultError(f"cannot reach Vault at {self.client.url}: {err}") from None


def _errors() -> Any:
    """hvac's exception classes, loaded on first use."""
    import hvac.exceptions

    return hvac.exceptions


def _json_errors(err: hvac.exceptions.VaultError) -> dict[str, Any] | None:
    """The decoded body of the error response (a 404 of KV v2 still carries metadata)."""
    body = getattr(err, "json", None)
    return body if isinstance(body, dict) else None
