"""Raw Vault requests over an hvac client reached through the bastion, keeping the status code
(hvac raises on most non-2xx answers, and some answers mean "no")."""

from __future__ import annotations

from typing import Any

import hvac
import requests


def http(
    client: hvac.Client,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> requests.Response:
    token = token or client.token
    headers = {"X-Vault-Token": token} if token else {}
    session: requests.Session = client.adapter.session
    return session.request(method, f"{client.url}{path}", json=body, headers=headers, timeout=10)
