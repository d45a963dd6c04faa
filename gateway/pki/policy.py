"""Certificate policy checks that DGCG and TNG lack (their governance text only asks for them).

Each check is a named field of :class:`DscPolicy` so that an operator can relax it, and each
failure is a named :class:`~gateway.pki.errors.Reason`. Time is passed in (``at``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from gateway.pki.certs import ReadCertificate
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import Finding, Findings

# RFC 5280 §4.2: "A certificate-using system MUST reject the certificate if it encounters a
# critical extension it does not recognize". These are the ones we (and verifiers) understand.
KNOWN_CRITICAL_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
    }
)

_KNOWN_CRITICAL_DOTTED = frozenset(oid.dotted_string for oid in KNOWN_CRITICAL_EXTENSIONS)

ALLOWED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})

# SHA-2 only: SHA-1 and MD5 certificate signatures are forgeable (RFC 6194, RFC 6151).
ALLOWED_SIGNATURE_ALGORITHMS = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.RSASSA_PSS,
    }
)

# RFC 5280 §4.1.2.2: serial numbers are positive and at most 20 octets.
MAX_SERIAL_OCTETS = 20


@dataclass(frozen=True)
class DscPolicy:
    """Switches for the DSC policy; every one defaults to the strict setting. A switch that is
    off relaxes its check: the check still runs and what it lets through becomes a finding."""

    require_der: bool = True
    check_serial: bool = True
    reject_unknown_critical_extensions: bool = True
    check_validity: bool = True
    reject_not_yet_valid: bool = True
    check_key: bool = True
    min_rsa_bits: int = 2048
    check_signature_algorithm: bool = True
    allow_sha1_signatures: bool = False
    reject_ca_dsc: bool = True
    allow_self_signed_csca_as_dsc: bool = False
    require_valid_csca: bool = True


@dataclass(frozen=True)
class CmsPolicy:
    """Switches for the CMS messages countries sign (uploads, revocations, rules, references)
    and peers serve; off relaxes a check into a finding, as for :class:`DscPolicy`."""

    allow_sha1_digest: bool = False  # CMS_DIGEST_SHA1
    require_signed_attributes: bool = True  # CMS_NO_SIGNED_ATTRIBUTES
    require_der: bool = True  # the embedded signer certificate: CERTIFICATE_ENCODING

    def refuses(self, finding: Finding) -> bool:
        """Whether this policy would refuse what ``finding`` records (a CMS stored under another
        policy: it is verified with every check relaxed, then judged by this one)."""
        return {
            Reason.CMS_DIGEST_SHA1: not self.allow_sha1_digest,
            Reason.CMS_NO_SIGNED_ATTRIBUTES: self.require_signed_attributes,
            Reason.CERTIFICATE_ENCODING: self.require_der,
        }.get(finding.reason, True)


@dataclass(frozen=True)
class Profile:
    """A named set of defaults for every switch (GATEWAY_POLICY_PROFILE); each individual
    setting still overrides its profile's value."""

    dsc: DscPolicy
    cms: CmsPolicy


# ``dgcg`` takes what the EU gateway accepted from real national backends (docs/policy.md):
# SHA-1 certificate signatures and CMS digests, negative or long serials, CA-flagged and
# not-yet-valid DSCs, DER violations and SignerInfos without signed attributes.
PROFILES: dict[str, Profile] = {
    "strict": Profile(dsc=DscPolicy(), cms=CmsPolicy()),
    "dgcg": Profile(
        dsc=DscPolicy(
            require_der=False,
            check_serial=False,
            reject_not_yet_valid=False,
            allow_sha1_signatures=True,
            reject_ca_dsc=False,
        ),
        cms=CmsPolicy(allow_sha1_digest=True, require_signed_attributes=False, require_der=False),
    ),
}


# A stored CMS is verified again with every check relaxed (its signature still must hold), so
# that tightening the policy never makes a stored upload unreadable: a country must still be
# able to revoke that DSC; its findings are judged by the policy as configured apart (refuses).
CMS_FINDINGS_ONLY = CmsPolicy(allow_sha1_digest=True, require_signed_attributes=False, require_der=False)

# Every check relaxed: what this gateway's policy would say of a DSC another gateway accepted
# under its own rules (a federated import), recorded as findings and never a refusal.
FINDINGS_ONLY = DscPolicy(
    require_der=False,
    check_serial=False,
    reject_unknown_critical_extensions=False,
    check_validity=False,
    reject_not_yet_valid=False,
    check_key=False,
    check_signature_algorithm=False,
    allow_sha1_signatures=True,
    reject_ca_dsc=False,
    allow_self_signed_csca_as_dsc=True,
    require_valid_csca=False,
)


