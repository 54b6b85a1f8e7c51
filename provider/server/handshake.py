"""go-plugin's handshake: the magic cookie, protocol negotiation, the socket
and the line Terraform reads from our stdout."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from provider.prebuilt_dataclasses import dataclass

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
CORE_PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = (5, 6)
# Restricts what we offer, so tests can pin a protocol version.
RESTRICT_ENV = "TARMAK_PROVIDER_PROTOCOLS"

NOT_A_PROGRAM = (
    "This binary is a plugin. These are not meant to be executed directly.\n"
    "It is the Terraform provider for Tarmak: Terraform runs it when a configuration\n"
    'uses source = "jetstack/tarmak". See the README for how to install it.\n'
)


class HandshakeError(Exception):
    pass


def cookie_present(env: Mapping[str, str]) -> bool:
    return env.get(MAGIC_COOKIE_KEY) == MAGIC_COOKIE_VALUE


def offered_protocols(env: Mapping[str, str]) -> tuple[int, ...]:
    """The versions we offer: all we speak, or those TARMAK_PROVIDER_PROTOCOLS names.

    A value naming a version we do not speak, or no version at all, is refused
    rather than ignored: a pinned test must never silently run another protocol."""
    restrict = env.get(RESTRICT_ENV, "").strip()
    if not restrict:
        return SUPPORTED_PROTOCOLS
    supported = " and ".join(map(str, SUPPORTED_PROTOCOLS))
    wanted = set()
    for item in restrict.split(","):
        item = item.strip()
        if not item.isdecimal() or int(item) not in SUPPORTED_PROTOCOLS:
            raise HandshakeError(
                f"{RESTRICT_ENV}={restrict!r}: {item!r} is not a plugin protocol this "
                f"provider speaks ({supported}). Set it to a comma-separated list of "
                f"those, or unset it."
            )
        wanted.add(int(item))
    return tuple(v for v in SUPPORTED_PROTOCOLS if v in wanted)


def negotiate(env: Mapping[str, str], *, debug: bool = False) -> int:
    """The highest version both sides speak. The client's list has no order.

    With --debug no Terraform is there to offer versions: we take the highest
    we offer (still restricted by TARMAK_PROVIDER_PROTOCOLS)."""
    offered = offered_protocols(env)
    client = "" if debug else env.get("PLUGIN_PROTOCOL_VERSIONS", "").strip()
    if not client:
        return max(offered)
    wanted = {int(v) for v in client.split(",") if v.strip().isdecimal()}
    common = wanted.intersection(offered)
    if not common:
        raise HandshakeError(
            f"Terraform speaks plugin protocol {client}; this provider offers "
            f"{', '.join(map(str, offered))}. Use a Terraform release that supports one of them."
        )
    return max(common)


@dataclass(frozen=True)
class SocketPlace:
    """A socket path inside a directory of its own, which only we may enter."""

    directory: str
    path: str

    def remove(self) -> None:
        for remove, target in ((os.remove, self.path), (os.rmdir, self.directory)):
            with contextlib.suppress(FileNotFoundError):
                remove(target)


def private_socket(env: Mapping[str, str]) -> SocketPlace:
    """A short socket path inside a fresh 0700 directory (Unix paths max ~104 bytes).

    Made by hand rather than with tempfile, whose imports cost a plugin's startup."""
    base = env.get("PLUGIN_UNIX_SOCKET_DIR") or "/tmp"
    for _ in range(100):  # 48 random bits: a clash is all but impossible
        directory = os.path.join(base, f"tfp-{os.urandom(6).hex()}")
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
        return SocketPlace(directory, os.path.join(directory, "p.sock"))
    raise FileExistsError(f"could not make a fresh socket directory in {base}")


def handshake_line(protocol: int, socket_path: str, server_cert: str = "") -> str:
    return f"{CORE_PROTOCOL_VERSION}|{protocol}|unix|{socket_path}|grpc|{server_cert}\n"
