"""Each part of the local environment works through the clients the provider uses."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import hvac
import hvac.exceptions
import paramiko
import pytest
import requests

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.ssh import (
    BastionConnection,
    BastionError,
    BastionRefused,
    HostKeyRefused,
    SSHSettings,
)
from connector.tarmak_side.ssh_http import session_through
from devenv.bastion import write_keypair
from devenv.environment import LocalEnvironment
from devenv.pki import ThrowawayCA
from devenv.processes import ChildProcess
from devenv.vault import OpenBaoServer, VaultEndpoint
from devenv.wing import WingHealth, WingStandIn
from tests.e2e.harness import ROOT


def hvac_client(endpoint: VaultEndpoint) -> hvac.Client:
    return hvac.Client(url=endpoint.address, token=endpoint.token, verify=endpoint.ca_cert or True)


def health_code(endpoint: VaultEndpoint) -> int:
    response = hvac_client(endpoint).sys.read_health_status(method="GET")
    return 200 if isinstance(response, dict) else response.status_code


def test_dev_vault_is_initialised_unsealed_and_active(local_env: LocalEnvironment) -> None:
    endpoint = local_env.vault_dev.endpoint
    assert health_code(endpoint) == 200
    assert hvac_client(endpoint).is_authenticated()


def test_tls_vault_starts_uninitialised_then_init_and_unseal(
    fresh_tls_vault: OpenBaoServer,
) -> None:
    endpoint = fresh_tls_vault.endpoint
    assert endpoint.address.startswith("https://127.0.0.1:")
    client = hvac_client(endpoint)
    assert health_code(endpoint) == 501
    keys = client.sys.initialize(secret_shares=1, secret_threshold=1)
    assert health_code(endpoint) == 503
    client.sys.submit_unseal_key(keys["keys"][0])
    assert health_code(endpoint) == 200
    client.token = keys["root_token"]
    assert client.is_authenticated()


def test_tls_vault_is_trusted_only_through_the_throwaway_ca(fresh_tls_vault: OpenBaoServer) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{fresh_tls_vault.endpoint.address}/v1/sys/health", timeout=5)


def test_kv_v2_check_and_set(vault: VaultEndpoint) -> None:
    client = hvac_client(vault)
    mount = f"devenv-{secrets.token_hex(4)}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    try:
        kv = client.secrets.kv.v2
        kv.create_or_update_secret("counter", {"n": 1}, cas=0, mount_point=mount)
        kv.create_or_update_secret("counter", {"n": 2}, cas=1, mount_point=mount)
        with pytest.raises(hvac.exceptions.InvalidRequest) as stale:
            kv.create_or_update_secret("counter", {"n": 3}, cas=1, mount_point=mount)
        assert "check-and-set parameter did not match the current version" in str(stale.value)
        read = kv.read_secret_version("counter", mount_point=mount, raise_on_deleted_version=True)
        assert read["data"]["data"] == {"n": 2} and read["data"]["metadata"]["version"] == 2
    finally:
        client.sys.disable_secrets_engine(mount)


def ssh_settings(env: LocalEnvironment, known_hosts: str | None = None) -> SSHSettings:
    access = env.bastion.access
    return SSHSettings(
        access.host,
        access.port,
        access.username,
        access.key_path,
        known_hosts or access.known_hosts_path,
    )


def test_paramiko_logs_in_with_the_generated_key(local_env: LocalEnvironment) -> None:
    with BastionConnection(ssh_settings(local_env)).connect() as bastion:
        assert bastion.is_active()
        assert bastion.transport.get_username() == local_env.bastion.access.username


def test_changed_host_key_is_refused(local_env: LocalEnvironment, tmp_path: Path) -> None:
    impostor = write_keypair(tmp_path / "other", "impostor").split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{local_env.bastion.port} {' '.join(impostor)}\n")
    with pytest.raises(BastionError, match="does not match"):
        BastionConnection(ssh_settings(local_env, str(known))).connect()


def test_unknown_host_key_is_refused(local_env: LocalEnvironment, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyRefused, match=f"ssh-ed25519 SHA256:.* which is not in {empty}"):
        BastionConnection(ssh_settings(local_env, str(empty))).connect()


@pytest.mark.parametrize("problem", ["missing", "0644", "not a key"])
def test_an_unusable_private_key_is_refused_naming_key_path(
    local_env: LocalEnvironment, tmp_path: Path, problem: str
) -> None:
    key = tmp_path / "id_ed25519"
    if problem != "missing":
        key.write_bytes(Path(local_env.bastion.access.key_path).read_bytes())
        key.chmod(0o644 if problem == "0644" else 0o600)
    if problem == "not a key":
        key.write_text("not a key\n")
    settings = dataclasses.replace(ssh_settings(local_env), key_path=str(key))
    with pytest.raises(BastionRefused) as refused:
        BastionConnection(settings).connect()
    message = str(refused.value)
    assert message.startswith("bastion.key_path: ") and "known_hosts" not in message
    assert {
        "missing": f"{key} does not exist",  # as when env.yaml loads
        "0644": f"{key} is mode 0644, open to others (only its owner may read a secret, "
        f"as ssh requires of a key): run `chmod 600 {key}`",
        "not a key": f"{key} is not a private key ssh can use",
    }[problem] in message


def test_direct_tcpip_reaches_the_wing_behind_the_bastion(local_env: LocalEnvironment) -> None:
    wing_port = int(local_env.wing_url.split(":")[2].split("/")[0])
    with BastionConnection(ssh_settings(local_env)).connect() as bastion:
        session, base = session_through(
            bastion, "127.0.0.1", wing_port, str(local_env.ca.cert_path)
        )
        with session:
            response = session.get(f"{base}/healthz", timeout=5)
        assert (response.status_code, response.text) == (200, "ok")
        channel = bastion.open_channel("127.0.0.1", wing_port)
        assert isinstance(channel, paramiko.Channel)
        channel.close()


def test_https_over_the_channel_trusts_only_the_ca_given_for_the_name_asked(
    local_env: LocalEnvironment, tmp_path: Path
) -> None:
    wing_port = int(local_env.wing_url.split(":")[2].split("/")[0])
    stranger = ThrowawayCA(tmp_path / "other-ca", "another CA")
    with BastionConnection(ssh_settings(local_env)).connect() as bastion:
        session, base = session_through(bastion, "127.0.0.1", wing_port, str(stranger.cert_path))
        with (
            session,
            pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            session.get(f"{base}/healthz", timeout=5)
    # Signed by the right CA, but for another name than the one asked for.
    misnamed = WingStandIn(local_env.ca.issue("misnamed", hosts=("vault-9.internal",))).start()
    try:
        with BastionConnection(ssh_settings(local_env)).connect() as bastion:
            session, base = session_through(
                bastion, "127.0.0.1", misnamed.port, str(local_env.ca.cert_path)
            )
            with session, pytest.raises(requests.exceptions.SSLError, match="mismatch"):
                session.get(f"{base}/healthz", timeout=5)
    finally:
        misnamed.stop()


def test_wing_switches_between_healthy_unhealthy_and_absent(local_env: LocalEnvironment) -> None:
    wing = WingStandIn(local_env.ca.issue("wing-switch")).start()
    ca = str(local_env.ca.cert_path)
    try:
        assert requests.get(wing.url, verify=ca, timeout=5).text == "ok"
        wing.set(WingHealth.UNHEALTHY)
        assert requests.get(wing.url, verify=ca, timeout=5).status_code == 503
        wing.set(WingHealth.ABSENT)
        with pytest.raises(requests.ConnectionError):
            requests.get(wing.url, verify=ca, timeout=5)
        wing.set(WingHealth.HEALTHY)
        assert requests.get(wing.url, verify=ca, timeout=5).text == "ok"
    finally:
        wing.stop()


def test_cli_up_env_down_twice_in_a_row(tmp_path: Path) -> None:
    directory = tmp_path / "env"
    for _ in range(2):  # the second run must not trip over the first one's leftovers
        cli = [sys.executable, "-m", "devenv"]
        up = subprocess.run(
            [*cli, "up", "--dir", str(directory)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert up.returncode == 0, up.stderr
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines()
        )
        assert set(exports) >= {
            "VAULT_ADDR",
            "VAULT_TOKEN",
            "VAULT_CACERT",
            "TARMAK_DEVENV_SSH_KEY",
        }
        env_again = subprocess.run(
            [*cli, "env", "--dir", str(directory)], cwd=ROOT, capture_output=True, text=True
        )
        assert env_again.stdout == up.stdout
        endpoint = VaultEndpoint(exports["VAULT_ADDR"], exports["VAULT_TOKEN"])
        assert health_code(endpoint) == 200
        wing = requests.get(
            exports["TARMAK_DEVENV_WING_URL"], verify=exports["VAULT_CACERT"], timeout=5
        )
        assert wing.text == "ok"
        cluster = exports["TARMAK_DEVENV_VAULT_CLUSTER"].split(",")
        assert len(cluster) == 3
        ca = exports["VAULT_CACERT"]
        assert [_health(a, ca) for a in cluster] == [501, 501, 501], "uninitialised"

        written = subprocess.run(
            [*cli, "tarmak-config", "--dir", str(directory)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert written.returncode == 0, written.stderr
        config = EnvironmentConfig.load(written.stdout.strip())
        assert config.bastion.port == int(exports["TARMAK_DEVENV_SSH_PORT"])
        assert config.bastion.known_hosts_path == exports["TARMAK_DEVENV_SSH_KNOWN_HOSTS"]
        assert set(config.vault.clusters["demo"]) == {"master", "worker"}

        state = json.loads((directory / "state.json").read_text())
        old_pid = state["vault_nodes"]["vault-2"]["pid"]
        restarted = subprocess.run(
            [*cli, "restart-node", "vault-2", "--dir", str(directory)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert restarted.returncode == 0, restarted.stderr
        assert not os.path.exists(f"/proc/{old_pid}") or _zombie(old_pid)
        assert _health(cluster[1], ca) == 501

        state = json.loads((directory / "state.json").read_text())
        pids = [int(p) for p in state["pids"]]
        pids += [node["pid"] for node in state["vault_nodes"].values()]
        down = subprocess.run([*cli, "down", "--dir", str(directory)], cwd=ROOT, timeout=60)
        assert down.returncode == 0
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}") or _zombie(pid), (
                f"process {pid} survived down"
            )
        assert not directory.exists()


def _health(address: str, ca: str) -> int:
    return requests.get(f"https://{address}/v1/sys/health", verify=ca, timeout=5).status_code


def test_cli_with_a_python_lacking_the_dependencies_uses_the_venv(tmp_path: Path) -> None:
    """`python -m devenv` as the README writes it, with a bare interpreter."""
    directory = tmp_path / "never-made"
    result = subprocess.run(
        ["python3", "-m", "devenv", "env", "--dir", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    assert result.returncode == 1, result.stderr
    assert "the local environment is not up" in result.stderr
    assert "No module named" not in result.stderr
    assert not directory.exists()


def test_up_that_fails_part_way_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from devenv import __main__ as cli
    from devenv.bastion import Bastion

    started: list[int] = []
    real_start = ChildProcess.start

    def recording_start(self: ChildProcess) -> None:
        real_start(self)
        started.append(self.pid)

    def broken_sshd(self: Bastion) -> Bastion:
        raise TimeoutError("sshd on port 1 did not come up within 15s")

    monkeypatch.setattr(ChildProcess, "start", recording_start)
    monkeypatch.setattr(Bastion, "start_wait", broken_sshd)
    directory = tmp_path / "env"
    assert cli.up(directory) == 1
    assert "did not come up: sshd on port 1" in capsys.readouterr().err
    assert not directory.exists(), "no half-made directory"
    assert started, "the environment had started processes"
    for pid in started:
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid), f"process {pid} survived"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
