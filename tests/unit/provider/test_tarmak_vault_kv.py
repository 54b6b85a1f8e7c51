"""KV2 over real loopback sockets (scripted nodes, tests/unit/provider/scripted_vault.py):
redirects followed to a node of the same cluster and refused (token unsent)
anywhere else, cluster ids asked once per node, and Vault's answers translated
into the errors the resource reports."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import pytest

from provider.tarmak.settings import VaultSettings
from provider.tarmak.vault_kv import KV2, CasConflict, VaultError, VaultUnavailable
from provider.tarmak.vault_nodes import VaultNodes
from tests.unit.provider.scripted_vault import (
    Answer,
    Node,
    Script,
    fixed,
    kv_store,
    redirect_to,
    serving,
)

TOKEN = "s.unit-test-token"


def open_at(node: Node, mount: str = "h", namespace: str | None = None) -> KV2:
    settings = VaultSettings(node.url, TOKEN, namespace=namespace, timeout=5)
    nodes = VaultNodes(settings)
    return KV2(nodes.client(nodes.home), mount, nodes)


@pytest.fixture
def cluster() -> Iterator[tuple[Node, Node]]:
    """An active node and a standby that redirects everything to it."""
    with ExitStack() as stack:
        active = stack.enter_context(serving(Node(kv_store())))
        standby = stack.enter_context(serving(Node(redirect_to(active))))
        yield standby, active


def test_a_redirect_to_the_same_cluster_is_followed_and_its_check_kept(
    cluster: tuple[Node, Node],
) -> None:
    standby, active = cluster
    kv = open_at(standby)
    for n in range(5):
        assert kv.write(f"names/web-{n}", {"n": n}, cas=0) == 1
    assert kv.read("names/web-3").data == {"k": "names/web-3"}
    writes = [s for s in active.asked("/v1/h/") if s.method == "POST"]
    assert len(writes) == 5 and all(s.headers["X-Vault-Token"] == TOKEN for s in writes)
    # each node's cluster_id asked once for the whole process, not twice per redirect
    assert len(standby.asked("/v1/sys/health")) == 1
    assert len(active.asked("/v1/sys/health")) == 1
    # and on kept-alive connections, not one per request
    assert active.connections <= 2


def test_a_redirect_elsewhere_is_refused_and_the_token_stays_home() -> None:
    with ExitStack() as stack:
        elsewhere = stack.enter_context(serving(Node(kv_store(), cluster_id="cluster-b")))
        standby = stack.enter_context(serving(Node(redirect_to(elsewhere))))
        kv = open_at(standby)
        with pytest.raises(VaultError, match="not a node of the same cluster"):
            kv.read("names/web-1")
        with pytest.raises(VaultError, match="token was not sent there"):
            kv.write("names/web-1", {}, cas=0)
    # asked once (its answer is kept), and never sent the token
    assert [s.path.split("?")[0] for s in elsewhere.seen] == ["/v1/sys/health"]
    assert all("X-Vault-Token" not in s.headers for s in elsewhere.seen)


def test_a_node_without_a_cluster_id_is_not_trusted() -> None:
    with ExitStack() as stack:
        silent = stack.enter_context(serving(Node(kv_store(), cluster_id=None)))
        standby = stack.enter_context(serving(Node(redirect_to(silent))))
        with pytest.raises(VaultError, match="not a node of the same cluster"):
            open_at(standby).read("names/web-1")
    assert all("X-Vault-Token" not in s.headers for s in silent.seen)


def test_a_redirect_loop_ends() -> None:
    with ExitStack() as stack:
        loop = Node(fixed(200))
        loop.script = lambda node, method, path, body: redirect_to(node)(node, method, path, body)
        stack.enter_context(serving(loop))
        with pytest.raises(VaultError, match="redirected more than"):
            open_at(loop).read("names/web-1")


def test_check_and_set_and_absence() -> None:
    with serving(Node(kv_store())) as node:
        kv = open_at(node)
        assert kv.read("counters/a").version == 0 and not kv.read("counters/a").exists
        assert kv.write("counters/a", {"last": 1}, cas=0) == 1
        with pytest.raises(CasConflict):
            kv.write("counters/a", {"last": 2}, cas=0)
        assert kv.write("counters/a", {"last": 2}, cas=1) == 2


def test_a_deleted_newest_version_reads_as_released() -> None:
    deleted = {"errors": [], "data": {"data": None, "metadata": {"version": 4}}}
    with serving(Node(fixed(404, deleted))) as node:
        entry = open_at(node).read("names/web-1")
    assert entry.version == 4 and entry.released


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, {"errors": ["permission denied"]}, "permission denied on h/data/names/x at"),
        (401, {"errors": ["missing client token"]}, "rejected the token"),
        (503, {"errors": ["Vault is sealed"]}, "is sealed or in maintenance"),
        (400, {"errors": ["bad thing"]}, "Vault rejected a request on h/data/names/x at .*: bad "),
        (500, {"errors": ["boom"]}, "Vault error on h/data/names/x at .*: boom, on POST http"),
        (404, {"errors": ["no handler for route"]}, "no KV version 2 mount at 'h'"),
    ],
)
def test_errors_say_what_went_wrong(status: int, body: object, message: str) -> None:
    with serving(Node(fixed(status, body))) as node, pytest.raises(VaultError, match=message):
        open_at(node).write("names/x", {}, cas=0)


def test_an_unreachable_vault_is_named() -> None:
    with serving(Node(fixed(200))) as node:
        url = node.url
    kv = open_at(Node(fixed(200), url=url))
    with pytest.raises(VaultError, match=f"cannot reach Vault at {url}"):
        kv.read("names/x")


def test_the_mount_check_reads_the_mount_once() -> None:
    mount = {"data": {"type": "kv", "path": "h2/", "options": {"version": "2"}}}
    with serving(Node(fixed(200, mount))) as node:
        for _ in range(3):
            open_at(node, "h2").check_mount()
    assert len(node.asked("/v1/sys/internal/ui/mounts/h2")) == 1


def test_operations_starting_at_once_check_the_mount_once() -> None:
    """Terraform starts up to -parallelism creates together: one asks, the others wait."""
    mount = {"data": {"type": "kv", "path": "h3/", "options": {"version": "2"}}}
    with serving(Node(fixed(200, mount))) as node, ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda _: open_at(node, "h3").check_mount(), range(10)))
    assert len(node.asked("/v1/sys/internal/ui/mounts/h3")) == 1


def test_the_namespace_goes_with_every_request() -> None:
    with serving(Node(kv_store())) as node:
        open_at(node, namespace="team-a").write("names/x", {}, cas=0)
    assert node.seen[-1].headers["X-Vault-Namespace"] == "team-a"
    assert node.seen[-1].headers["X-Vault-Request"] == "true"


def test_requests_go_straight_to_the_active_node_the_standby_names() -> None:
    """A standby decides check-and-set against its own copy, which may be behind:
    reads and writes go to the active node, found once (sys/leader, then the same
    cluster_id) and kept."""
    with ExitStack() as stack:
        active = stack.enter_context(serving(Node(kv_store())))
        standby = stack.enter_context(serving(Node(redirect_to(active, names_leader=True))))
        kv = open_at(standby)
        for n in range(5):
            assert kv.write(f"names/web-{n}", {"n": n}, cas=0) == 1
        assert kv.read("names/web-3").exists
    assert [s.path for s in standby.asked("/v1/h/")] == []  # nothing sent through it
    assert len(standby.asked("/v1/sys/leader")) == 1
    assert len([s for s in active.asked("/v1/h/") if s.method == "POST"]) == 5


def test_an_active_node_that_goes_away_is_looked_for_again() -> None:
    """The active node dies and another is elected: the request that meets the dead
    one is unavailable (the allocator tries it again), naming it; the next asks
    the configured node again and goes to the new active node."""
    old, new = Node(kv_store()), Node(kv_store())
    standby = Node(redirect_to(old, names_leader=True))
    with serving(standby), serving(new):
        nodes = VaultNodes(VaultSettings(standby.url, TOKEN, timeout=5))
        kv = KV2(nodes.client(nodes.home), "h", nodes)
        with serving(old):
            kv.write("names/a", {"n": 1}, cas=0)
        nodes.client(old.url).close()  # its connections die with it
        standby.script = redirect_to(new, names_leader=True)  # the election
        with pytest.raises(VaultUnavailable, match=r"\(the active node named by "):
            kv.write("names/b", {"n": 2}, cas=0)
        assert kv.write("names/b", {"n": 2}, cas=0) == 1
        assert [s.path for s in new.asked("/v1/h/")] == ["/v1/h/data/names/b"]
        assert len(standby.asked("/v1/sys/leader")) == 2


def test_a_leader_of_another_cluster_never_gets_a_request() -> None:
    with ExitStack() as stack:
        elsewhere = stack.enter_context(serving(Node(kv_store(), cluster_id="cluster-b")))
        home = stack.enter_context(serving(Node(kv_store())))
        home.script = _names_leader(elsewhere, home.script)
        kv = open_at(home)
        for n in range(3):
            kv.write(f"names/x-{n}", {"n": n}, cas=0)
    assert elsewhere.asked("/v1/h/") == [] and elsewhere.asked("/v1/sys/leader") == []
    assert len([s for s in home.asked("/v1/h/") if s.method == "POST"]) == 3
    assert len(home.asked("/v1/sys/leader")) == 1  # the verdict is kept


def test_a_leader_not_reachable_from_here_is_reached_through_the_configured_node() -> None:
    with serving(Node(fixed(200))) as gone:
        unreachable = gone.url
    with serving(Node(kv_store())) as home:
        leader_says = Node(fixed(200), url=unreachable)
        home.script = _names_leader(leader_says, home.script)
        kv = open_at(home)
        for n in range(3):
            kv.write(f"names/y-{n}", {"n": n}, cas=0)
    assert len([s for s in home.asked("/v1/h/") if s.method == "POST"]) == 3
    assert len(home.asked("/v1/sys/leader")) == 1


def _names_leader(leader: Node, script: Script) -> Script:
    """`script`, with a sys/leader that names `leader` as the active node."""

    def answer(node: Node, method: str, path: str, body: Any) -> Answer:
        if path.startswith("/v1/sys/leader"):
            return Answer(200, {"ha_enabled": True, "is_self": False, "leader_address": leader.url})
        return script(node, method, path, body)

    return answer
