"""A three-node OpenBao cluster (Raft on disk, TLS, file audit device) as Tarmak
runs Vault, driven by the real terraform through the bastion's SSH tunnels.

The module's cluster is started once and initialised by whichever test runs
first; every test then checks it was initialised exactly once. The audit log
proves that plan and refresh write nothing; sys/health (never audited) shows
when nodes are unsealed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.server import Call, OperationFailed
from connector.tarmak_side.services import TarmakServices
from connector.tarmak_side.vault.keystore import KeyStore
from devenv.environment import LocalEnvironment
from devenv.kms import DEMO_KEY
from devenv.processes import wait_until
from devenv.raft_cluster import RaftCluster
from devenv.tarmak import (
    TarmakSide,
    TarmakSideProcess,
    environment_config,
    short_socket_path,
    terraform_variables,
    write_config,
)
from tests.e2e import tarmak_fault_after_init
from tests.e2e.harness import ROOT, Terraform, kill_group

pytestmark = pytest.mark.e2e
EXAMPLE = ROOT / "examples" / "tarmak-environment" / "main.tf"
UNSEALED = (200, 429)


def prepare(tf: Terraform, env: LocalEnvironment, addresses: list[str], socket: str) -> Terraform:
    tf.env.update(terraform_variables(env, addresses))
    tf.env["TARMAK_CONNECTOR_SOCKET"] = socket
    tf.write(EXAMPLE.read_text())
    tf.init()
    return tf


def shares_now(store: KeyStore) -> tuple[str, ...]:
    """The protected shares of the newest keys file (later generations add Tarmak's
    own token, but keep the shares sys/init gave)."""
    stored = store.load("demo-vault")
    assert stored is not None
    return stored.shares


def assert_ready(cluster: RaftCluster) -> None:
    health = cluster.health()
    assert all(status in UNSEALED for status in health.values()), health
    assert list(health.values()).count(200) == 1, health


def tarmak_services(env: LocalEnvironment, state_dir: Path) -> TarmakServices:
    """The Tarmak side in this process, its keys kept in `state_dir`."""
    return TarmakServices(EnvironmentConfig.from_dict(environment_config(env, state_dir)))


def apply_params(nodes: RaftCluster, env: LocalEnvironment) -> dict[str, Any]:
    """What tarmak_vault_cluster's apply sends for `nodes` (each call held 5 s at most)."""
    return {
        "internal_fqdns": nodes.addresses,
        "vault_ca": env.ca.cert_pem,
        "vault_kms_key_id": DEMO_KEY,
        "create": True,
        "wait_seconds": 5,
    }


def finish(apply: subprocess.Popen[str], timeout: float, log: Path) -> str:
    """A background apply's output; if it outlives `timeout`, fail showing what
    Terraform and Tarmak said last (the log is gone once the test ends)."""
    try:
        output, _ = apply.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as late:
        said = late.output.decode(errors="replace") if isinstance(late.output, bytes) else ""
        pytest.fail(
            f"apply still running after {timeout:.0f} s.\nTerraform, last lines:\n"
            f"{said[-3000:]}\nTarmak ({log.name}), last lines:\n{log.read_text()[-6000:]}"
        )
    return output


def test_initialised_once_restart_seen_by_plan_and_unsealed_by_apply(
    terraform: Terraform,
    local_env: LocalEnvironment,
    cluster: RaftCluster,
    cluster_side: TarmakSide,
) -> None:
    tf = prepare(terraform, local_env, cluster.addresses, cluster_side.socket_path)
    tf.apply()
    assert tf.outputs()["vault_status"] == "ready"
    assert_ready(cluster)
    assert cluster.initialisations() == 1, "the cluster is initialised exactly once"
    assert tf.plan_exit_code() == 0, "a second apply changes nothing"

    victim = cluster.active()
    assert victim is not None
    victim.restart()
    assert victim.health() == 503, "a restarted node comes back sealed, with its data"
    cluster.wait_for_active()  # the other two elect a leader; the audit log keeps going

    marks = cluster.audit_marks()
    plan = tf.run("plan", "-input=false", "-detailed-exitcode", check=False)
    assert plan.returncode == 2, plan.output
    assert '~ status = "sealed" -> "ready"' in plan.text, plan.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.text
    tf.apply("-refresh-only")
    entries = cluster.audit_since(marks)
    assert [e for e in entries if e.is_write] == [], "plan and refresh write nothing"
    assert any(e.path == "auth/token/lookup-self" for e in entries), (
        f"the audit log saw the refreshes' reads: {entries}"
    )
    assert victim.health() == 503, "plan and refresh did not unseal"

    result = tf.apply()
    assert "1 changed" in result.stdout
    assert victim.health() in UNSEALED, "apply unsealed the restarted node"
    assert_ready(cluster)
    assert cluster.initialisations() == 1


def test_whole_cluster_restarted_stays_sealed_until_apply(
    terraform_latest: Terraform,
    local_env: LocalEnvironment,
    cluster: RaftCluster,
    cluster_side: TarmakSide,
) -> None:
    tf = prepare(terraform_latest, local_env, cluster.addresses, cluster_side.socket_path)
    tf.apply()
    for node in cluster:
        node.restart()
    assert set(cluster.health().values()) == {503}
    assert tf.plan_exit_code() == 2
    tf.apply("-refresh-only")
    assert set(cluster.health().values()) == {503}, "refresh unsealed nothing"
    assert tf.state()["tarmak_vault_cluster.vault"]["status"] == "sealed"
    tf.apply()
    assert_ready(cluster)
    assert tf.state()["tarmak_vault_cluster.vault"]["status"] == "ready"
    assert cluster.initialisations() == 1
    assert tf.plan_exit_code() == 0


