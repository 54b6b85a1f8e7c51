"""SSH to the bastion with paramiko, and channels through it to hosts behind it.

The bastion's host key must already be known (a known_hosts file): an unknown
or changed key is refused, never accepted automatically.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import paramiko

from connector.tarmak_side.config import path_problem
from connector.tarmak_side.config_schema import PathCheck

log = logging.getLogger(__name__)


class BastionError(Exception):
    """Connecting to or through the bastion failed; the message names host and port."""


class BastionRefused(BastionError):
    """A person must fix something (host key, private key): never retried."""


class HostKeyRefused(BastionRefused):
    """The bastion's host key is unknown or changed: never retried, never accepted."""


def _private_key(path: str) -> paramiko.PKey:
    """The client key, refused with its setting named if it is unusable."""
    problem = path_problem(Path(path), PathCheck.SECRET_FILE)
    if problem:
        raise BastionRefused(f"bastion.key_path: {problem}")
    try:
        return paramiko.PKey.from_path(path)
    except OSError as err:
        raise BastionRefused(f"bastion.key_path: cannot read {path}: {err.strerror}") from None
    except (paramiko.SSHException, ValueError) as err:
        raise BastionRefused(
            f"bastion.key_path: {path} is not a private key ssh can use ({type(err).__name__})"
        ) from None


def fingerprint(key: paramiko.PKey) -> str:
    """The key as OpenSSH shows it: `ssh-ed25519 SHA256:...`."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse an unknown host key at once, saying which key and which file."""

    def __init__(self, known_hosts_path: str) -> None:
        self.known_hosts_path = known_hosts_path

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostKeyRefused(
            f"bastion {hostname} presented the host key {fingerprint(key)}, which is not in "
            f"{self.known_hosts_path}; refusing to connect (add the bastion's key to that "
            "file once you have checked it)"
        )


@dataclass(frozen=True)
class SSHSettings:
    host: str
    port: int
    username: str
    key_path: str
    known_hosts_path: str
    connect_timeout: float = 10.0


class BastionConnection:
    def __init__(self, settings: SSHSettings) -> None:
        self.settings = settings
        self._client = paramiko.SSHClient()

    def connect(self) -> BastionConnection:
        s = self.settings
        client = self._client
        problem = path_problem(Path(s.known_hosts_path), PathCheck.FILE)
        if problem:
            client.close()
            raise HostKeyRefused(f"bastion.known_hosts_path: {problem}")
        try:
            client.load_host_keys(s.known_hosts_path)
        except OSError as err:
            client.close()
            raise HostKeyRefused(
                f"cannot read the known_hosts file {s.known_hosts_path}: {err.strerror}; "
                "refusing to connect to a bastion whose host key is not known"
            ) from None
        key = _private_key(s.key_path)
        try:
            client.set_missing_host_key_policy(_RefuseUnknown(s.known_hosts_path))
            client.connect(
                s.host,
                port=s.port,
                username=s.username,
                pkey=key,
                look_for_keys=False,
                allow_agent=False,
                timeout=s.connect_timeout,
                banner_timeout=s.connect_timeout,
                auth_timeout=s.connect_timeout,
            )
        except HostKeyRefused:
            client.close()
            raise
        except paramiko.BadHostKeyException as err:
            client.close()
            raise HostKeyRefused(
                f"bastion {s.host}:{s.port} presented the host key {fingerprint(err.key)}, "
                f"which does not match the one in {s.known_hosts_path} "
                f"({fingerprint(err.expected_key)}); refusing to connect"
            ) from None
        except paramiko.SSHException as err:
            client.close()
            raise BastionError(
                f"SSH to bastion {s.host}:{s.port} as {s.username} failed: {err}"
            ) from None
        except OSError as err:
            client.close()
            raise BastionError(f"cannot reach bastion {s.host}:{s.port}: {err}") from None
        return self

    @property
    def transport(self) -> paramiko.Transport:
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise BastionError(
                f"SSH connection to {self.settings.host}:{self.settings.port} is closed"
            )
        return transport

    def is_active(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def open_channel(self, host: str, port: int, timeout: float = 10) -> paramiko.Channel:
        """A direct-tcpip channel to host:port as seen from the bastion."""
        try:
            return self.transport.open_channel(
                "direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=timeout
            )
        except (paramiko.SSHException, OSError) as err:
            bastion = f"{self.settings.host}:{self.settings.port}"
            raise BastionError(f"bastion {bastion} cannot reach {host}:{port}: {err}") from None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> BastionConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
