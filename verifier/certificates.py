"""Certificates the verifier pins or checks: reading a trust anchor, and whether an issuer
certificate signed a certificate ("issued by")."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding


def load_anchor(pem_or_der: bytes) -> x509.Certificate:
    """A pinned trust anchor certificate, PEM or DER."""
    if pem_or_der.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_certificate(pem_or_der)
    return x509.load_der_x509_certificate(pem_or_der)


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.PEM)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``certificate`` names ``issuer``'s subject as its issuer and ``issuer``'s key
        verifies its signature. A signature that does not verify, or an issuer key of another type
    than the signature's, gives False rather than an exception.

        An EC issuer's key verifies the signature directly, with the hash the certificate names;
        other keys go through ``verify_directly_issued_by``, which knows RSA's paddings."""
    if certificate.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    hash_algorithm = certificate.signature_hash_algorithm
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
            key.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
            return True
        certificate.verify_directly_issued_by(issuer)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
