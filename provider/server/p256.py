"""ECDSA over NIST P-256 (secp256r1), just enough to make one self-signed
certificate: a key pair and one signature.

Why not `cryptography`: importing it costs more than importing grpc, and
Terraform starts a provider process several times per run. Here a key and a
signature take a few milliseconds of integer arithmetic.

Scope and limits: the key is a throwaway that lives only in this process
(see tls.py); it signs exactly one certificate, and every TLS handshake is
done by grpc's BoringSSL, not by this code. The arithmetic is not constant
time, which is harmless for a single local signing but makes this module
unfit for anything else. Tests check it against `cryptography`.
"""

from __future__ import annotations

import hashlib
import os

# Curve parameters from SEC 2, section 2.4.2 (y^2 = x^3 - 3x + B over GF(P)).
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # group order
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5

# Points in Jacobian coordinates (X, Y, Z) stand for (X/Z^2, Y/Z^3); Z = 0 is infinity.
Jacobian = tuple[int, int, int]
INFINITY: Jacobian = (0, 1, 0)


def _double(point: Jacobian) -> Jacobian:
    x, y, z = point
    if z == 0 or y == 0:
        return INFINITY
    delta = z * z % P
    gamma = y * y % P
    beta = x * gamma % P
    alpha = 3 * (x - delta) * (x + delta) % P  # uses a = -3
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y + z) ** 2 - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return x3, y3, z3


def _add(p1: Jacobian, p2: Jacobian) -> Jacobian:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    if h == 0:
        return _double(p1) if r == 0 else INFINITY
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    return x3, y3, h * z1 * z2 % P


def _multiply_generator(k: int) -> tuple[int, int]:
    """k·G in affine coordinates (k in [1, N-1], so never infinity)."""
    result, base = INFINITY, (GX, GY, 1)
    for bit in bin(k)[2:]:
        result = _double(result)
        if bit == "1":
            result = _add(result, base)
    x, y, z = result
    z_inv = pow(z, -1, P)
    z_inv2 = z_inv * z_inv % P
    return x * z_inv2 % P, y * z_inv2 * z_inv % P


def _random_scalar() -> int:
    """Uniform in [1, N-1], by rejection sampling from the OS's CSPRNG."""
    while True:
        k = int.from_bytes(os.urandom(32), "big")
        if 1 <= k < N:
            return k


class PrivateKey:
    """A fresh P-256 key pair."""

    def __init__(self) -> None:
        self.secret = _random_scalar()
        self.public_x, self.public_y = _multiply_generator(self.secret)

    @property
    def public_point(self) -> bytes:
        """The uncompressed SEC 1 encoding: 04 || X || Y."""
        return b"\x04" + self.public_x.to_bytes(32, "big") + self.public_y.to_bytes(32, "big")

    def sign_sha256(self, message: bytes) -> tuple[int, int]:
        """ECDSA (FIPS 186-4) over SHA-256 with a random nonce; returns (r, s)."""
        digest = int.from_bytes(hashlib.sha256(message).digest(), "big")
        while True:
            k = _random_scalar()
            r = _multiply_generator(k)[0] % N
            s = pow(k, -1, N) * (digest + r * self.secret) % N
            if r and s:
                return r, s
