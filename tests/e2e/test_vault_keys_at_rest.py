"""Vault's keys at rest (issue #20): what Tarmak keeps of a cluster's key shares
and tokens is protected by the KMS (devenv/kms.py, transit), and nothing it
writes gives them away.

The cluster's audit device logs raw values here (`audit_raw`), so the test
learns every token and key share that crossed Vault's API (sys/init itself is
never audited: its shares are learned by revealing what Tarmak stored, through
Tarmak's own code and the KMS). Then every file under the state directory, the
Tarmak side's env.yaml, logs and command output, and Terraform's working
directory are scanned for each of them in plain text, base64 and JSON-escaped
(devenv/secret_scan.py).

The Tarmak side's commands are run as an operator would: `tarmak-controller
--config env.yaml <command> ...` (rekey, rotate-kms-key, replace-token), through the bastion.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.vault.keystore import KeyStore, StoredKeys
from connector.tarmak_side.vault.protection import protection_for
from devenv.environment import LocalEnvironment
from devenv.kms import AUTOUNSEAL_KEY, DEMO_KEY, KmsServer
from devenv.processes import stop_pid, wait_until
from devenv.raft_cluster import AUTO_UNSEALED_LINE, RaftCluster, RaftNode
from devenv.secret_scan import Leak, describe, scan, secrets_in_audit_log
from devenv.tarmak import (
    TarmakSideProcess,
    environment_config,
    short_socket_path,
    terraform_variables,
    write_config,
)
from tests.e2e.harness import ROOT, Terraform

pytestmark = pytest.mark.e2e
EXAMPLE = ROOT / "examples" / "tarmak-environment" / "main.tf"
UNSEALED = (200, 429)
KEYS_NAME = "demo-vault"  # <environment>-vault: examples/tarmak-environment sets no name


@dataclass
class Setup:
    """One cluster, the Tarmak side serving it (as its own process), Terraform."""

    env: LocalEnvironment
    cluster: RaftCluster
    tf: Terraform
    directory: Path  # everything the Tarmak side is given or writes, but the state dir
    state_dir: Path
    config_path: Path
    socket: str
    held: dict[str, str] = field(default_factory=dict)  # secrets Tarmak held, by name
    sides: list[TarmakSideProcess] = field(default_factory=list)

    @property
    def config(self) -> EnvironmentConfig:
        return EnvironmentConfig.load(self.config_path)

    def start_side(self) -> TarmakSideProcess:
        side = TarmakSideProcess(
            self.config_path,
            self.socket,
            self.directory / f"tarmak-controller-{len(self.sides) + 1}.log",
        ).start()
        self.sides.append(side)
        return side

    def stop_sides(self) -> None:
        for side in self.sides:
            side.stop()

    def apply(self) -> TarmakSideProcess:
        """A Tarmak side started, then terraform apply: every node unsealed, one active."""
        side = self.start_side()
        self.tf.apply()
        assert_ready(self.cluster)
        return side

    def assert_nothing_leaked(self) -> None:
        """Every Tarmak side stopped (its logs complete), then no secret found anywhere."""
        self.stop_sides()
        leaks = self.leaks()
        assert not leaks, describe(leaks)

    def command(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """`tarmak-controller --config env.yaml <name> ...` for this cluster, started."""
        ca = self.directory / "vault-ca.pem"
        if not ca.exists():
            shutil.copy(self.env.ca.cert_path, ca)
        nodes = [arg for address in self.cluster.addresses for arg in ("--node", address)]
        argv = [
            sys.executable,
            "-m",
            "connector.tarmak_side.cli",
            "--config",
            str(self.config_path),
            name,
            *nodes,
            "--vault-ca",
            str(ca),
            *args,
        ]
        output = open(self.directory / f"{name}-{time.monotonic_ns()}.out", "wb")  # noqa: SIM115
        with output:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
                start_new_session=True,
            )

    def run(self, name: str, *args: str, timeout: float = 120) -> None:
        process = self.command(name, *args)
        try:
            code = process.wait(timeout)
        finally:
            stop_pid(process.pid)
        outputs = sorted(self.directory.glob(f"{name}-*.out"))
        assert code == 0, f"tarmak-controller {name} failed:\n{outputs[-1].read_text()}"

    def stored(self) -> StoredKeys:
        keys = KeyStore(self.state_dir).load(KEYS_NAME)
        assert keys is not None, f"no keys stored in {self.state_dir}"
        return keys

    def reveal(self, stage: str) -> list[str]:
        """Every secret the keys file holds now, revealed as Tarmak would (through the
        KMS), remembered under `stage` for the final scan; the shares are returned."""
        stored = self.stored()
        assert stored.protection == "transit"
        assert stored.kms_key_id == DEMO_KEY
        protection = protection_for(self.config, stored.kms_key_id, KEYS_NAME, "transit")
        shares = [protection.reveal(blob).decode().strip() for blob in stored.shares]
        for index, share in enumerate(shares):
            self.held[f"{stage}: share {index + 1}"] = share
        for what in ("root_token", "tarmak_token"):
            blob = getattr(stored, what)
            if blob is not None:
                self.held[f"{stage}: {what}"] = protection.reveal(blob).decode()
        return shares

    def audit_secrets(self) -> dict[str, str]:
        """Every token and key share the cluster's raw audit logs recorded, but the
        instance roles' init tokens (Terraform keeps those in its state by design)."""
        logs = [node.audit_log for node in self.cluster]
        init_tokens = {
            str(values.get("init_token"))
            for address, values in self.tf.state().items()
            if address.startswith("tarmak_vault_instance_role.")
        }
        minted_by_roles = {
            e.response_token
            for e in self.cluster.audit_everything()
            if e.type == "response" and e.path.startswith("auth/token/create/")
        }
        return {
            name: value
            for name, value in secrets_in_audit_log(logs).items()
            if value not in init_tokens and value not in minted_by_roles
        }

    def leaks(self) -> list[Leak]:
        """Every secret seen anywhere, looked for in all Tarmak and Terraform wrote; the
        KMS token too (Tarmak reads it from its file, and must not copy it elsewhere)."""
        kms_token = self.env.kms.tarmak_token_file.read_text()
        secrets = {**self.audit_secrets(), **self.held, "the KMS token": kms_token}
        assert len(secrets) > 3, secrets.keys()
        return scan([self.state_dir, self.directory, self.tf.workdir], secrets)


