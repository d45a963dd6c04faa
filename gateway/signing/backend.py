"""The signer backend: one primitive, ``sign_digest``, behind an interface, so that an HSM
(PKCS#11 CKM_ECDSA signs a digest too) can replace the key file.

A :class:`Signer` signs SHA-256 digests with ES256 and carries its certificate chain (publisher
certificate, then the trust anchor that certified it). Every encoding of a signature (compact
JWS, the DID document's detached proof) is made by :mod:`gateway.signing.jws` from that one
primitive. :class:`FileSigner` keeps the key in a PEM file that only its owner may read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from gateway.pki.certs import certificate_der, thumbprint


class Signer(Protocol):
    @property
    def certificate(self) -> x509.Certificate: ...

    @property
    def chain(self) -> tuple[bytes, ...]:
        """DER of the publisher certificate followed by its issuers (the trust anchor)."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """ES256 over a SHA-256 digest: the raw r‖s (64 bytes) that a JWS carries."""
        ...


class SignerKeyError(Exception):
    """The key file is missing, unreadable, readable by others, or not an EC P-256 key."""


def key_id(certificate_der_bytes: bytes) -> str:
    """The ``kid`` of a publisher key in JWS headers and the index: hex SHA-256 of its certificate."""
    return thumbprint(certificate_der_bytes)


@dataclass(frozen=True)
class FileSigner:
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[bytes, ...]

    @classmethod
    def load(cls, key_path: Path, certificate: x509.Certificate, issuers: tuple[bytes, ...]) -> FileSigner:
        key = load_private_key_file(key_path)
        if key.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
            raise SignerKeyError(f"{key_path} does not belong to the publisher certificate")
        return cls(key, certificate, (certificate_der(certificate), *issuers))

    def sign_digest(self, digest: bytes) -> bytes:
        der = self.private_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def load_private_key_file(path: Path) -> ec.EllipticCurvePrivateKey:
    """Load an EC P-256 key, refusing a file that group or others may read or write."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SignerKeyError(f"cannot read signing key {path}: {exc}") from exc
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise SignerKeyError(
            f"signing key {path} is accessible to group or others (mode {stat.S_IMODE(info.st_mode):o})"
        )
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SignerKeyError(f"cannot load signing key {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SignerKeyError("the publisher key must be EC P-256 (ES256)")
    return key
