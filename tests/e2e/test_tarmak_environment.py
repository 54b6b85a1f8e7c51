"""The blocking Tarmak resources end to end: real terraform, real sshd bastion,
real OpenBao initialised and unsealed through SSH tunnels, the connector as a
local subprocess in place of `docker exec`."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import hvac
import paramiko
import pytest

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.ssh import fingerprint
from connector.tarmak_side.vault.keystore import KeyStore
from connector.tarmak_side.vault.protection import protection_for
from devenv.bastion import write_keypair
from devenv.environment import LocalEnvironment
from devenv.processes import descendants
from devenv.tarmak import (
    ROLES,
    TarmakSide,
    TarmakSideProcess,
    environment_config,
    generate_root,
    short_socket_path,
    terraform_variables,
    write_config,
)
from devenv.vault import OpenBaoServer
from devenv.wing import WingHealth, WingStandIn
from tests.e2e.harness import ROOT, Terraform, interrupt

pytestmark = pytest.mark.e2e
EXAMPLE = ROOT / "examples" / "tarmak-environment" / "main.tf"


@pytest.fixture
def wing(local_env: LocalEnvironment) -> Iterator[WingStandIn]:
    """A wing of this test's own, so switching it affects no other test."""
    stand_in = WingStandIn(local_env.ca.issue("wing-e2e")).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def tarmak(local_env: LocalEnvironment, wing: WingStandIn, tmp_path: Path) -> Iterator[TarmakSide]:
    side = TarmakSide(environment_config(local_env, tmp_path / "state", wing.url))
    yield side
    side.stop()
    shutil.rmtree(Path(side.socket_path).parent, ignore_errors=True)


def prepare(
    tf: Terraform, env: LocalEnvironment, vault: OpenBaoServer, side: TarmakSide
) -> Terraform:
    tf.env.update(terraform_variables(env, vault))
    tf.env["TARMAK_CONNECTOR_SOCKET"] = side.socket_path
    tf.write(EXAMPLE.read_text())
    tf.init()
    return tf


def test_example_initialises_vault_and_returns_working_init_tokens(
    terraform: Terraform,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    tarmak: TarmakSide,
    tmp_path: Path,
) -> None:
    tf = prepare(terraform, local_env, fresh_tls_vault, tarmak)
    tarmak.start()
    tf.env.update(TF_LOG="trace", TF_LOG_PATH=str(tmp_path / "terraform.log"))
    tf.apply()
    outputs = tf.outputs()
    assert outputs["bastion_status"] == "ready" and outputs["vault_status"] == "ready"
    tokens = outputs["init_tokens"]
    assert set(tokens) == set(ROLES)

    endpoint = fresh_tls_vault.endpoint
    assert endpoint.health_status() == 200, "Tarmak initialised and unsealed the TLS OpenBao"
    keys_files = list((tmp_path / "state").glob("vault-demo-vault*.json"))
    assert keys_files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in keys_files)
    for role, init_token in tokens.items():
        client = hvac.Client(url=endpoint.address, token=init_token, verify=endpoint.ca_cert)
        created = client.adapter.post(f"/v1/auth/token/create/demo-{role}", json={})
        assert f"demo/{role}" in created["auth"]["policies"]

    log = (tmp_path / "terraform.log").read_text()
    provider_lines = [line for line in log.splitlines() if "terraform-provider-tarmak" in line]
    assert provider_lines, "the provider's log lines are in Terraform's log"
    assert not any(t in line for t in tokens.values() for line in provider_lines)
    assert not any(t in log for t in tokens.values()), "init tokens never appear in logs"

    assert tf.plan_exit_code() == 0, "a second apply is a no-op"
    tf.destroy()
    assert tf.state() == {}


def test_connector_attached_late(
    terraform_latest: Terraform,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    tarmak: TarmakSide,
) -> None:
    tf = prepare(terraform_latest, local_env, fresh_tls_vault, tarmak)
    apply = tf.start("apply", "-auto-approve")
    time.sleep(3)
    assert apply.poll() is None, "apply waits for the connector"
    tarmak.start()
    output, _ = apply.communicate(timeout=120)
    assert apply.returncode == 0, output
    assert "Resources: 4 added" in output


def kill_connector(tarmak: TarmakSide) -> None:
    """The connector dies as if `docker exec` broke: killed from outside, as Docker would."""
    relays = [
        p.pid
        for p in descendants(os.getpid())
        if b"connector.relay_cli" in p.cmdline and tarmak.socket_path.encode() in p.cmdline
    ]
    assert len(relays) == 1, f"one connector for {tarmak.socket_path}: {relays}"
    os.kill(relays[0], signal.SIGKILL)


