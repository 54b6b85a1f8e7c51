"""A fresh server certificate for go-plugin's automatic TLS.

Terraform puts its client certificate in PLUGIN_CLIENT_CERT and trusts the
certificate we print in the handshake line (as unpadded base64 DER). The
certificate is generated per process and never written to disk.

Making it costs about as much as importing grpc (cryptography's import
dominates), so `start_certificate()` forks a helper that makes it while the
plugin itself imports grpc; the two run on separate cores. It must be called
before grpc is imported (forking afterwards is unsafe for grpc).

grpcio cannot *require* Terraform's client certificate: BoringSSL rejects it
during the handshake, so we do not request it. The Unix socket in a private
0700 directory is what keeps other users out.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Certificate:
    key_pem: bytes
    cert_pem: bytes
    der: bytes

    @property
    def handshake_field(self) -> str:
        return base64.b64encode(self.der).decode().rstrip("=")


def generate_certificate() -> Certificate:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    extended = x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(extended, critical=False)
        .sign(key, hashes.SHA256())
    )
    return Certificate(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
    )


class PendingCertificate:
    """A certificate being made by a forked helper process."""

    def __init__(self) -> None:
        self._read, write = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the helper: make it, hand it over, leave at once
            os.close(self._read)
            try:
                made = generate_certificate()
                payload = json.dumps(
                    {k: base64.b64encode(v).decode() for k, v in made.__dict__.items()}
                ).encode()
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
            finally:
                os._exit(0)
        os.close(write)

    def result(self) -> Certificate:
        with os.fdopen(self._read, "rb") as incoming:
            payload = incoming.read()
        os.waitpid(self._pid, 0)
        if not payload:  # the helper failed: make it here instead
            return generate_certificate()
        fields = {k: base64.b64decode(v) for k, v in json.loads(payload).items()}
        return Certificate(**fields)


def start_certificate() -> PendingCertificate:
    return PendingCertificate()
