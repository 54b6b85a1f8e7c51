"""A "KMS": a second OpenBao with the transit engine, beside the Vault cluster.

It plays the cloud KMS Tarmak uses in production: it protects the keys Tarmak
stores (a transit key named by `tarmak_vault_cluster.vault_kms_key_id`) and
auto-unseals cluster nodes started with `seal "transit"` (the `autounseal`
key). TLS from the devenv's throwaway CA like the nodes, Raft storage on disk
(a restarted KMS keeps its keys), a file audit device on its log, and
initialised and unsealed here at start: the devenv holds its root token, Tarmak
and the nodes get tokens whose policies allow their one key only.
"""

from __future__ import annotations

import os
import signal
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from connector.tarmak_side.safe_paths import write_private_file
from devenv import audit_file
from devenv.pki import ThrowawayCA
from devenv.processes import ChildProcess, wait_until
from devenv.raft_cluster import TransitSeal, low_free_port
from devenv.vault import VaultEndpoint, bao_binary

MOUNT = "transit"
AUTOUNSEAL_KEY = "autounseal"
# The transit key the devenv's demo names in vault_kms_key_id.
DEMO_KEY = "tarmak-demo"
TOKEN_PERIOD = "768h"


def _tarmak_policy(key: str) -> str:
    """What Tarmak may do with its key: make and open data keys (envelope
    encryption of what it stores), rotate the key, rewrap under the newest version."""
    return textwrap.dedent(
        f"""\
        path "{MOUNT}/encrypt/{key}" {{ capabilities = ["update"] }}
        path "{MOUNT}/datakey/plaintext/{key}" {{ capabilities = ["update"] }}
        path "{MOUNT}/decrypt/{key}" {{ capabilities = ["update"] }}
        path "{MOUNT}/rewrap/{key}" {{ capabilities = ["update"] }}
        path "{MOUNT}/keys/{key}" {{ capabilities = ["read"] }}
        path "{MOUNT}/keys/{key}/rotate" {{ capabilities = ["update"] }}
        """
    )


def _autounseal_policy(key: str) -> str:
    return textwrap.dedent(
        f"""\
        path "{MOUNT}/encrypt/{key}" {{ capabilities = ["update"] }}
        path "{MOUNT}/decrypt/{key}" {{ capabilities = ["update"] }}
        """
    )


@dataclass(frozen=True)
class KmsAuditEntry:
    type: str  # "request" or "response"
    operation: str
    path: str
    remote_address: str