def root_tokens(cluster: RaftCluster) -> set[str]:
    """Tokens with the root policy that made requests (raw audit log)."""
    return {
        e.client_token
        for e in cluster.audit_everything()
        if e.type == "request" and e.client_token and "root" in e.policies
    }


def token_works(node: RaftNode, token: str) -> bool:
    answer = requests.get(
        f"{node.endpoint.address}/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": token},
        verify=node.endpoint.ca_cert,
        timeout=10,
    )
    return answer.status_code == 200


def assert_ready(cluster: RaftCluster) -> None:
    health = cluster.health()
    assert all(status in UNSEALED for status in health.values()), health
    assert list(health.values()).count(200) == 1, health


def wait_unsealed(cluster: RaftCluster, timeout: float = 60) -> None:
    wait_until(
        lambda: all(s in UNSEALED for s in cluster.health().values()),
        "every node unsealed",
        timeout,
        0.2,
    )


@pytest.fixture
def setup_factory(local_env: LocalEnvironment, tmp_path: Path) -> Iterator[Any]:
    made: list[Setup] = []

    def make(tf: Terraform, *, auto_unseal: bool = False) -> Setup:
        seal = local_env.kms.transit_seal() if auto_unseal else None
        cluster = RaftCluster(tmp_path / "raft", local_env.ca, seal=seal, audit_raw=True)
        directory = tmp_path / "tarmak"
        directory.mkdir()
        state_dir = tmp_path / "state"
        config_path = write_config(environment_config(local_env, state_dir), directory / "env.yaml")
        setup = Setup(
            local_env, cluster, tf, directory, state_dir, config_path, short_socket_path()
        )
        made.append(setup)
        cluster.start()
        tf.env.update(terraform_variables(local_env, cluster.addresses))
        tf.env["TARMAK_CONNECTOR_SOCKET"] = setup.socket
        tf.write(EXAMPLE.read_text())
        tf.init()
        return setup

    yield make
    local_env.kms.resume()
    for setup in made:
        setup.stop_sides()
        setup.cluster.stop()
        shutil.rmtree(Path(setup.socket).parent, ignore_errors=True)


