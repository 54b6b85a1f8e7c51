"""go-plugin handshake: cookie, negotiation, socket place and the line itself."""

from __future__ import annotations

import os
import stat

import pytest

from provider.server import handshake


def test_cookie() -> None:
    assert handshake.cookie_present({handshake.MAGIC_COOKIE_KEY: handshake.MAGIC_COOKIE_VALUE})
    assert not handshake.cookie_present({})
    assert not handshake.cookie_present({handshake.MAGIC_COOKIE_KEY: "nope"})


@pytest.mark.parametrize(
    ("client", "restrict", "expected"),
    [("5,6", "", 6), ("6,5", "", 6), ("5", "", 5), ("4,5", "", 5), ("5,6", "5", 5), ("", "", 6)],
)
def test_negotiate_picks_the_highest_common_version(
    client: str, restrict: str, expected: int
) -> None:
    env = {"PLUGIN_PROTOCOL_VERSIONS": client, handshake.RESTRICT_ENV: restrict}
    assert handshake.negotiate(env) == expected


def test_negotiate_without_common_version_explains() -> None:
    with pytest.raises(handshake.HandshakeError, match="speaks plugin protocol 4"):
        handshake.negotiate({"PLUGIN_PROTOCOL_VERSIONS": "4"})


def test_socket_is_short_and_private(tmp_path: os.PathLike[str]) -> None:
    place = handshake.private_socket({"PLUGIN_UNIX_SOCKET_DIR": str(tmp_path)})
    assert stat.S_IMODE(os.stat(place.directory).st_mode) == 0o700
    assert os.path.dirname(place.path) == place.directory
    assert len(handshake.private_socket({}).path) < 100


def test_handshake_line() -> None:
    assert (
        handshake.handshake_line(6, "/tmp/x/p.sock", "CERT") == "1|6|unix|/tmp/x/p.sock|grpc|CERT\n"
    )
