"""Certificate loading and the identifiers the DGCG/TNG wire format uses."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import warnings
from dataclasses import dataclass

from asn1crypto import parser as asn1_parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from gateway.pki.errors import Reason, Rejected
from verifier import usages
from verifier.certificates import issued_by


def load_der_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate; anything else (PEM, trailing bytes, junk) is rejected."""
    try:
        with warnings.catch_warnings():
            # Non-positive serials only warn today; check_serial names them (SERIAL_POLICY).
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            cert = x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise Rejected(Reason.CERTIFICATE_PARSE, f"not a DER X.509 certificate: {exc}") from exc
    # cryptography accepts trailing data in some versions; DGCG stores the exact DER, so
    # we insist that the bytes are one certificate and nothing else.
    if cert.public_bytes(Encoding.DER) != der:
        raise Rejected(Reason.CERTIFICATE_PARSE, "certificate bytes are not exactly one DER certificate")
    return cert


@dataclass(frozen=True)
class ReadCertificate:
    """A certificate as a real CA made it, read as far as its structure allows.

    ``der`` is what was received (its hash is the kid and thumbprint; it is what is stored and
    published). ``tbs`` is the TBSCertificate as received: the bytes its issuer signed.
    ``certificate`` is cryptography's view for reading names, validity and key: of ``der``
    itself, or, when cryptography refuses ``der`` (a BER length, say), of its DER re-encoding by
    asn1crypto. ``encoding_problems`` names every departure from DER (X.690 §10-11) and from
    RFC 5280's encoding rules; the policy refuses them (CERTIFICATE_ENCODING) unless relaxed."""

    der: bytes
    certificate: x509.Certificate
    tbs: bytes
    encoding_problems: tuple[str, ...] = ()

    @functools.cached_property
    def asn1(self) -> asn1_x509.Certificate:
        """asn1crypto's reading of the bytes as received (parsed once, lazily, on first use)."""
        return asn1_x509.Certificate.load(self.der)

    @property
    def serial_number(self) -> int:
        with warnings.catch_warnings():  # a negative serial warns; check_serial names it
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return self.certificate.serial_number

    def key_parameters_are_named(self) -> bool:
        """Whether subjectPublicKeyInfo's AlgorithmIdentifier parameters are absent, NULL or a
        named curve's OID, as received: RFC 5480 §2.1.1 forbids specifiedCurve. cryptography maps
        explicit parameters equal to a named curve to that curve, so the bytes must be read; the
        TLVs are walked with asn1crypto's parser (a full parse costs five times as much)."""
        try:
            fields = _children(self.tbs, limit=7)
            spki = fields[6] if fields[0][0] == 0xA0 else fields[5]  # [0] version is optional (§4.1)
            algorithm = _children(_children(spki, limit=1)[0], limit=2)
        except PARSE_ERRORS:
            return False  # a key whose parameters cannot be read is not a named curve's
        return len(algorithm) < 2 or algorithm[1][0] in (0x05, 0x06)  # NULL or OBJECT IDENTIFIER

    def extensions(self) -> list[tuple[str, bool, object]]:
        """Every extension as (dotted OID, critical, value): cryptography's reading where it
        reads them (fast), asn1crypto's where it refuses the encoding a relaxed policy took."""
        try:
            return [(ext.oid.dotted_string, ext.critical, ext.value) for ext in self.certificate.extensions]
        except _EXTENSION_REFUSALS:
            return read_extensions(self.der)

    def is_ca(self) -> bool:
        """basicConstraints cA, whichever library reads the extension."""
        try:
            constraints = self.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
            return bool(constraints.value.ca)
        except x509.ExtensionNotFound:
            return False
        except _EXTENSION_REFUSALS:
            for oid, _critical, value in read_extensions(self.der):
                if oid == _BASIC_CONSTRAINTS:
                    return bool(value["ca"].native)  # type: ignore[index]
            return False