def test_no_key_share_or_token_at_rest_after_restart_rekey_rotation_and_new_token(
    terraform_each: Terraform, local_env: LocalEnvironment, setup_factory: Any
) -> None:
    it: Setup = setup_factory(terraform_each)
    kms: KmsServer = local_env.kms
    it.apply()
    assert it.cluster.initialisations() == 1
    first_shares = it.reveal("init")
    stored = it.stored()
    assert (len(stored.shares), stored.threshold) == (3, 2)
    assert stored.root_token is None, "no standing root token is kept"
    assert stored.tarmak_token is not None
    first_token = it.held["init: tarmak_token"]
    roots = root_tokens(it.cluster)
    assert roots, "the root token sys/init returned was used (and so audited)"
    assert all(not token_works(it.cluster.wait_for_active(), t) for t in roots), (
        "the root token Vault generated no longer works"
    )

    # A node restart: sealed, seen by plan, unsealed by apply with the stored shares.
    victim = it.cluster.wait_for_active()
    victim.restart()
    assert victim.health() == 503
    it.cluster.wait_for_active()
    assert it.tf.plan_exit_code() == 2
    it.tf.apply()
    assert_ready(it.cluster)

    # A rekey: new shares, stored protected; the old ones no longer count.
    it.run("rekey")
    new_shares = it.reveal("rekey")
    assert not set(new_shares) & set(first_shares), "rekey replaced every share"
    victim = it.cluster.wait_for_active()
    victim.restart()
    it.cluster.wait_for_active()
    it.tf.apply()
    assert victim.health() in UNSEALED, "the new shares unseal a restarted node"

    # A KMS key rotation: every blob rewrapped under the new key version.
    before = kms.key_versions(DEMO_KEY)
    it.run("rotate-kms-key")
    assert kms.key_versions(DEMO_KEY) == before + 1
    assert it.reveal("rotation") == new_shares, "rotation changes the wrapping, not the keys"
    rewrapped = it.stored()
    blobs = [*rewrapped.shares, rewrapped.tarmak_token or ""]
    assert all(f'"vault:v{before + 1}:' in blob for blob in blobs), "every blob rewrapped"

    # A token replacement: a new Tarmak token; the old one is revoked.
    it.run("replace-token")
    it.reveal("replace-token")
    new_token = it.held["replace-token: tarmak_token"]
    assert new_token != first_token
    active = it.cluster.wait_for_active()
    assert token_works(active, new_token)
    assert not token_works(active, first_token), "the replaced Tarmak token was revoked"
    assert it.tf.plan_exit_code() == 0

    assert it.cluster.initialisations() == 1
    it.stop_sides()  # its logs are complete
    assert all(not token_works(active, t) for t in root_tokens(it.cluster))
    it.assert_nothing_leaked()


