"""One Vault node's HTTP API, with every requests error translated here.

hvac raises on most non-2xx answers although some of them mean "no" or "not
yet"; these calls keep the status instead and turn transport errors into
`NotReady` (try again) or `OperationFailed` (TLS names the wrong CA).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.nodes import Node

TIMEOUT = 10
# sys/init: its answer is the only copy of the keys (connector/tarmak_side/vault/converge.py).
INIT_TIMEOUT = 120


@dataclass(frozen=True)
class Answer:
    node: Node
    status: int
    # Left out of repr: an answer may carry unseal keys, a root token or a
    # decrypted share (sys/init, generate-root, rekey, transit decrypt).
    body: dict[str, Any] = field(repr=False)
    text: str = field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def require(self, what: str) -> Answer:
        """This answer if it succeeded; a client error is final, anything else retried."""
        if self.ok:
            return self
        message = f"Vault {self.node} refused {what}: HTTP {self.status} {self.errors()}"
        # A KV mount just enabled answers 400 while it upgrades itself to version 2.
        if self.status in (400, 403, 404, 405) and "resume service shortly" not in message:
            raise OperationFailed(message)
        raise NotReady(message)

    @property
    def data(self) -> dict[str, Any]:
        """What the answer holds: authenticated sys endpoints wrap it in `data`."""
        data = self.body.get("data")
        return data if isinstance(data, dict) else self.body

    def errors(self) -> str:
        found = self.body.get("errors")
        return "; ".join(map(str, found)) if isinstance(found, list) else self.text[:300]


@dataclass(frozen=True)
class VaultApi:
    node: Node
    url: str  # where the node is reached (a tunnel's local end)
    session: requests.Session = field(repr=False)
    token: str | None = field(default=None, repr=False)
    close: Callable[[], None] = field(default=lambda: None, repr=False)

    def with_token(self, token: str | None) -> VaultApi:
        return replace(self, token=token)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        timeout: float = TIMEOUT,
    ) -> Answer:
        token = token or self.token
        headers = {"X-Vault-Token": token} if token else {}
        try:
            response = self.session.request(
                method, f"{self.url}/v1/{path}", json=body, headers=headers, timeout=timeout
            )
        except requests.exceptions.SSLError:
            raise OperationFailed(
                f"Vault {self.node}: TLS verification failed (is vault_ca the CA that "
                f"signed {self.node.host}?)"
            ) from None
        except requests.RequestException as err:
            raise NotReady(f"Vault {self.node}: not answering ({type(err).__name__})") from None
        try:
            decoded = response.json() if response.content else {}
        except ValueError:
            decoded = {}
        return Answer(
            self.node,
            response.status_code,
            decoded if isinstance(decoded, dict) else {},
            response.text,
        )
