"""Real parts for the Tarmak side's Vault tests: a KMS (OpenBao -dev with the
transit engine), an uninitialised OpenBao with TLS, and gpg with its own
agent. Each fixture ends its processes and removes its directories."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.protocol.contract import VaultClusterParams
from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.server import Call
from connector.tarmak_side.vault import VaultClusters
from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.generate_root import generate_root
from connector.tarmak_side.vault.keys import ClusterKeys
from connector.tarmak_side.vault.links import DirectLinks
from connector.tarmak_side.vault.nodes import Node
from devenv.pki import ThrowawayCA
from devenv.processes import ChildProcess, free_port
from devenv.vault import OpenBaoServer, VaultEndpoint, bao_binary

KMS_KEY = "tarmak-test"
KEYS_NAME = "t-vault"  # <environment>-vault: clusters() names no cluster
Vault = tuple[OpenBaoServer, ThrowawayCA]


@dataclass(frozen=True)
class Kms:
    server: OpenBaoServer
    token_file: Path

    @property
    def address(self) -> str:
        return self.server.endpoint.address

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response:  # type: ignore[type-arg]
        return requests.request(
            method,
            f"{self.address}/v1/{path}",
            json=body,
            headers={"X-Vault-Token": self.server.endpoint.token or ""},
            timeout=10,
        )


@pytest.fixture(scope="module")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kms]:
    directory = tmp_path_factory.mktemp("kms")
    server = OpenBaoServer(directory / "bao", dev=True).start()
    try:
        token_file = directory / "kms-token"
        token_file.write_text(server.endpoint.token or "")
        token_file.chmod(0o600)
        found = Kms(server, token_file)
        assert found.call("POST", "sys/mounts/transit", {"type": "transit"}).ok
        assert found.call("POST", f"transit/keys/{KMS_KEY}", {}).ok
        yield found
    finally:
        server.stop()


@dataclass(frozen=True)
class GnuPG:
    home: Path
    public_keys: tuple[Path, ...]

    def gpg(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["gpg", "--batch", "--homedir", str(self.home), *args],
            capture_output=True,
            check=True,
            timeout=60,
        )

    def stop_agent(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=30,
        )

    def start_agent(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--launch", "gpg-agent"],
            check=True,
            capture_output=True,
            timeout=30,
        )


@pytest.fixture(scope="module")
def gnupg() -> Iterator[GnuPG]:
    """Two operators' keys (sign + encryption subkey) in a short home (socket paths)."""
    home = Path(tempfile.mkdtemp(prefix="tkg-", dir="/tmp"))
    os.chmod(home, 0o700)
    found = GnuPG(home, (home / "ops1.asc", home / "ops2.asc"))
    try:
        for index, path in enumerate(found.public_keys, 1):
            uid = f"ops{index} <ops{index}@tarmak.test>"
            found.gpg("--passphrase", "", "--quick-gen-key", uid, "default", "default", "never")
            path.write_bytes(found.gpg("--armor", "--export", uid).stdout)
        yield found
    finally:
        found.stop_agent()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def tls_vault(tmp_path: Path) -> Iterator[tuple[OpenBaoServer, ThrowawayCA]]:
    """An uninitialised OpenBao (in-memory storage) with TLS from a CA of its own."""
    ca = ThrowawayCA(tmp_path / "ca")
    server = OpenBaoServer(tmp_path / "vault", dev=False, ca=ca).start()
    try:
        yield server, ca
    finally:
        server.stop()


def bastion_files(directory: Path) -> dict[str, str]:
    """env.yaml's bastion section, with the key and known_hosts files it names made
    in `directory` (the config checks them on disk; these tests reach Vault directly)."""
    key, known_hosts = directory / "k", directory / "kh"
    key.write_text("not used: the nodes are reached directly\n")
    key.chmod(0o600)
    known_hosts.write_text("")
    return {"key_path": str(key), "known_hosts_path": str(known_hosts)}


