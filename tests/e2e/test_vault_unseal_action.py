"""The `tarmak_vault_unseal` action end to end: real Terraform (1.14+, which has
actions) invokes it against the three-node Shamir cluster through the bastion,
and Terraform's output shows each node as Tarmak answers for it.

The cluster is set up the declarative way first (examples/tarmak-environment,
which initialises it once); the action then unseals a restarted node, and
never initialises anything. Nodes that auto-unseal through the KMS are sent
nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.environment import LocalEnvironment
from devenv.raft_cluster import RaftCluster
from devenv.tarmak import TarmakSide, environment_config, terraform_variables
from tests.e2e.harness import ROOT, Terraform, requires_terraform

pytestmark = [pytest.mark.e2e, requires_terraform((1, 14), "actions")]
ENVIRONMENT = ROOT / "examples" / "tarmak-environment" / "main.tf"
ACTION = ROOT / "examples" / "actions" / "tarmak_vault_unseal" / "action.tf"
INVOKE = "-invoke=action.tarmak_vault_unseal.now"
UNSEALED = (200, 429)
SEALED = 503


@pytest.fixture
def tf(
    terraform: Terraform,
    local_env: LocalEnvironment,
    cluster: RaftCluster,
    cluster_side: TarmakSide,
) -> Terraform:
    """The environment applied (the cluster initialised once, ready), with the
    documented action beside it."""
    terraform.env.update(terraform_variables(local_env, cluster.addresses))
    terraform.env["TARMAK_CONNECTOR_SOCKET"] = cluster_side.socket_path
    terraform.write(ENVIRONMENT.read_text())
    terraform.write(ACTION.read_text(), "action.tf")
    terraform.init()
    terraform.apply()
    assert all(status in UNSEALED for status in cluster.health().values())
    return terraform


def test_invoke_unseals_a_restarted_node_reporting_each_node(
    tf: Terraform, cluster: RaftCluster
) -> None:
    victim = cluster.node(1)
    victim.restart()
    assert victim.health() == SEALED, "a restarted node comes back sealed"
    state = tf.state()

    planned = tf.run("plan", "-input=false", INVOKE)
    assert "action.tarmak_vault_unseal.now" in planned.text, planned.output
    assert victim.health() == SEALED, "planning the action unseals nothing"

    result = tf.apply(INVOKE)
    print(result.output)
    for node in cluster:
        said = "unsealed" if node is victim else "already unsealed"
        assert f"{node.address}: {said}" in result.output, result.output
    lines = result.output.splitlines()
    reported = [next(i for i, line in enumerate(lines) if n.address in line) for n in cluster]
    assert reported == sorted(reported), "the nodes are reported in order, one by one"
    assert victim.health() in UNSEALED, "the action unsealed the restarted node"
    assert cluster.initialisations() == 1, "an action never initialises a cluster"
    assert tf.state() == state, "an action changes no state"


def test_a_node_that_cannot_be_unsealed_is_named_and_the_others_are_still_tried(
    tf: Terraform, cluster: RaftCluster
) -> None:
    victim = cluster.node(2)
    victim.restart()
    dead = "127.0.0.1:1"  # nothing listens there
    tf.write(
        tf.workdir.joinpath("action.tf")
        .read_text()
        .replace(
            "internal_fqdns = var.vault_fqdns",
            f'internal_fqdns = concat(["{dead}"], var.vault_fqdns)',
        ),
        "action.tf",
    )
    result = tf.apply(INVOKE, check=False)
    assert result.returncode == 1, result.output
    assert f"{dead}: not unsealed" in result.output, result.output
    assert f"Vault {dead} was not unsealed" in result.text, result.output
    assert f"{victim.address}: unsealed" in result.output, result.output
    assert victim.health() in UNSEALED, "the nodes after the failing one were unsealed"


def test_auto_unseal_nodes_are_sent_nothing(
    terraform_each: Terraform, local_env: LocalEnvironment, tmp_path: Path
) -> None:
    seal = local_env.kms.transit_seal()
    nodes = RaftCluster(tmp_path / "raft", local_env.ca, seal=seal).start()
    try:
        tarmak = TarmakSide(environment_config(local_env, tmp_path / "state")).start()
        try:
            tf = terraform_each
            tf.env.update(terraform_variables(local_env, nodes.addresses))
            tf.env["TARMAK_CONNECTOR_SOCKET"] = tarmak.socket_path
            tf.write(ENVIRONMENT.read_text())
            tf.write(ACTION.read_text(), "action.tf")
            tf.init()
            tf.apply()
            result = tf.apply(INVOKE)
        finally:
            tarmak.stop()
        for node in nodes:
            said = f"{node.address}: auto-unseal (transit), nothing sent"
            assert said in result.output, result.output
        assert nodes.initialisations() == 1
    finally:
        nodes.stop()
