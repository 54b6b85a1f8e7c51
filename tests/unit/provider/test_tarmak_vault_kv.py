"""KV2's redirects: followed to a node of the same cluster, refused (token unsent)
anywhere else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from provider.tarmak.vault_kv import KV2, VaultError


@dataclass
class Redirect:
    url: str
    location: str
    status_code: int = 307

    @property
    def headers(self) -> dict[str, str]:
        return {"Location": self.location}


@dataclass
class FakeAdapter:
    answers: list[Any]
    asked: list[tuple[str, str]] = field(default_factory=list)

    def request(self, method: str, url: str, **_: Any) -> Any:
        self.asked.append((method, url))
        return self.answers.pop(0)


@dataclass
class FakeClient:
    url: str
    adapter: FakeAdapter


@dataclass
class FakeNodes:
    cluster: set[str]
    clients: dict[str, FakeClient] = field(default_factory=dict)

    def same_cluster(self, base: str) -> bool:
        return base in self.cluster

    def client(self, base: str) -> FakeClient:
        return self.clients[base]


STANDBY = "https://10.0.0.2:8200"
ACTIVE = "https://10.0.0.1:8200"
LIVE = {"data": {"data": {"name": "web-1"}, "metadata": {"version": 1}}}


def _kv(nodes: FakeNodes) -> tuple[KV2, FakeAdapter]:
    standby = FakeAdapter(
        [Redirect(f"{STANDBY}/v1/h/data/names/web-1", f"{ACTIVE}/v1/h/data/names/web-1")]
    )
    return KV2(FakeClient(STANDBY, standby), "h", nodes), standby  # type: ignore[arg-type]


def test_a_redirect_to_the_same_cluster_is_followed() -> None:
    active = FakeAdapter([LIVE])
    kv, _ = _kv(FakeNodes({ACTIVE}, {ACTIVE: FakeClient(ACTIVE, active)}))
    assert kv.read("names/web-1").data == {"name": "web-1"}
    assert active.asked == [("GET", "/v1/h/data/names/web-1")]


def test_a_redirect_elsewhere_is_refused_and_the_token_stays_home() -> None:
    elsewhere = FakeAdapter([LIVE])
    kv, _ = _kv(FakeNodes(set(), {ACTIVE: FakeClient(ACTIVE, elsewhere)}))
    with pytest.raises(VaultError, match="not a node of the same cluster"):
        kv.read("names/web-1")
    assert elsewhere.asked == []


def test_a_redirect_loop_ends() -> None:
    loop = [Redirect(f"{ACTIVE}/v1/x", f"{ACTIVE}/v1/x") for _ in range(10)]
    active = FakeAdapter(loop)
    kv, _ = _kv(FakeNodes({ACTIVE}, {ACTIVE: FakeClient(ACTIVE, active)}))
    with pytest.raises(VaultError, match="redirected more than"):
        kv.read("names/web-1")
