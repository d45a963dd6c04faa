"""Certificates the verifier pins or checks: reading a trust anchor, whether an issuer
certificate signed a certificate ("issued by"), and whether a certificate may sign published
trust data (the publisher usage)."""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

# The extended key usage of a publisher certificate: "signs the trust data a gateway publishes for
# verifiers" (docs/publication-format.md). RFC 5280 §4.2.1.12 names purposes by OID and lets a
# community define its own; no registered purpose means this one, so it is a private OID under
# the UUID arc 2.25 (ITU-T X.667 §8 and RFC 9562 §4: 2.25 followed by the UUID as one integer,
# here c74140ec-2530-43e7-95e9-5032cc57acc4), unique without registration. The gateway's
# certification (gateway.pki.issuance) and its install check import it from here.
PUBLISHER_USAGE_OID = x509.ObjectIdentifier("2.25.264855187240573304050288648354312727748")


def load_anchor(pem_or_der: bytes) -> x509.Certificate:
    """A pinned trust anchor certificate, PEM or DER."""
    if pem_or_der.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_certificate(pem_or_der)
    return x509.load_der_x509_certificate(pem_or_der)


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.PEM)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate, *, tbs: bytes | None = None) -> bool:
    """True when ``certificate`` names ``issuer``'s subject as its issuer and ``issuer``'s key
    verifies its signature. Never raises: a signature that does not verify, an issuer key of
    another type (dgc-gateway PR #37) or an algorithm the library refuses gives False.

    The key verifies the signature directly, with the hash and padding the certificate names,
    rather than through ``verify_directly_issued_by``: a DSC signed with SHA-1 is then recognised
    as its CSCA's, and a policy refuses it by name instead of it looking unsigned.

    ``tbs``: the signed bytes as received, when ``certificate`` is a DER re-encoding of a
    certificate that was not DER (the issuer signed the original bytes, not the re-encoding)."""
    try:
        if certificate.issuer != issuer.subject:
            return False
        key = issuer.public_key()
        hash_algorithm = certificate.signature_hash_algorithm
        signed = certificate.tbs_certificate_bytes if tbs is None else tbs
        if isinstance(key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
            key.verify(certificate.signature, signed, ec.ECDSA(hash_algorithm))
            return True
        parameters = certificate.signature_algorithm_parameters
        if isinstance(key, rsa.RSAPublicKey) and isinstance(parameters, (padding.PKCS1v15, padding.PSS)):
            if hash_algorithm is None:
                return False
            key.verify(certificate.signature, signed, parameters, hash_algorithm)
            return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return False


def publisher_usage_problem(certificate: x509.Certificate) -> str | None:
    """Why ``certificate`` may not sign published trust data, or None when it may.

    A trust anchor may certify keys for other purposes (a TLS server, a test key, another
    service), so being issued by the anchor is not enough: a publisher certificate must say what
    its key is for. Its key usage must allow digitalSignature (RFC 5280 §4.2.1.3: verifying
    signatures other than on certificates and CRLs) and its extended key usage must name
    ``PUBLISHER_USAGE_OID`` (§4.2.1.12: when the extension is present the key may be used only
    for the purposes it names; anyExtendedKeyUsage is not this purpose, and a certificate without
    the extension is refused rather than read as "any purpose")."""
    try:
        extensions = certificate.extensions
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "the publisher certificate has no key usage"
    except (ValueError, x509.DuplicateExtension) as exc:
        return f"the publisher certificate's extensions cannot be read ({exc})"
    if not key_usage.digital_signature:
        return "the publisher certificate's key usage does not allow digitalSignature"
    try:
        purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return f"the publisher certificate has no extended key usage (it must name {PUBLISHER_USAGE_OID.dotted_string})"
    if PUBLISHER_USAGE_OID not in purposes:
        return f"the publisher certificate's extended key usage does not name {PUBLISHER_USAGE_OID.dotted_string}"
    return None