def clusters(tmp_path: Path, protection: dict[str, Any] | None, shares: int = 3) -> VaultClusters:
    config = EnvironmentConfig.from_dict(
        {
            "environment": "t",
            "state_dir": str(tmp_path / "state"),
            "bastion": bastion_files(tmp_path),
            "vault": {
                "key_shares": shares,
                "key_threshold": 2,
                **({} if protection is None else {"key_protection": protection}),
                "clusters": {"demo": {"worker": {}}},
            },
        },
        base=tmp_path,
    )
    return VaultClusters(config, DirectLinks())


def transit_settings(kms: Kms) -> dict[str, Any]:
    return {"kind": "transit", "address": kms.address, "token_file": str(kms.token_file)}


def params(vault: Vault, wait: float = 20) -> dict[str, Any]:
    """What tarmak_vault_cluster sends for this one-node cluster."""
    server, ca = vault
    return {
        "internal_fqdns": [server.endpoint.address.removeprefix("https://")],
        "vault_ca": ca.cert_pem,
        "vault_kms_key_id": KMS_KEY,
        "create": True,
        "wait_seconds": wait,
    }


def cluster_params(vault: Vault) -> VaultClusterParams:
    """The same, as the Tarmak side reads them (what the key commands take)."""
    return VaultClusterParams.from_params(params(vault))


def converge(side: VaultClusters, vault: Vault, wait: float = 20) -> dict[str, Any]:
    return side.cluster_status(Call("c", "VaultClusterStatus", params(vault, wait)))


def health(vault: Vault) -> int:
    return vault[0].endpoint.health_status()


def stored_keys(side: VaultClusters) -> ClusterKeys:
    """The keys Tarmak stored for the cluster `clusters()` serves."""
    keys = side.keys(KEYS_NAME)
    assert keys is not None, f"no keys stored for {KEYS_NAME}"
    return keys


def tarmak_api(side: VaultClusters, vault: Vault) -> VaultApi:
    """The test's Vault node, called with the token Tarmak stored."""
    server, ca = vault
    node = Node.parse(server.endpoint.address.removeprefix("https://"), 8200)
    return DirectLinks().open(node, str(ca.cert_path)).with_token(stored_keys(side).token())


def root(side: VaultClusters, vault: Vault) -> str:
    """A root token from the stored shares (Tarmak keeps none standing)."""
    api = tarmak_api(side, vault)
    try:
        return generate_root(api, stored_keys(side))
    finally:
        api.close()


def seal(vault: Vault, token: str) -> None:
    server, ca = vault
    answer = requests.put(
        f"{server.endpoint.address}/v1/sys/seal",
        headers={"X-Vault-Token": token},
        verify=str(ca.cert_path),
        timeout=10,
    )
    assert answer.ok, answer.text
    assert health(vault) == 503


def lookup(vault: Vault, token: str) -> requests.Response:
    server, ca = vault
    return requests.get(
        f"{server.endpoint.address}/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": token},
        verify=str(ca.cert_path),
        timeout=10,
    )


@pytest.fixture
def auto_unseal_vault(kms: Kms, tmp_path: Path) -> Iterator[Vault]:
    """An uninitialised OpenBao (in-memory, TLS) that auto-unseals through the KMS
    (`seal "transit"`): initialised with recovery shares."""
    assert kms.call("POST", "transit/keys/autounseal", {}).ok
    ca = ThrowawayCA(tmp_path / "auto-ca")
    files = ca.issue("vault")
    port = free_port()
    directory = tmp_path / "auto-vault"
    directory.mkdir()
    config = directory / "server.hcl"
    config.write_text(
        f"""
storage "inmem" {{}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{free_port()}"
  tls_cert_file   = "{files.cert}"
  tls_key_file    = "{files.key}"
}}
seal "transit" {{
  address    = "{kms.address}"
  token      = "{kms.server.endpoint.token}"
  key_name   = "autounseal"
  mount_path = "transit/"
}}
api_addr = "https://127.0.0.1:{port}"
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    process = ChildProcess([bao_binary(), "server", f"-config={config}"], directory / "log", env)
    server = OpenBaoServer.__new__(OpenBaoServer)
    server.directory, server.dev, server.port, server.process = directory, False, port, process
    server.endpoint = VaultEndpoint(f"https://127.0.0.1:{port}", None, str(ca.cert_path))
    try:
        server.start()
        yield server, ca
    finally:
        server.stop()
