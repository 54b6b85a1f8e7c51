"""How the Tarmak side reaches a node: over SSH channels through the bastion
(`BastionLinks`: no local port that another user could reach), or straight to
it (`DirectLinks`, for a node this machine reaches itself). Either way only the
cluster's CA is trusted, and the node's certificate is checked for the node's
own name."""

from __future__ import annotations

from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from connector.tarmak_side.config import EnvironmentConfig
from connector.tarmak_side.ssh import BastionError
from connector.tarmak_side.ssh_http import session_through
from connector.tarmak_side.vault.api import VaultApi
from connector.tarmak_side.vault.errors import NotReady, OperationFailed
from connector.tarmak_side.vault.nodes import Node
from connector.tarmak_side.wing import BastionChecker


class Links(Protocol):
    def open(self, node: Node, ca_file: str) -> VaultApi: ...


class _VerifyAs(HTTPAdapter):
    """Verify the node's certificate for its own name while connecting elsewhere."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_hostname"] = self._hostname
        kwargs["server_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def _session(node: Node, ca_file: str) -> requests.Session:
    session = requests.Session()
    session.mount("https://", _VerifyAs(node.host))
    session.verify = ca_file
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    return session


class BastionLinks:
    def __init__(self, config: EnvironmentConfig, bastion: BastionChecker) -> None:
        self.config = config
        self.bastion = bastion

    def open(self, node: Node, ca_file: str) -> VaultApi:
        settings = self.config.bastion
        if not settings.host or not settings.username:
            raise OperationFailed(f"set bastion.host and bastion.username in {self.config.source}")
        try:
            connection = self.bastion.connection(settings.host, settings.username)
        except BastionError as err:
            raise OperationFailed(str(err)) from None
        except OSError as err:
            raise NotReady(f"bastion {settings.host}: {err}") from None
        session, url = session_through(connection, node.host, node.port, ca_file)
        return VaultApi(node, url, session, close=session.close)


class DirectLinks:
    def open(self, node: Node, ca_file: str) -> VaultApi:
        session = _session(node, ca_file)
        return VaultApi(node, f"https://{node}", session, close=session.close)