class KmsServer:
    """One OpenBao with transit; `start()` leaves it unsealed with its keys made."""

    def __init__(self, directory: Path, ca: ThrowawayCA, keys: tuple[str, ...] = (DEMO_KEY,)):
        self.directory = directory
        self.keys = keys
        directory.mkdir(parents=True, exist_ok=True)
        taken: set[int] = set()
        self.port = low_free_port(taken)
        cluster_port = low_free_port(taken)
        data = directory / "data"
        data.mkdir(exist_ok=True)
        files = ca.issue("kms")
        self.ca_cert = ca.cert_path
        self.log_path = directory / "bao.log"
        config = directory / "server.hcl"
        config.write_text(
            textwrap.dedent(
                f"""\
                storage "raft" {{
                  path    = "{data}"
                  node_id = "kms"
                  performance_multiplier = 1
                }}
                listener "tcp" {{
                  address         = "127.0.0.1:{self.port}"
                  cluster_address = "127.0.0.1:{cluster_port}"
                  tls_cert_file   = "{files.cert}"
                  tls_key_file    = "{files.key}"
                }}
                api_addr     = "https://127.0.0.1:{self.port}"
                cluster_addr = "https://127.0.0.1:{cluster_port}"
                audit "file" "audit" {{
                  options {{
                    file_path = "stdout"
                  }}
                }}
                """
            )
        )
        self.endpoint = VaultEndpoint(f"https://127.0.0.1:{self.port}", None, str(ca.cert_path))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        self.process = ChildProcess(
            [bao_binary(), "server", f"-config={config}"], self.log_path, env
        )
        # Kept 0600 in the KMS's own directory: Tarmak reads its token from a file.
        self.tarmak_token_file = directory / "tarmak-token"
        self.autounseal_token_file = directory / "autounseal-token"
        self._unseal_key: str | None = None

    @property
    def address(self) -> str:
        return self.endpoint.address

    # ---- talking to it as its administrator ------------------------------------------

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> requests.Response:
        headers = {"X-Vault-Token": token or self.endpoint.token or ""}
        return requests.request(
            method,
            f"{self.address}/v1/{path}",
            json=body,
            headers=headers,
            verify=str(self.ca_cert),
            timeout=10,
        )

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """A request as the KMS's root (or `token`); an error status raises."""
        answer = self._call(method, path, body, token)
        if answer.status_code >= 400:
            raise RuntimeError(f"KMS {method} {path}: HTTP {answer.status_code} {answer.text}")
        return answer.json() if answer.content else {}

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> KmsServer:
        self.process.start()
        return self.start_wait()

    def start_wait(self) -> KmsServer:
        """Wait for it to answer, then initialise (first start) or unseal it."""
        try:
            wait_until(self._answers, f"the KMS OpenBao on port {self.port}", timeout=30)
            if self.endpoint.token is None:
                self._initialise()
            else:
                self._unseal()
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        if not self.process.running():
            raise TimeoutError(f"the KMS OpenBao exited:\n{self.process.log_tail()}")
        try:
            return self.endpoint.health_status() in (200, 501, 503)
        except requests.RequestException:
            return False

    def _initialise(self) -> None:
        init = self.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        self.endpoint.token = str(init["root_token"])
        self._unseal_key = str(init["keys"][0])
        self._unseal()
        self.call("POST", f"sys/mounts/{MOUNT}", {"type": "transit"})
        for key in (*self.keys, AUTOUNSEAL_KEY):
            self.create_key(key)
        self.call(
            "PUT", "sys/policies/acl/autounseal", {"policy": _autounseal_policy(AUTOUNSEAL_KEY)}
        )
        self._write_token(self.autounseal_token_file, ["autounseal"])
        for key in self.keys:
            self.grant(key)
        self._write_token(self.tarmak_token_file, [f"tarmak-{key}" for key in self.keys])

    def _unseal(self) -> None:
        assert self._unseal_key is not None
        self.call("PUT", "sys/unseal", {"key": self._unseal_key})
        wait_until(
            lambda: self.endpoint.health_status() == 200, "the KMS to become active", timeout=30
        )

    def _write_token(self, path: Path, policies: list[str]) -> None:
        created = self.call(
            "POST",
            "auth/token/create-orphan",
            {"policies": policies, "period": TOKEN_PERIOD, "no_default_policy": True},
        )
        write_private_file(path, created["auth"]["client_token"].encode())

    def create_key(self, name: str) -> None:
        self.call("POST", f"{MOUNT}/keys/{name}", {"type": "aes256-gcm96"})

    def grant(self, key: str) -> None:
        """Let Tarmak's token use transit key `key` (policy `tarmak-<key>`)."""
        self.call("PUT", f"sys/policies/acl/tarmak-{key}", {"policy": _tarmak_policy(key)})

    def restart(self) -> KmsServer:
        self.stop()
        self.process.start()
        return self.start_wait()

    def stop(self) -> None:
        self.resume()  # a stopped (SIGSTOP) process would ignore SIGTERM until SIGKILL
        self.process.stop()

    def pause(self) -> None:
        """Freeze it (SIGSTOP): every KMS call hangs until `resume` (or its caller's timeout)."""
        if self.process.running():
            os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process.running():
            os.killpg(self.process.pid, signal.SIGCONT)

    # ---- what the KMS holds and saw ------------------------------------------------------

    def key_versions(self, name: str) -> int:
        """The newest version of transit key `name` (1 until it is rotated)."""
        data = self.call("GET", f"{MOUNT}/keys/{name}")["data"]
        return int(data["latest_version"])

    def min_decryption_version(self, name: str) -> int:
        return int(self.call("GET", f"{MOUNT}/keys/{name}")["data"]["min_decryption_version"])

    def decrypt(self, name: str, ciphertext: str) -> bytes:
        """What a transit ciphertext holds (as the KMS's administrator, for tests)."""
        import base64

        data = self.call("PUT", f"{MOUNT}/decrypt/{name}", {"ciphertext": ciphertext})["data"]
        return base64.b64decode(data["plaintext"])

    def audit_size(self) -> int:
        return audit_file.size(self.log_path)

    def audit_entries(self, since: int = 0) -> list[KmsAuditEntry]:
        """Request entries of its audit log from byte offset `since`."""
        found = []
        for raw in audit_file.records(self.log_path, since):
            if raw.get("type") != "request":
                continue
            request = raw.get("request") or {}
            found.append(
                KmsAuditEntry(
                    "request",
                    str(request.get("operation", "")),
                    str(request.get("path", "")),
                    str(request.get("remote_address", "")),
                )
            )
        return found

    # ---- what others are given ---------------------------------------------------------

    def transit_seal(self, key: str = AUTOUNSEAL_KEY) -> TransitSeal:
        """The `seal "transit"` settings for a cluster node auto-unsealed by this KMS."""
        return TransitSeal(
            address=self.address,
            token=self.autounseal_token_file.read_text(),
            key_name=key,
            mount_path=f"{MOUNT}/",
            ca_cert=str(self.ca_cert),
        )

    def key_protection(self) -> dict[str, Any]:
        """env.yaml's vault.key_protection for Tarmak's stored keys (kind transit)."""
        return {
            "kind": "transit",
            "address": self.address,
            "ca_cert": str(self.ca_cert),
            "token_file": str(self.tarmak_token_file),
            "mount": MOUNT,
        }