def test_connector_killed_mid_apply_and_wing_unhealthy_then_healthy(
    terraform_latest: Terraform,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    tarmak: TarmakSide,
    wing: WingStandIn,
) -> None:
    wing.set(WingHealth.UNHEALTHY)
    tf = prepare(terraform_latest, local_env, fresh_tls_vault, tarmak)
    tarmak.start()
    apply = tf.start("apply", "-auto-approve")
    deadline = time.monotonic() + 30
    while wing.requests < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert wing.requests >= 2, "Tarmak polls the unhealthy wing"
    kill_connector(tarmak)  # Tarmak restarts it, the provider re-sends
    time.sleep(1)
    assert apply.poll() is None
    wing.set(WingHealth.HEALTHY)
    output, _ = apply.communicate(timeout=120)
    assert apply.returncode == 0, output
    assert tarmak.controller.generation >= 2, "the connector was really restarted"


def bastion_only(timeout: str = "30m") -> str:
    return f"""
        terraform {{
          required_providers {{
            tarmak = {{ source = "jetstack/tarmak" }}
          }}
        }}
        resource "tarmak_bastion_instance" "bastion" {{
          hostname = "127.0.0.1"
          username = "{os.environ.get("USER", "root")}"
          timeouts {{
            create = "{timeout}"
          }}
        }}
    """


def test_no_connector_is_a_clean_timeout(terraform: Terraform, tarmak: TarmakSide) -> None:
    terraform.env["TARMAK_CONNECTOR_SOCKET"] = tarmak.socket_path
    terraform.write(bastion_only(timeout="3s"))
    terraform.init()
    result = terraform.apply(check=False)
    assert result.returncode == 1
    assert "Timed out after 3s waiting for the wing API server on bastion 127.0.0.1" in result.text
    assert f"no tarmak-connector is listening on {tarmak.socket_path}" in result.text
    assert "Traceback" not in result.output


def test_changed_bastion_host_key_is_refused(
    terraform_latest: Terraform, local_env: LocalEnvironment, wing: WingStandIn, tmp_path: Path
) -> None:
    impostor = write_keypair(tmp_path / "impostor", "x").split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{local_env.bastion.port} {' '.join(impostor)}\n")
    side = TarmakSide(
        environment_config(local_env, tmp_path / "state", wing.url, str(known))
    ).start()
    try:
        terraform_latest.env["TARMAK_CONNECTOR_SOCKET"] = side.socket_path
        terraform_latest.write(bastion_only())
        terraform_latest.init()
        result = terraform_latest.apply(check=False, timeout=60)
        assert result.returncode == 1
        assert "does not match" in result.text and "refusing to connect" in result.text
    finally:
        side.stop()


def test_ctrl_c_aborts_a_waiting_create(
    terraform: Terraform, tarmak: TarmakSide, wing: WingStandIn
) -> None:
    wing.set(WingHealth.UNHEALTHY)
    tarmak.start()
    terraform.env["TARMAK_CONNECTOR_SOCKET"] = tarmak.socket_path
    terraform.write(bastion_only())
    terraform.init()
    output, took = interrupt(terraform.start("apply", "-auto-approve"), "Creating...")
    assert took < 2.0, f"took {took:.1f}s:\n{output}"
    assert "Cancelled while waiting for the wing API server on bastion 127.0.0.1" in " ".join(
        output.split()
    )


def test_outputs_hide_the_init_token(
    terraform_latest: Terraform,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    tarmak: TarmakSide,
) -> None:
    tf = prepare(terraform_latest, local_env, fresh_tls_vault, tarmak)
    tarmak.start()
    result = tf.apply()
    assert "init_tokens = <sensitive>" in result.stdout
    shown = json.loads(tf.run("show", "-json").stdout)
    role = next(
        r
        for r in shown["values"]["root_module"]["resources"]
        if r["type"] == "tarmak_vault_instance_role"
    )
    assert role["sensitive_values"].get("init_token") is True


def test_revoked_init_token_seen_by_refresh_and_recreated_by_apply(
    terraform_latest: Terraform,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    tarmak: TarmakSide,
    tmp_path: Path,
) -> None:
    tf = prepare(terraform_latest, local_env, fresh_tls_vault, tarmak)
    tarmak.start()
    tf.apply()
    before = tf.outputs()["init_tokens"]
    endpoint = fresh_tls_vault.endpoint
    node = endpoint.address.removeprefix("https://")
    root = generate_root(tarmak.config_path, [node], local_env.ca.cert_path)
    admin = hvac.Client(url=endpoint.address, token=root, verify=endpoint.ca_cert)
    admin.auth.token.revoke(before["worker"])

    tf.apply("-refresh-only")  # only observes: the revoked token leaves the state
    assert 'tarmak_vault_instance_role.role["worker"]' not in tf.state()
    assert tf.state()['tarmak_vault_instance_role.role["master"]']["init_token"] == before["master"]
    result = tf.apply()
    assert "1 added, 0 changed, 0 destroyed" in result.stdout
    after = tf.outputs()["init_tokens"]
    assert after["master"] == before["master"], "a valid token is kept"
    assert after["worker"] != before["worker"], "a revoked token is recreated by apply"
    worker = hvac.Client(url=endpoint.address, token=after["worker"], verify=endpoint.ca_cert)
    created = worker.adapter.post("/v1/auth/token/create/demo-worker", json={})
    assert "demo/worker" in created["auth"]["policies"]
    looked_up = admin.auth.token.lookup(after["worker"])["data"]
    assert looked_up["period"] == 43800 * 3600, "the default init-token period is five years"


