"""Certificate loading and the identifiers the DGCG/TNG wire format uses."""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from gateway.pki.errors import Reason, Rejected


def load_der_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate; anything else (PEM, trailing bytes, junk) is rejected."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise Rejected(Reason.CERTIFICATE_PARSE, f"not a DER X.509 certificate: {exc}") from exc
    # cryptography accepts trailing data in some versions; DGCG stores the exact DER, so
    # we insist that the bytes are one certificate and nothing else.
    if cert.public_bytes(Encoding.DER) != der:
        raise Rejected(Reason.CERTIFICATE_PARSE, "certificate bytes are not exactly one DER certificate")
    return cert


def load_pem_certificate(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise Rejected(Reason.CERTIFICATE_PARSE, f"not a PEM X.509 certificate: {exc}") from exc


def certificate_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def thumbprint(der: bytes) -> str:
    """Lower-case hex SHA-256 of the DER, always 64 characters (dgc-lib #53)."""
    return hashlib.sha256(der).hexdigest()


def kid(der: bytes) -> str:
    """base64(SHA-256(DER)[0:8]), standard alphabet with padding: the DCC key identifier."""
    return base64.b64encode(hashlib.sha256(der).digest()[:8]).decode("ascii")


def kid_prefix(thumbprint_hex: str) -> str:
    """DGCG detects kid collisions on the first 16 hex characters of the thumbprint."""
    return thumbprint_hex[:16]


def subject_countries(cert: x509.Certificate) -> list[str]:
    """Every ``C`` attribute of the subject, parsed from the RDNs (never from a DN string,
    so ``CN=x\\,C=FR`` does not count as a country)."""
    return [str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)]


def single_country(cert: x509.Certificate) -> str:
    countries = subject_countries(cert)
    if not countries:
        raise Rejected(Reason.COUNTRY_MISSING, "Uploaded certificate contains no country property.")
    if len(countries) > 1:
        raise Rejected(Reason.COUNTRY_MULTIPLE, "Uploaded certificate contains more than one country property.")
    return countries[0]


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s key verifies ``cert``'s signature and the names chain.

    Never raises: a CSCA with a different key type must not break the loop (dgc-gateway PR #37).
    """
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True
