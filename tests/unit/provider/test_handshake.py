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


@pytest.mark.parametrize("restrict", ["7", "5,7", "five", ",", "4"])
def test_a_restriction_to_versions_we_do_not_speak_is_refused(restrict: str) -> None:
    with pytest.raises(handshake.HandshakeError, match="speaks \\(5 and 6\\)"):
        handshake.offered_protocols({handshake.RESTRICT_ENV: restrict})


def test_debug_mode_ignores_the_client_list_but_keeps_the_restriction() -> None:
    env = {"PLUGIN_PROTOCOL_VERSIONS": "6", handshake.RESTRICT_ENV: "5"}
    assert handshake.negotiate(env, debug=True) == 5
    assert handshake.negotiate({handshake.RESTRICT_ENV: " 6 , 5 "}, debug=True) == 6


def test_socket_is_short_and_private(tmp_path: os.PathLike[str]) -> None:
    place = handshake.private_socket({"PLUGIN_UNIX_SOCKET_DIR": str(tmp_path)})
    assert stat.S_IMODE(os.stat(place.directory).st_mode) == 0o700
    assert os.path.dirname(place.path) == place.directory
    default = handshake.private_socket({})
    assert len(default.path) < 100
    default.remove()
    assert not os.path.exists(default.directory)


def test_each_socket_gets_a_new_directory_removed_with_it(tmp_path: os.PathLike[str]) -> None:
    env = {"PLUGIN_UNIX_SOCKET_DIR": str(tmp_path)}
    places = [handshake.private_socket(env) for _ in range(20)]
    assert len({place.directory for place in places}) == 20
    for place in places:
        with open(place.path, "w"):  # stands in for the bound socket
            pass
        place.remove()
    assert os.listdir(tmp_path) == []


def test_handshake_line() -> None:
    assert (
        handshake.handshake_line(6, "/tmp/x/p.sock", "CERT") == "1|6|unix|/tmp/x/p.sock|grpc|CERT\n"
    )