def test_unknown_cluster_and_role_get_no_token(
    terraform_latest: Terraform,
    local_env: LocalEnvironment,
    cluster: RaftCluster,
    cluster_side: TarmakSide,
) -> None:
    tf = terraform_latest
    tf.env["TARMAK_CONNECTOR_SOCKET"] = cluster_side.socket_path
    tf.write(
        f"""
        terraform {{
          required_providers {{
            tarmak = {{ source = "jetstack/tarmak" }}
          }}
        }}
        resource "tarmak_vault_instance_role" "ghost" {{
          vault_cluster_name = "nope"
          role_name          = "ghost"
          internal_fqdns     = {json.dumps(cluster.addresses)}
          vault_ca           = file("{local_env.ca.cert_path}")
        }}
        """
    )
    tf.init()
    marks = cluster.audit_marks()
    result = tf.apply(check=False, timeout=120)
    assert result.returncode == 1
    assert "names no instance role nope/ghost" in result.text, result.output
    assert str(cluster_side.config_path) in result.text
    assert "demo/master, demo/worker" in result.text
    assert not [e for e in cluster.audit_since(marks) if e.is_write], "no token was minted"
    assert "tarmak_vault_instance_role.ghost" not in tf.state()


def test_killed_after_init_then_keys_found_and_a_fresh_first_node_is_joined(
    terraform_latest: Terraform, local_env: LocalEnvironment, tmp_path: Path
) -> None:
    nodes = RaftCluster(tmp_path / "raft", local_env.ca).start()
    config = write_config(environment_config(local_env, tmp_path / "state"), tmp_path / "env.yaml")
    socket = short_socket_path()
    dying = TarmakSideProcess(
        config, socket, tmp_path / "tarmak-1.log", module=tarmak_fault_after_init.__name__
    )
    second = TarmakSideProcess(config, socket, tmp_path / "tarmak-2.log")
    apply = None
    try:
        tf = prepare(terraform_latest, local_env, nodes.addresses, socket)
        dying.start()
        apply = tf.start("apply", "-auto-approve", "-input=false")
        exit_code = tarmak_fault_after_init.EXIT_CODE
        assert dying.wait(timeout=120) == exit_code, (tmp_path / "tarmak-1.log").read_text()
        store = KeyStore(tmp_path / "state")
        stored = store.load("demo-vault")
        assert stored is not None
        assert stored.protection == "transit", "the keys are kept protected by the KMS"
        assert len(stored.shares) == 3 and stored.threshold == 2
        saved = stored.shares
        assert nodes.initialisations() == 1
        assert nodes.node(0).health() == 503, "killed right after init: nothing unsealed yet"
        dying.stop()  # and the connector it had started
        assert apply.poll() is None, "terraform waits for Tarmak to come back"

        second.start()
        output = finish(apply, 180, tmp_path / "tarmak-2.log")
        assert apply.returncode == 0, output
        assert shares_now(store) == saved, "the saved shares were used, never replaced"
        assert nodes.initialisations() == 1
        assert_ready(nodes)

        first = nodes.node(0)
        first.wipe()  # a replaced node, listed first: it must be joined, never initialised
        wait_until(lambda: first.health() in (501, 503), "the wiped node", timeout=20)
        assert tf.plan_exit_code() == 2
        tf.apply()
        assert first.health() in UNSEALED
        assert_ready(nodes)
        assert nodes.initialisations() == 1, "the fresh node was joined, not initialised"
        assert shares_now(store) == saved
        assert tf.plan_exit_code() == 0

        # Keys for this cluster elsewhere, none here: refuse, never initialise again.
        stray = tarmak_services(local_env, tmp_path / "empty-state")
        with pytest.raises(OperationFailed, match=r"already initialised, but .* holds no keys"):
            stray.vault.cluster_status(
                Call("x", "VaultClusterStatus", apply_params(nodes, local_env))
            )
        stray.close()
        assert nodes.initialisations() == 1
    finally:
        if apply is not None:
            kill_group(apply)
        for side in (second, dying):
            side.stop()
        nodes.stop()
        shutil.rmtree(Path(socket).parent, ignore_errors=True)


def test_nodes_without_retry_join_are_joined_by_tarmak(
    local_env: LocalEnvironment, tmp_path: Path
) -> None:
    """Nodes that know no peers join only when told to: Tarmak initialises the
    first and, once the others have had their grace to join by themselves, joins
    and unseals them until all three vote."""
    nodes = RaftCluster(tmp_path / "raft", local_env.ca, retry_join=False).start()
    services = tarmak_services(local_env, tmp_path / "state")
    params = apply_params(nodes, local_env)
    try:
        answers: list[dict[str, Any]] = []
        for attempt in range(40):  # 40 calls of at most 5 s
            answer = services.vault.cluster_status(Call(str(attempt), "VaultClusterStatus", params))
            answers.append(answer)
            if answer["status"] == "ready":
                break
        assert answers[-1]["status"] == "ready", answers[-3:]
        said = " ".join(str(a.get("detail")) for a in answers)
        assert "giving its own retry_join" in said, "the grace came before the join"
        assert nodes.initialisations() == 1
        assert_ready(nodes)  # and "ready" means all three vote in Raft
    finally:
        services.close()
        nodes.stop()