def check_dsc(
    read: ReadCertificate, *, at: dt.datetime, policy: DscPolicy, is_onboarded_csca: bool = False
) -> tuple[Finding, ...]:
    """Run the DSC policy in a fixed order: the first enforced check that fails wins; a relaxed
    check that fails adds a finding and the next check runs."""
    cert = read.certificate
    findings = Findings()
    check_encoding(read, findings, require_der=policy.require_der)
    _judge(findings, policy.check_serial, check_serial, read)
    _judge(findings, policy.reject_unknown_critical_extensions, check_critical_extensions, read)
    try:
        check_validity(cert, at=at)
    except Rejected as exc:
        # The not-yet-valid switch counts only while the validity check is on (docs/policy.md).
        relaxed_early = exc.reason == Reason.NOT_YET_VALID and not policy.reject_not_yet_valid
        findings.fail(exc.reason, exc.detail, enforced=policy.check_validity and not relaxed_early)
    _judge(findings, policy.check_key, check_key, read, min_rsa_bits=policy.min_rsa_bits)
    try:
        check_signature_algorithm(cert)
    except Rejected as exc:
        relaxed_sha1 = policy.allow_sha1_signatures and _is_sha1_signature(cert)
        findings.fail(exc.reason, exc.detail, enforced=policy.check_signature_algorithm and not relaxed_sha1)
    self_signed_csca = is_onboarded_csca and cert.issuer == cert.subject
    if self_signed_csca:
        findings.fail(
            Reason.SELF_SIGNED,
            "a self-signed CSCA uploaded as its own DSC",
            enforced=not policy.allow_self_signed_csca_as_dsc,
        )
    elif read.is_ca():
        detail = "a DSC must not be a CA (basicConstraints cA=TRUE)"
        findings.fail(Reason.DSC_IS_CA, detail, enforced=policy.reject_ca_dsc)
    return findings.as_tuple()


def check_encoding(read: ReadCertificate, findings: Findings, *, require_der: bool, whose: str = "") -> None:
    """The encoding switch (CERTIFICATE_ENCODING), for every certificate the gateway takes: a DSC,
    a CMS's signer, an onboarded certificate, a peer's DSC."""
    for problem in read.encoding_problems:
        findings.fail(Reason.CERTIFICATE_ENCODING, f"{whose}{problem}", enforced=require_der)


def _judge(findings: Findings, enforced: bool, check: Callable[..., None], *args: object, **kwargs: object) -> None:
    try:
        check(*args, **kwargs)
    except Rejected as exc:
        findings.fail(exc.reason, exc.detail, enforced=enforced)


def check_serial(read: ReadCertificate) -> None:
    serial = read.serial_number
    octets = (serial.bit_length() + 8) // 8  # DER INTEGER content length, sign bit included
    if serial <= 0 or octets > MAX_SERIAL_OCTETS:
        raise Rejected(Reason.SERIAL_POLICY, "serial number must be positive and at most 20 octets (RFC 5280 4.1.2.2)")


def check_critical_extensions(read: ReadCertificate) -> None:
    for oid, critical, _value in read.extensions():
        if critical and oid not in _KNOWN_CRITICAL_DOTTED:
            raise Rejected(Reason.UNKNOWN_CRITICAL_EXTENSION, f"unknown critical extension {oid} (RFC 5280 4.2)")


def check_validity(cert: x509.Certificate, *, at: dt.datetime) -> None:
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not_before >= not_after:
        raise Rejected(Reason.VALIDITY_ORDER, "notBefore must be before notAfter")
    if at > not_after:
        raise Rejected(Reason.EXPIRED, f"certificate expired at {not_after.isoformat()}")
    if at < not_before:
        raise Rejected(Reason.NOT_YET_VALID, f"certificate is not valid before {not_before.isoformat()}")


def check_key(read: ReadCertificate, *, min_rsa_bits: int) -> None:
    """EC on P-256/P-384/P-521 (named curves only) or RSA of at least ``min_rsa_bits`` with e >= 65537."""
    try:
        key = read.certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:  # explicit curve parameters, unknown algorithms
        raise Rejected(Reason.KEY_POLICY, f"key policy: unsupported public key ({exc})") from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        # cryptography maps explicit parameters that equal a named curve to that curve; the
        # policy wants the namedCurve form (RFC 5480 §2.1.1: specifiedCurve MUST NOT be used).
        if not read.key_parameters_are_named():
            raise Rejected(Reason.KEY_POLICY, "key policy: EC keys must use a named curve, not explicit parameters")
        if key.curve.name not in ALLOWED_CURVES:
            raise Rejected(Reason.KEY_POLICY, f"key policy: curve {key.curve.name} is not allowed")
        return
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        if key.key_size < min_rsa_bits:
            raise Rejected(Reason.KEY_POLICY, f"key policy: RSA key of {key.key_size} bits < {min_rsa_bits}")
        # NIST SP 800-89 §5.3.3: e is odd and at least 65537.
        if numbers.e < 65537 or numbers.e % 2 == 0:
            raise Rejected(Reason.KEY_POLICY, f"key policy: RSA public exponent {numbers.e} is not allowed")
        return
    raise Rejected(Reason.KEY_POLICY, f"key policy: {type(key).__name__} keys are not allowed")


def check_signature_algorithm(cert: x509.Certificate) -> None:
    if cert.signature_algorithm_oid not in ALLOWED_SIGNATURE_ALGORITHMS:
        raise Rejected(
            Reason.SIGNATURE_ALGORITHM,
            f"signature algorithm {cert.signature_algorithm_oid.dotted_string} is not allowed (SHA-2 only)",
        )
    try:
        hash_algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        raise Rejected(Reason.SIGNATURE_ALGORITHM, "unsupported signature hash") from exc
    if isinstance(hash_algorithm, (hashes.SHA1, hashes.MD5)):
        raise Rejected(Reason.SIGNATURE_ALGORITHM, f"{hash_algorithm.name} signatures are not allowed")


def _is_sha1_signature(cert: x509.Certificate) -> bool:
    try:
        return isinstance(cert.signature_hash_algorithm, hashes.SHA1)
    except UnsupportedAlgorithm:
        return False