def test_unknown_bastion_host_key_fails_fast(
    terraform_latest: Terraform, local_env: LocalEnvironment, wing: WingStandIn, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    side = TarmakSide(
        environment_config(local_env, tmp_path / "state", wing.url, str(empty))
    ).start()
    try:
        terraform_latest.env["TARMAK_CONNECTOR_SOCKET"] = side.socket_path
        terraform_latest.write(bastion_only())
        terraform_latest.init()
        # The create timeout is the default 30m: the 60 s limit here shows it is not retried.
        result = terraform_latest.apply(check=False, timeout=60)
        assert result.returncode == 1
        host_key = (local_env.bastion.directory / "ssh_host_ed25519_key.pub").read_text().split()
        expected = paramiko.Ed25519Key(data=base64.b64decode(host_key[1]))
        assert f"presented the host key {fingerprint(expected)}" in result.text, result.output
        assert f"which is not in {empty}" in result.text
    finally:
        side.stop()
        shutil.rmtree(Path(side.socket_path).parent, ignore_errors=True)


# ---- no port another user can reach; one log line per request, no secret ------------------


def tcp_sockets(pid: int) -> list[tuple[str, int, int]]:
    """(state, local port, remote port) of each TCP socket the process holds; state
    is /proc/net/tcp's hex code (0A: listening, 01: established)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                local, remote = fields[1], fields[2]
                found.append(
                    (fields[3], int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16))
                )
    return found


def connect_as_nobody(port: int) -> subprocess.CompletedProcess[str]:
    """Another local user (uid 65534) tries 127.0.0.1:port."""
    probe = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
        "except OSError as err:\n"
        "    sys.exit(f'refused: {err}')\n"
        "print('connected')\n"
    )
    return subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            probe,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def stored_secrets(config_path: Path, name: str = "demo-vault") -> list[str]:
    """Every share and token the keys file holds, revealed as Tarmak does (through the
    KMS), so a test can look for them where they must not be."""
    config = EnvironmentConfig.load(config_path)
    stored = KeyStore(config.state_dir).load(name)
    assert stored is not None, f"no keys stored for {name} in {config.state_dir}"
    protection = protection_for(config, stored.kms_key_id, name, stored.protection)
    blobs = [*stored.shares, stored.root_token, stored.tarmak_token]
    return [protection.reveal(blob).decode().strip() for blob in blobs if blob is not None]


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_vault_is_reached_through_no_port_another_user_can_use_and_each_request_is_logged(
    terraform_latest: Terraform,
    local_env: LocalEnvironment,
    fresh_tls_vault: OpenBaoServer,
    wing: WingStandIn,
    tmp_path: Path,
) -> None:
    socket_path = short_socket_path()
    config = write_config(
        environment_config(local_env, tmp_path / "state", wing.url), tmp_path / "env.yaml"
    )
    side = TarmakSideProcess(config, socket_path, tmp_path / "tarmak.log").start()
    assert side.process is not None
    try:
        tf = terraform_latest
        tf.env.update(terraform_variables(local_env, fresh_tls_vault))
        tf.env["TARMAK_CONNECTOR_SOCKET"] = socket_path
        tf.write(EXAMPLE.read_text())
        tf.init()
        apply = tf.start("apply", "-auto-approve")
        listening, to_bastion, samples = set(), set(), 0
        while apply.poll() is None:  # watch the controller's sockets while it works
            for state, local, remote in tcp_sockets(side.process.pid):
                if state == "0A":
                    listening.add(local)
                elif remote == local_env.bastion.port:
                    to_bastion.add(local)
            samples += 1
            time.sleep(0.01)
        output, _ = apply.communicate()
        assert apply.returncode == 0, output
        assert to_bastion, f"the controller's SSH connection was seen ({samples} samples)"
        assert listening == set(), "the controller listens on no TCP port"
        vault_port = int(fresh_tls_vault.endpoint.address.rsplit(":", 1)[1])
        assert connect_as_nobody(vault_port).returncode == 0, "the probe can reach a listener"
        for port in sorted(to_bastion):  # the controller's own ends are no way in either
            attempt = connect_as_nobody(port)
            assert attempt.returncode == 1 and "refused" in attempt.stderr, attempt

        log = (tmp_path / "tarmak.log").read_text()
        assert f"tarmak-controller: started: config {config}, connector command: " in log
        for served in (
            "BastionInstanceStatus 127.0.0.1: ready (",
            f"VaultClusterConverge Vault 127.0.0.1:{vault_port}: ready (",
            "VaultInstanceRole demo/master: ready (",
            "VaultInstanceRole demo/worker: ready (",
        ):
            assert f"tarmak-controller: {served}" in log, log
        secrets = [*stored_secrets(config), *tf.outputs()["init_tokens"].values()]
        assert len(secrets) > 3, "the stored shares and a token were revealed to look for"
        assert all(secret not in log for secret in secrets), "no token or key is logged"
    finally:
        side.stop()
        shutil.rmtree(Path(socket_path).parent, ignore_errors=True)
