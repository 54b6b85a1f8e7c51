"""A fresh server certificate for go-plugin's automatic TLS.

Terraform puts its client certificate in PLUGIN_CLIENT_CERT and trusts the
certificate we print in the handshake line (as unpadded base64 DER). The
certificate and its P-256 key are made per process and never written to disk.
They are built here from p256.py and der.py rather than with `cryptography`,
whose import alone takes longer than importing grpc (see p256.py).

The certificate matches what go-plugin makes for itself: CN and SAN
`localhost`, a CA that may sign (Terraform trusts it as a root), server and
client auth, valid from 30 s ago for a year.

grpcio cannot *require* Terraform's client certificate: BoringSSL rejects it
during the handshake, so we do not request it. The Unix socket in a private
0700 directory is what keeps other users out.
"""

from __future__ import annotations

import base64
import os
import time

from provider.prebuilt_dataclasses import dataclass
from provider.server import der
from provider.server.p256 import PrivateKey

HOST = "localhost"
VALIDITY_SECONDS = 365 * 24 * 3600

ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
PRIME256V1 = "1.2.840.10045.3.1.7"
COMMON_NAME = "2.5.4.3"
KEY_USAGE = "2.5.29.15"
SUBJECT_ALT_NAME = "2.5.29.17"
BASIC_CONSTRAINTS = "2.5.29.19"
EXTENDED_KEY_USAGE = "2.5.29.37"
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
# digitalSignature, keyEncipherment, keyAgreement, keyCertSign: bits 0, 2, 4, 5.
KEY_USAGE_BITS = (b"\xac", 2)


@dataclass(frozen=True)
class Certificate:
    """The server's key and certificate as PEM for grpc, and the DER for the handshake line."""

    key_pem: bytes
    cert_pem: bytes
    der: bytes

    @property
    def handshake_field(self) -> str:
        return base64.b64encode(self.der).decode().rstrip("=")


def generate_certificate(now: float | None = None) -> Certificate:
    """A fresh key and self-signed certificate; `now` (Unix seconds) fixes the clock for tests."""
    key = PrivateKey()
    now = time.time() if now is None else now
    algorithm = der.sequence(der.oid(ECDSA_WITH_SHA256))
    name = der.sequence(der.set_of(der.sequence(der.oid(COMMON_NAME), der.utf8_string(HOST))))
    tbs = der.sequence(
        der.explicit(0, der.integer(2)),  # version 3
        der.integer(int.from_bytes(os.urandom(16), "big") >> 1 | 1),  # positive, non-zero
        algorithm,
        name,
        der.sequence(_validity_time(now - 30), _validity_time(now + VALIDITY_SECONDS)),
        name,
        _subject_public_key_info(key),
        der.explicit(3, der.sequence(*_extensions())),
    )
    r, s = key.sign_sha256(tbs)
    certificate = der.sequence(
        tbs, algorithm, der.bit_string(der.sequence(der.integer(r), der.integer(s)))
    )
    return Certificate(
        key_pem=_pem("EC PRIVATE KEY", _sec1_private_key(key)),
        cert_pem=_pem("CERTIFICATE", certificate),
        der=certificate,
    )


def _subject_public_key_info(key: PrivateKey) -> bytes:
    return der.sequence(
        der.sequence(der.oid(EC_PUBLIC_KEY), der.oid(PRIME256V1)),
        der.bit_string(key.public_point),
    )


def _extensions() -> list[bytes]:
    def extension(identifier: str, value: bytes, critical: bool = False) -> bytes:
        flag = (der.boolean(True),) if critical else ()
        return der.sequence(der.oid(identifier), *flag, der.octet_string(value))

    return [
        extension(SUBJECT_ALT_NAME, der.sequence(der.implicit_primitive(2, HOST.encode()))),
        extension(BASIC_CONSTRAINTS, der.sequence(der.boolean(True)), critical=True),
        extension(KEY_USAGE, der.bit_string(*KEY_USAGE_BITS), critical=True),
        extension(EXTENDED_KEY_USAGE, der.sequence(der.oid(SERVER_AUTH), der.oid(CLIENT_AUTH))),
    ]


def _sec1_private_key(key: PrivateKey) -> bytes:
    """RFC 5915 ECPrivateKey, the `EC PRIVATE KEY` PEM that BoringSSL reads."""
    return der.sequence(
        der.integer(1),
        der.octet_string(key.secret.to_bytes(32, "big")),
        der.explicit(0, der.oid(PRIME256V1)),
        der.explicit(1, der.bit_string(key.public_point)),
    )


def _validity_time(seconds: float) -> bytes:
    """RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050."""
    moment = time.gmtime(seconds)
    if moment.tm_year < 2050:
        return der.utc_time(time.strftime("%y%m%d%H%M%SZ", moment))
    return der.generalized_time(time.strftime("%Y%m%d%H%M%SZ", moment))


def _pem(label: str, body: bytes) -> bytes:
    encoded = base64.encodebytes(body).decode().replace("\n", "")
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()
