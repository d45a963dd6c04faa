"""Signing of published artifacts behind an interface, so that an HSM can replace the key file.

A :class:`Signer` produces compact JWS (RFC 7515) with ES256 and carries its certificate chain
(publisher certificate, then the trust anchor that certified it). The ``x5c`` header (RFC 7515
§4.1.6) carries the publisher certificate only: verifiers pin the trust anchor and must not take
it from a message. :class:`FileSigner` keeps the key in a PEM file that only its owner may read.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from gateway.pki.certs import certificate_der, thumbprint


class Signer(Protocol):
    @property
    def certificate(self) -> x509.Certificate: ...

    @property
    def chain(self) -> tuple[bytes, ...]:
        """DER of the publisher certificate followed by its issuers (the trust anchor)."""
        ...

    def sign_jws(self, payload: bytes, headers: dict[str, Any], *, detached: bool = False) -> str: ...


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

    def sign_jws(self, payload: bytes, headers: dict[str, Any], *, detached: bool = False) -> str:
        full_headers = {
            **headers,
            "kid": key_id(self.chain[0]),
            "x5c": [base64.b64encode(self.chain[0]).decode("ascii")],
        }
        return jwt.api_jws.encode(
            payload, self.private_key, algorithm="ES256", headers=full_headers, is_payload_detached=detached
        )


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


def certificate_from_der(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
