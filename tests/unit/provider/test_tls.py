"""The AutoMTLS server certificate, its P-256 key and the DER under it,
checked against `cryptography` and against grpc's own TLS stack."""

from __future__ import annotations

import base64
import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provider._generated import grpc_health_pb2, grpc_health_pb2_grpc
from provider.server import der, p256
from provider.server.plugin_services import Health
from provider.server.tls import _validity_time, generate_certificate


def test_public_key_is_the_curve_point_of_the_secret() -> None:
    for _ in range(5):
        key = p256.PrivateKey()
        theirs = ec.derive_private_key(key.secret, ec.SECP256R1()).public_key()
        point = theirs.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        assert key.public_point == point


@pytest.mark.parametrize("message", [b"", b"x", b"tbs" * 1000])
def test_signatures_verify_with_cryptography(message: bytes) -> None:
    key = p256.PrivateKey()
    public = ec.EllipticCurvePublicNumbers(key.public_x, key.public_y, ec.SECP256R1())
    r, s = key.sign_sha256(message)
    public.public_key().verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.public_key().verify(
            encode_dss_signature(r, s), message + b"!", ec.ECDSA(hashes.SHA256())
        )


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "020100"), (127, "02017f"), (128, "02020080"), (256, "02020100"), (65535, "020300ffff")],
)
def test_der_integers_are_minimal_and_positive(value: int, encoded: str) -> None:
    assert der.integer(value).hex() == encoded


def test_der_object_identifiers_and_long_lengths() -> None:
    assert der.oid("1.2.840.10045.4.3.2").hex() == "06082a8648ce3d040302"
    assert der.oid("2.5.29.17").hex() == "0603551d11"
    long = der.octet_string(b"a" * 300)
    assert long[:4].hex() == "0482012c" and len(long) == 304


def test_certificate_is_what_go_plugin_expects() -> None:
    made = generate_certificate()
    cert = x509.load_der_x509_certificate(made.der)  # strict DER parser
    assert cert.public_bytes(serialization.Encoding.DER) == made.der
    assert x509.load_pem_x509_certificate(made.cert_pem) == cert
    assert cert.version is x509.Version.v3
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    extensions = cert.extensions
    san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_cert_sign
    assert list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert cert.serial_number > 0

    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    key = serialization.load_pem_private_key(made.key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == public.public_numbers()


@pytest.mark.parametrize("year", [2026, 2049, 2050, 2100])
def test_validity_is_encoded_as_rfc_5280_asks_in_every_year(year: int) -> None:
    start = datetime.datetime(year, 6, 1, tzinfo=datetime.UTC)
    cert = x509.load_der_x509_certificate(generate_certificate(start.timestamp()).der)
    assert cert.not_valid_before_utc == start - datetime.timedelta(seconds=30)
    assert cert.not_valid_after_utc == start + datetime.timedelta(days=365)
    for moment in (start, start + datetime.timedelta(days=365)):
        tag = _validity_time(moment.timestamp())[0]
        assert tag == (0x17 if moment.year < 2050 else 0x18)  # UTCTime, GeneralizedTime


def test_handshake_field_is_unpadded_base64_der() -> None:
    made = generate_certificate()
    field = made.handshake_field
    assert not field.endswith("=")
    assert base64.b64decode(field + "=" * (-len(field) % 4)) == made.der


def test_every_certificate_and_key_is_fresh() -> None:
    first, second = generate_certificate(), generate_certificate()
    assert first.der != second.der and first.key_pem != second.key_pem


def test_grpc_serves_tls_with_it_to_a_client_trusting_only_it(tmp_path: Path) -> None:
    made = generate_certificate()
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    grpc_health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    credentials = grpc.ssl_server_credentials([(made.key_pem, made.cert_pem)])
    address = f"unix:{tmp_path}/p.sock"
    server.add_secure_port(address, credentials)
    server.start()
    try:
        trust = grpc.ssl_channel_credentials(root_certificates=made.cert_pem)
        options = [("grpc.ssl_target_name_override", "localhost")]
        with grpc.secure_channel(address, trust, options) as channel:
            stub = grpc_health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(grpc_health_pb2.HealthCheckRequest(service="plugin"), timeout=10)
            assert reply.status == grpc_health_pb2.HealthCheckResponse.SERVING
        stranger = grpc.ssl_channel_credentials(root_certificates=generate_certificate().cert_pem)
        with (
            grpc.secure_channel(address, stranger, options) as channel,
            pytest.raises(grpc.RpcError),
        ):
            grpc_health_pb2_grpc.HealthStub(channel).Check(
                grpc_health_pb2.HealthCheckRequest(service="plugin"), timeout=5
            )
    finally:
        server.stop(None)
