"""When Tarmak joins a new Raft node: only after the node has had its grace to
join by itself (its own `retry_join`), once per grace, and never while it is
already joining. A join sent on top of the node's own attempt can leave it
unsealed but never a voter (test_vault_cluster.py's restart test met it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from connector.protocol.contract import VaultClusterParams
from connector.tarmak_side.vault.api import Answer, VaultApi
from connector.tarmak_side.vault.converge import Converger
from connector.tarmak_side.vault.errors import NotReady
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.keystore import StoredKeys
from connector.tarmak_side.vault.nodes import Node
from connector.tarmak_side.vault.protection import KeyProtection
from connector.tarmak_side.vault.survey import Seen, Survey

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@dataclass
class NodeApi:
    """A node that records what it was sent and answers 200 to everything."""

    node: Node
    sent: list[str] = field(default_factory=list)

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> Answer:
        self.sent.append(f"{method} {path}")
        return Answer(self.node, 200, {}, "")


class PlainProtection:
    kind = "file"

    def reveal(self, blob: str) -> bytes:
        return blob.encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def converger(clock: Clock) -> Converger:
    return Converger(cast(Any, None), cast(Any, None), clock=clock, join_grace=10.0)


ACTIVE = NodeApi(Node("10.0.0.1", 8200))
KEYS = ClusterKeys(
    StoredKeys("file", ("share",), 1, "root"),
    cast(KeyProtection, PlainProtection()),
    Path("/state/vault-demo.json"),
)
CLUSTER = VaultClusterParams(("vault-1",), CA, create=False)


def step(
    converger: Converger, new: NodeApi, status: int, *more: NodeApi, name: str = "demo"
) -> str:
    """One pass over the active node, `new` at `status` and `more` not initialised."""
    seen = [Seen(cast(VaultApi, ACTIVE), 200), Seen(cast(VaultApi, new), status)]
    seen += [Seen(cast(VaultApi, api), 501) for api in more]
    with pytest.raises(NotReady) as waiting:
        converger.step(Survey(tuple(seen)), KEYS, name, CLUSTER)
    return str(waiting.value)


def joins(api: NodeApi) -> int:
    return api.sent.count("PUT sys/storage/raft/join")


def test_a_new_node_is_joined_only_after_its_grace_and_then_once_per_grace(
    converger: Converger, clock: Clock
) -> None:
    new = NodeApi(Node("10.0.0.2", 8200))
    said = step(converger, new, 501)
    assert joins(new) == 0
    assert "giving its own retry_join 10s more before joining it to 10.0.0.1:8200" in said
    clock.now += 9.5
    step(converger, new, 501)
    assert joins(new) == 0
    clock.now += 0.5
    assert "joining 10.0.0.1:8200" in step(converger, new, 501)
    assert joins(new) == 1
    clock.now += 1
    step(converger, new, 501)
    assert joins(new) == 1, "a join under way is not sent again on top of itself"
    clock.now += 10
    step(converger, new, 501)
    assert joins(new) == 2, "still not initialised a grace later: joined again"


def test_a_node_that_joined_by_itself_is_unsealed_and_never_joined(
    converger: Converger, clock: Clock
) -> None:
    new = NodeApi(Node("10.0.0.2", 8200))
    step(converger, new, 501)
    clock.now += 3
    step(converger, new, 503)  # its retry_join fetched the challenge: it takes the keys
    assert new.sent == ["PUT sys/unseal"]
    clock.now += 8
    step(converger, new, 501)  # uninitialised again (wiped): a fresh grace
    assert joins(new) == 0
    clock.now += 10
    step(converger, new, 501)
    assert joins(new) == 1


def test_graces_are_per_cluster_and_node(converger: Converger, clock: Clock) -> None:
    first, second = NodeApi(Node("10.0.0.2", 8200)), NodeApi(Node("10.0.0.3", 8200))
    step(converger, first, 501, name="demo")
    clock.now += 6
    step(converger, first, 501, second, name="demo")  # the second node appears
    step(converger, first, 501, name="other")  # the same address in another cluster
    clock.now += 4
    step(converger, first, 501, second, name="demo")
    assert (joins(first), joins(second)) == (1, 0)
    step(converger, first, 501, name="other")
    assert joins(first) == 1, "the other cluster's grace began 6 s later"
    clock.now += 6
    step(converger, first, 503, second, name="demo")
    assert joins(second) == 1


def test_nothing_is_joined_without_an_active_node(converger: Converger, clock: Clock) -> None:
    new = NodeApi(Node("10.0.0.2", 8200))
    lone = Survey((Seen(cast(VaultApi, new), 501), Seen(cast(VaultApi, ACTIVE), 503)))
    for _ in range(3):
        with pytest.raises(NotReady):
            converger.step(lone, KEYS, "demo", CLUSTER)
        clock.now += 20
    assert joins(new) == 0
