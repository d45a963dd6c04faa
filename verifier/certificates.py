"""Certificates the verifier pins or checks: reading a trust anchor, and whether an issuer
certificate signed a certificate ("issued by")."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
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
    verifies its signature. Never raises: a signature that does not verify, an issuer key of
    another type (dgc-gateway PR #37) or an algorithm the library refuses gives False.

    The key verifies the signature directly, with the hash and padding the certificate names,
    rather than through ``verify_directly_issued_by``: a DSC signed with SHA-1 is then recognised
    as its CSCA's, and a policy refuses it by name instead of it looking unsigned."""
    try:
        if certificate.issuer != issuer.subject:
            return False
        key = issuer.public_key()
        hash_algorithm = certificate.signature_hash_algorithm
        if isinstance(key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
            key.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
            return True
        parameters = certificate.signature_algorithm_parameters
        if isinstance(key, rsa.RSAPublicKey) and isinstance(parameters, (padding.PKCS1v15, padding.PSS)):
            if hash_algorithm is None:
                return False
            key.verify(certificate.signature, certificate.tbs_certificate_bytes, parameters, hash_algorithm)
            return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return False
