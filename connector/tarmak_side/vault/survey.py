"""Every listed node with its sys/health status (never audited, changes nothing)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from connector.tarmak_side.safe_paths import UnsafePath, private_copy
from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.health import Health, describe
from connector.tarmak_side.vault.links import Links
from connector.tarmak_side.vault.nodes import Node


@dataclass(frozen=True)
class Seen:
    """One node as sys/health showed it (status None: it did not answer)."""

    api: VaultApi
    status: int | None
    problem: str = ""

    @property
    def node(self) -> Node:
        return self.api.node

    @property
    def health(self) -> Health | None:
        return Health.of(self.status)

    @property
    def unsealed(self) -> bool:
        return self.health is not None and self.health.unsealed

    def describe(self) -> str:
        return f"Vault {self.node}: {self.problem or describe(self.status)}"


@dataclass(frozen=True)
class Survey:
    seen: tuple[Seen, ...]

    @property
    def active(self) -> Seen | None:
        return next((s for s in self.seen if s.health is Health.ACTIVE), None)

    @property
    def answered(self) -> list[Seen]:
        return [s for s in self.seen if s.status is not None]

    def describe(self) -> str:
        return "; ".join(s.describe() for s in self.seen)


def ca_file(state_dir: Path, ca: str, *, follow_symlink: bool = False) -> str:
    """The cluster's CA as a file requests can verify with (content-addressed). A file
    planted under that name is replaced, one that is not ours is refused."""
    if "BEGIN CERTIFICATE" not in ca:
        raise OperationFailed("vault_ca must be the PEM text of the cluster's CA certificate")
    digest = hashlib.sha256(ca.encode()).hexdigest()[:16]
    name = f"vault-ca-{digest}.pem"
    try:
        path = private_copy(state_dir, name, ca.encode(), follow_symlink=follow_symlink)
    except UnsafePath as err:
        raise OperationFailed(f"refusing the state directory: {err}") from None
    except OSError as err:
        raise OperationFailed(
            f"cannot write the cluster's CA to {state_dir / name} ({err.strerror}): the state "
            "directory must be writable; nothing was done to Vault"
        ) from None
    return str(path)


def listed_nodes(internal_fqdns: Sequence[str], default_port: int) -> list[Node]:
    if not internal_fqdns:
        raise OperationFailed("internal_fqdns names no Vault node")
    return [Node.parse(n, default_port) for n in internal_fqdns]


@contextlib.contextmanager
def survey(links: Links, nodes: list[Node], ca: str, token: str | None) -> Iterator[Survey]:
    """Look at every node; the links close afterwards."""
    found: list[Seen] = []
    try:
        for node in nodes:
            api = links.open(node, ca).with_token(token)
            try:
                found.append(Seen(api, api.call("GET", "sys/health").status))
            except (NotReady, OperationFailed) as err:
                found.append(Seen(api, None, str(err).removeprefix(f"Vault {node}: ")))
        yield Survey(tuple(found))
    finally:
        for seen in found:
            seen.api.close()
