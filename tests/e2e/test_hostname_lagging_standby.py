"""Issue 21: a hostname never changes because one Vault node lagged.

Three OpenBao nodes (Raft). A standby is stopped, three names are allocated
through the active node, and then that standby is started again alone: it has
no quorum, so it answers from its own copy, which never saw the names (404
with no metadata). A refresh through it must keep the names, and the next plan
must change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devenv.pki import ThrowawayCA
from devenv.processes import wait_until
from devenv.raft_cluster import RaftCluster, UnsealedCluster
from provider.tarmak.settings import VaultSettings
from provider.tarmak.vault_kv import open_kv
from tests.e2e.harness import Terraform
from tests.e2e.test_hostname import config

pytestmark = [pytest.mark.e2e, pytest.mark.vault]
MOUNT = "hostnaming"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[UnsealedCluster]:
    ca = ThrowawayCA(tmp_path / "ca")
    nodes = RaftCluster(tmp_path / "raft", ca).start()
    try:
        cluster = UnsealedCluster.initialise(nodes, str(ca.cert_path))
        cluster.enable_kv2(MOUNT)
        # A stopped voter must not cost the others their quorum: wait until all vote.
        wait_until(cluster.all_voters, "every node a voter", 60, 0.5)
        yield cluster
    finally:
        nodes.stop()


def test_a_refresh_through_a_lagging_standby_keeps_the_names(
    terraform_latest: Terraform, cluster: UnsealedCluster
) -> None:
    active = cluster.nodes.wait_for_active()
    lagging, other = [node for node in cluster.nodes if node is not active]
    lagging.stop()

    tf = terraform_latest
    tf.env.update(cluster.env(active), TF_VAR_mount=MOUNT)
    tf.write(config(count=3))
    tf.init()
    tf.apply()
    names = sorted(tf.outputs()["names"])
    assert names == [f"web-frontend-prod-vm{n}" for n in (1, 2, 3)]

    active.stop()
    other.stop()
    lagging.start().start_wait()
    cluster.unseal(lagging)
    missing = requests.get(
        f"{lagging.endpoint.address}/v1/{MOUNT}/data/names/{names[0]}",
        headers={"X-Vault-Token": cluster.token},
        verify=cluster.ca,
        timeout=10,
    )
    assert missing.status_code == 404, "the restarted standby should not know the names yet"

    tf.env.update(cluster.env(lagging))
    refresh = tf.run("apply", "-refresh-only", "-auto-approve")
    assert "Could not confirm the hostname allocation" in refresh.text
    assert sorted(tf.state()) == [f"tarmak_hostname.web[{i}]" for i in range(3)]
    assert sorted(tf.outputs()["names"]) == names
    assert tf.plan_exit_code() == 0

    # With a leader again, what decides is read from the active node, even when the
    # configured address is a standby.
    for node in (active, other):
        node.start()
    for node in (active, other):
        node.start_wait()
        cluster.unseal(node)
    leader = cluster.nodes.wait_for_active(60)
    standby = next(node for node in cluster.nodes if node is not leader)

    def knows_the_leader() -> bool:  # a standby learns the new leader a moment later
        answer = requests.get(
            f"{standby.endpoint.address}/v1/sys/leader", verify=cluster.ca, timeout=10
        ).json()
        return leader.endpoint.address.split("://")[1] in str(answer.get("leader_address"))

    wait_until(knows_the_leader, f"{standby.node_id} knows the leader", 60, 0.5)
    marks = cluster.nodes.audit_marks()
    kv = open_kv(VaultSettings(standby.endpoint.address, cluster.token, cluster.ca), MOUNT)
    entry = kv.read_on_active(f"names/{names[0]}")
    assert entry is not None and entry.exists
    path = f"{MOUNT}/data/names/{names[0]}"
    assert {e.node for e in cluster.nodes.audit_since(marks) if e.path == path} == {leader.node_id}
    tf.env.update(cluster.env(standby))
    assert tf.plan_exit_code() == 0
