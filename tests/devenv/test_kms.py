"""The devenv's KMS: transit keys for Tarmak's stored keys and for auto-unseal,
tokens limited to their key, and a Raft cluster that unseals itself through it."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import requests

from devenv.environment import LocalEnvironment
from devenv.kms import AUTOUNSEAL_KEY, DEMO_KEY, KmsServer
from devenv.processes import wait_until
from devenv.raft_cluster import AUTO_UNSEALED_LINE, RaftCluster

UNSEALED = (200, 429)


def as_tarmak(kms: KmsServer, path: str, body: dict[str, object]) -> requests.Response:
    token = kms.tarmak_token_file.read_text()
    return requests.post(
        f"{kms.address}/v1/{path}",
        json=body,
        headers={"X-Vault-Token": token},
        verify=str(kms.ca_cert),
        timeout=10,
    )


def test_tarmak_token_uses_its_key_only(local_env: LocalEnvironment) -> None:
    kms = local_env.kms
    assert stat.S_IMODE(kms.tarmak_token_file.stat().st_mode) == 0o600
    made = as_tarmak(kms, f"transit/datakey/plaintext/{DEMO_KEY}", {"bits": 256})
    assert made.status_code == 200, made.text
    wrapped = made.json()["data"]["ciphertext"]
    opened = as_tarmak(kms, f"transit/decrypt/{DEMO_KEY}", {"ciphertext": wrapped})
    assert opened.json()["data"]["plaintext"] == made.json()["data"]["plaintext"]
    plaintext = base64.b64encode(b"x").decode()
    refused = as_tarmak(kms, f"transit/encrypt/{AUTOUNSEAL_KEY}", {"plaintext": plaintext})
    assert refused.status_code == 403, "Tarmak's token cannot use the auto-unseal key"


def test_tarmak_can_rotate_and_rewrap(tmp_path: Path, local_env: LocalEnvironment) -> None:
    kms = KmsServer(tmp_path / "kms", local_env.ca, keys=("rotated",)).start()
    try:
        wrapped = as_tarmak(kms, "transit/encrypt/rotated", {"plaintext": "eA=="}).json()
        assert as_tarmak(kms, "transit/keys/rotated/rotate", {}).status_code in (200, 204)
        assert kms.key_versions("rotated") == 2
        rewrapped = as_tarmak(
            kms, "transit/rewrap/rotated", {"ciphertext": wrapped["data"]["ciphertext"]}
        )
        assert rewrapped.json()["data"]["ciphertext"].startswith("vault:v2:")
        kms.restart()  # Raft on disk: the key and its versions survive
        assert kms.key_versions("rotated") == 2
    finally:
        kms.stop()


def test_transit_sealed_cluster_unseals_itself_after_restart(
    tmp_path: Path, local_env: LocalEnvironment
) -> None:
    kms = local_env.kms
    cluster = RaftCluster(tmp_path / "raft", local_env.ca, seal=kms.transit_seal()).start()
    try:
        first = cluster.node(0)
        status = first.seal_status()
        assert status is not None and status["type"] == "transit"
        init = requests.put(
            f"{first.endpoint.address}/v1/sys/init",
            json={"recovery_shares": 3, "recovery_threshold": 2},
            verify=first.endpoint.ca_cert,
            timeout=30,
        ).json()
        assert len(init["recovery_keys"]) == 3 and not init["keys"]
        wait_until(
            lambda: all(s in UNSEALED for s in cluster.health().values()),
            "the joined nodes to unseal themselves",
            timeout=60,
            step=0.2,
        )
        victim = cluster.wait_for_active()
        before = victim.log_count(AUTO_UNSEALED_LINE)
        mark = kms.audit_size()
        victim.restart()
        wait_until(lambda: victim.health() in UNSEALED, "the restarted node", timeout=30)
        assert victim.log_count(AUTO_UNSEALED_LINE) == before + 1
        paths = [e.path for e in kms.audit_entries(mark)]
        assert f"transit/decrypt/{AUTOUNSEAL_KEY}" in paths
    finally:
        cluster.stop()