def read_certificate(der: bytes) -> ReadCertificate:
    """Read a certificate cryptography may refuse, as the verifier does (verifier.trust); truly
    malformed input (not X.509, trailing bytes, a duplicate extension) is CERTIFICATE_PARSE.
    A DER certificate whose extensions cryptography reads costs no second parse."""
    try:
        try:
            certificate = load_der_certificate(der)
            problems: list[str] = []
            tbs = certificate.tbs_certificate_bytes
        except Rejected as strict_refusal:
            certificate, tbs, problems = _reencoded(der, strict_refusal)
        problems.extend(_extension_problems(certificate, der))
    except Rejected:
        raise
    except PARSE_ERRORS as exc:  # hostile input must never escape as another error (a 500)
        raise Rejected(Reason.CERTIFICATE_PARSE, f"not an X.509 certificate: {type(exc).__name__}") from exc
    return ReadCertificate(der=der, certificate=certificate, tbs=tbs, encoding_problems=tuple(problems))


def certificate_view(der: bytes) -> x509.Certificate:
    """cryptography's view of a stored certificate, whatever encoding the policy let through when
    it was taken (read_certificate): for reading names, dates and keys, never for judging it."""
    return read_certificate(der).certificate


_BASIC_CONSTRAINTS = "2.5.29.19"  # RFC 5280 §4.2.1.9


def _children(encoded: bytes, limit: int = 8) -> list[bytes]:
    """The first ``limit`` TLVs inside one constructed TLV, each whole."""
    _class, _method, _tag, header, contents, _trailer = asn1_parser.parse(encoded)
    children: list[bytes] = []
    pointer = 0
    while pointer < len(contents) and len(children) < limit:
        _class, _method, _tag, header, inner, trailer = asn1_parser.parse(contents[pointer:])
        size = len(header) + len(inner) + len(trailer)
        children.append(contents[pointer : pointer + size])
        pointer += size
    return children


# What asn1crypto (lazily, field by field) and cryptography (an extension's value, on first use)
# raise on input they cannot read: the CMS parser (gateway.pki.cms) catches these too.
PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    AttributeError,
    x509.UnsupportedGeneralNameType,
)
# cryptography's refusals of an extension's value, which asn1crypto may still read.
_EXTENSION_REFUSALS = (ValueError, x509.UnsupportedGeneralNameType)


def _reencoded(der: bytes, strict_refusal: Rejected) -> tuple[x509.Certificate, bytes, list[str]]:
    """cryptography's view of a certificate it refuses, from its DER re-encoding, when asn1crypto
    reads it as one certificate with nothing after it; and the TBSCertificate as received."""
    try:
        # The signed bytes are cut out of what was received: asn1crypto's dump() re-encodes some
        # headers (an indefinite length, a long form ending in 0x80), and a signature checked
        # over a re-encoding would vouch for bytes the issuer never signed.
        tbs = _children(der, limit=1)[0]
        canonical = asn1_x509.Certificate.load(der, strict=True).dump(force=True)
    except PARSE_ERRORS as exc:
        raise strict_refusal from exc
    if canonical == der:  # already DER: cryptography refused the content, not its encoding
        raise strict_refusal
    return load_der_certificate(canonical), tbs, [f"not DER-encoded (X.690 §10): {strict_refusal.detail}"]


def _extension_problems(certificate: x509.Certificate, der: bytes) -> list[str]:
    """Extensions cryptography refuses but asn1crypto reads are encoding problems (an encoded
    DEFAULT, a pathLenConstraint without cA); a duplicate or unreadable one is malformed."""
    try:
        _ = certificate.extensions
        return []
    except x509.DuplicateExtension as exc:  # RFC 5280 §4.2: at most one instance of an extension
        raise Rejected(Reason.CERTIFICATE_PARSE, f"malformed extensions: {exc}") from exc
    except _EXTENSION_REFUSALS as exc:
        refusal = str(exc)
    read_extensions(der)  # every value readable, else CERTIFICATE_PARSE
    return [f"extensions break DER or RFC 5280: {refusal}"]


