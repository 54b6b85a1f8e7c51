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


def test_server_certificate_is_unpadded_der_for_localhost() -> None:
    import base64

    from cryptography import x509

    from provider.server.tls import generate_certificate, start_certificate

    for made in (generate_certificate(), start_certificate().result()):  # in-process and forked
        encoded = made.handshake_field
        assert not encoded.endswith("=")
        der = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
        assert der == made.der
        cert = x509.load_der_x509_certificate(der)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["localhost"]
        assert b"PRIVATE KEY" in made.key_pem