def test_auto_unseal_cluster_comes_back_without_tarmak_and_plan_is_clean(
    terraform_each: Terraform, local_env: LocalEnvironment, setup_factory: Any
) -> None:
    it: Setup = setup_factory(terraform_each, auto_unseal=True)
    kms: KmsServer = local_env.kms
    side = it.apply()
    assert it.cluster.initialisations() == 1
    stored = it.stored()
    assert stored.recovery, "an auto-unsealed cluster gives recovery keys"
    assert (len(stored.shares), stored.threshold) == (3, 2)
    it.reveal("init")
    assert it.tf.plan_exit_code() == 0

    # Tarmak is gone; every node restarts and must unseal itself through the KMS.
    side.stop()
    logs = {path: path.stat().st_size for path in it.directory.glob("tarmak-controller-*.log")}
    unsealed_before = {n.node_id: n.log_count(AUTO_UNSEALED_LINE) for n in it.cluster}
    kms_mark = kms.audit_size()
    for node in it.cluster:
        node.stop()
    assert set(it.cluster.health().values()) == {None}
    it.cluster.start()
    wait_unsealed(it.cluster)
    it.cluster.wait_for_active()
    for node in it.cluster:
        assert node.log_count(AUTO_UNSEALED_LINE) == unsealed_before[node.node_id] + 1, (
            f"{node.node_id} unsealed itself with the KMS-protected key"
        )
        status = node.seal_status()
        assert status is not None and status["type"] == "transit" and not status["sealed"]
    decrypts = [
        e for e in kms.audit_entries(kms_mark) if e.path == f"transit/decrypt/{AUTOUNSEAL_KEY}"
    ]
    assert len(decrypts) >= len(it.cluster.nodes), "each node asked the KMS, not Tarmak"
    assert {p: p.stat().st_size for p in logs} == logs, "the Tarmak side said nothing meanwhile"
    assert all(side.process is None or side.process.poll() is not None for side in it.sides)

    # Tarmak back: plan and refresh see a ready cluster and change nothing.
    it.start_side()
    marks = it.cluster.audit_marks()
    assert it.tf.plan_exit_code() == 0, "after the restart terraform plan shows no change"
    assert [e for e in it.cluster.audit_since(marks) if e.is_write] == []
    assert it.cluster.initialisations() == 1
    it.assert_nothing_leaked()


def test_an_interrupted_rekey_leaves_a_working_set_of_keys(
    terraform_latest: Terraform, local_env: LocalEnvironment, setup_factory: Any
) -> None:
    it: Setup = setup_factory(terraform_latest)
    kms: KmsServer = local_env.kms
    it.apply()
    it.stop_sides()  # the rekey is the only Tarmak process touching the cluster

    # Freeze the KMS as soon as the rekey has started on Vault: the new shares can then
    # never be protected, and the rekey is killed while it waits.
    marks = it.cluster.audit_marks()
    rekey = it.command("rekey")
    try:

        def started() -> bool:
            if rekey.poll() is not None:
                raise AssertionError(f"the rekey ended (exit {rekey.returncode}) unfrozen")
            return any(
                "rotate/root" in e.path or "rekey" in e.path for e in it.cluster.audit_since(marks)
            )

        wait_until(started, "the rekey to start on Vault", timeout=60, step=0.005)
        kms.pause()
        time.sleep(1.0)
        assert rekey.poll() is None, "the rekey waits for the frozen KMS"
        os.killpg(rekey.pid, signal.SIGKILL)
        rekey.wait(10)
    finally:
        kms.resume()
        stop_pid(rekey.pid)

    # What is stored still unseals the cluster: a restarted node, unsealed by apply.
    shares = it.reveal("after the interrupted rekey")
    assert len(shares) == 3
    victim = it.cluster.wait_for_active()
    victim.restart()
    assert victim.health() == 503
    it.cluster.wait_for_active()
    it.apply()
    assert it.tf.plan_exit_code() == 0

    # And a rekey run again completes, its shares unsealing a restarted node.
    it.stop_sides()
    it.run("rekey")
    new_shares = it.reveal("rekey again")
    assert set(new_shares) != set(shares)
    victim = it.cluster.wait_for_active()
    victim.restart()
    it.cluster.wait_for_active()
    it.apply()
    assert it.cluster.initialisations() == 1
    it.assert_nothing_leaked()