def read_extensions(der: bytes) -> list[tuple[str, bool, object]]:
    """Every extension as (dotted OID, critical, value), read with asn1crypto: it also reads the
    encodings cryptography refuses, which a relaxed policy lets through (read_certificate)."""
    try:
        extensions = asn1_x509.Certificate.load(der)["tbs_certificate"]["extensions"]
        found = [
            (extension["extn_id"].dotted, bool(extension["critical"].native), extension["extn_value"].parsed)
            for extension in extensions
        ]
        for _oid, _critical, value in found:
            _ = value.native  # asn1crypto parses lazily: reading every value is the check
        return found
    except PARSE_ERRORS as exc:
        raise Rejected(Reason.CERTIFICATE_PARSE, f"malformed extensions: {exc}") from exc


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
    try:
        return [str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)]
    except ValueError as exc:  # a malformed Name is parsed lazily
        raise Rejected(Reason.CERTIFICATE_PARSE, f"malformed subject: {exc}") from exc


def single_country(cert: x509.Certificate) -> str:
    countries = subject_countries(cert)
    if not countries:
        raise Rejected(Reason.COUNTRY_MISSING, "Uploaded certificate contains no country property.")
    if len(countries) > 1:
        raise Rejected(Reason.COUNTRY_MULTIPLE, "Uploaded certificate contains more than one country property.")
    return countries[0]


@dataclass(frozen=True)
class NameParts:
    """The parts of a name a person recognises a certificate by (the first of each)."""

    common_name: str = ""
    organization: str = ""
    country: str = ""

    def __str__(self) -> str:
        return ", ".join(part for part in (self.common_name, self.organization, self.country) if part)


@dataclass(frozen=True)
class Summary:
    """What a person reads to tell one certificate from another: names, serial and validity."""

    subject: NameParts
    issuer: NameParts
    serial: str  # upper-case hex, as OpenSSL and most CA tools print it
    not_before: dt.datetime
    not_after: dt.datetime


_SHOWN_NAME_OIDS = (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.COUNTRY_NAME)


def name_parts(name: x509.Name) -> NameParts:
    """CN, O and C of ``name`` for display only: trust decisions read the RDNs (subject_countries)."""
    try:
        found = {oid: [str(a.value) for a in name.get_attributes_for_oid(oid)] for oid in _SHOWN_NAME_OIDS}
    except ValueError:  # a malformed Name is parsed lazily; show nothing rather than fail a page
        return NameParts()
    return NameParts(*(values[0] if values else "" for values in found.values()))


def summary(der: bytes) -> Summary:
    """Summarise a stored certificate (parsed again: the stored DER is the one source of truth)."""
    cert = certificate_view(der)
    return Summary(
        subject=name_parts(cert.subject),
        issuer=name_parts(cert.issuer),
        serial=f"{cert.serial_number:X}" if cert.serial_number >= 0 else f"-{-cert.serial_number:X}",
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def is_self_signed(cert: x509.Certificate) -> bool:
    return issued_by(cert, cert)


def dcc_usages(cert: x509.Certificate) -> tuple[str, ...]:
    """The DCC types a DSC may sign, in a trust-list entry's order, by the verifier's intersection
    rule (verifier.usages): the gateway stores what every verifier will read from the EKU."""
    try:
        oids = [oid.dotted_string for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    except x509.ExtensionNotFound:
        return tuple(usages.ordered(usages.usages_from_oids(None)))
    except ValueError:
        oids = _eku_with_asn1crypto(cert)
    return tuple(usages.ordered(usages.usages_from_oids(oids)))


def _eku_with_asn1crypto(cert: x509.Certificate) -> list[str]:
    """Fallback for EKU encodings cryptography refuses (e.g. an empty SEQUENCE)."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    try:
        value = parsed.extended_key_usage_value
    except ValueError:
        return []
    return [] if value is None else [purpose.dotted for purpose in value]


def public_jwk(cert: x509.Certificate) -> dict[str, str]:
    """RFC 7517/7518 JWK of the certificate's public key: unpadded base64url, EC coordinates at
    the curve's full length (TNG pads them and may prepend a zero byte; we follow the RFC)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        numbers = key.public_numbers()
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(key.curve.name, key.curve.name)
        return {
            "kty": "EC",
            "crv": curve,
            "x": _b64url(numbers.x.to_bytes(size, "big")),
            "y": _b64url(numbers.y.to_bytes(size, "big")),
        }
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _b64url(_unsigned(numbers.n)), "e": _b64url(_unsigned(numbers.e))}
    return {}


def _unsigned(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
