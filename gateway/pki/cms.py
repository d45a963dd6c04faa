"""CMS SignedData (RFC 5652) handling for uploads and trust-anchor signatures.

Parsing uses asn1crypto; every signature and digest is checked with ``cryptography``.
The structural rules are dgc-lib's ``SignedMessageParser`` (exactly one certificate, exactly
one SignerInfo, eContentType id-data). Whatever the policy, the signature must verify with the
embedded certificate's key, and RSASSA-PSS parameters are checked (RFC 4055 §3.1).

What a :class:`~gateway.pki.policy.CmsPolicy` decides (strict by default; the ``dgcg`` profile
relaxes each into a :class:`~gateway.pki.findings.Finding` on the :class:`SignedMessage`):

- Signed attributes. Present, they must hold one contentType (id-data) and one messageDigest
  that matches the content (RFC 5652 §5.3, §11.1, §11.2), in every profile. Absent, the
  signature covers the content octets directly (RFC 5652 §5.4) and nothing binds the content
  type: strict refuses ``CMS_NO_SIGNED_ATTRIBUTES``; relaxed verifies the signature over the
  content and records the finding (Latvia, Bulgaria and Vietnam sign so).
- SHA-1 as the digest algorithm (a collision moves a signature to another payload, RFC 6194),
  or as RSASSA-PSS's MGF1 hash: strict refuses ``CMS_DIGEST_SHA1``; relaxed accepts it with RSA
  PKCS#1 v1.5, ECDSA and RSASSA-PSS and records the finding (Norway). MD5 and anything else
  outside SHA-2 stay ``CMS_ALGORITHM`` in every profile.

The SignerIdentifier (RFC 5652 §5.3) only points at the certificate whose key verifies the
signature, and a message embeds exactly one. It matches that certificate, silently and in every
profile, when it is an issuerAndSerialNumber with the certificate's serial and an issuer Name
equal to the certificate's by RFC 5280 §7.1 (attribute by attribute, strings compared after
LDAP StringPrep, RFC 4518: a PrintableString and a UTF8String of one value are equal, as for
OpenSSL), or a subjectKeyIdentifier equal to the certificate's SKI extension (RFC 5652 §5.3; a
certificate without one cannot be named so, as for OpenSSL). No finding: an equal name in
another encoding identifies the same certificate, and the signature is verified with that one
certificate's key either way (likely Bahrain's case).
A sid that names another certificate stays ``CMS_SIGNER_MISMATCH``.

BER policy: the CMS wrapper may use BER (OpenSSL and BouncyCastle both accept indefinite
lengths); the certificate inside is judged by ``CmsPolicy.require_der`` (CERTIFICATE_ENCODING:
refused under strict, a finding under dgcg; see :func:`certs.read_certificate`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import warnings
from dataclasses import dataclass

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from gateway.pki.certs import PARSE_ERRORS, ReadCertificate, read_certificate
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import Finding, Findings
from gateway.pki.policy import CmsPolicy, check_encoding

# The default of every entry point: existing callers keep the strict checks.
STRICT = CmsPolicy()

# Digest algorithms always accepted in a SignerInfo. SHA-1 only by policy (allow_sha1_digest);
# MD5 never: a collision lets a forger move a signature to another payload (RFC 6194, RFC 6151).
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# Any exception asn1crypto or cryptography can raise on hostile input while lazily parsing.
_PARSE_ERRORS = (*PARSE_ERRORS, UnsupportedAlgorithm, x509.DuplicateExtension, x509.InvalidVersion)


@dataclass(frozen=True)
class SignedMessage:
    """A verified CMS message: the signed payload and the certificate that signed it."""

    payload: bytes
    signer_der: bytes
    signer: x509.Certificate
    cms_der: bytes
    # The SignerInfo's signature value: a replayed message carries the same one.
    signature: bytes = b""
    # The signingTime attribute (RFC 5652 §11.3), when the signer included one (never without
    # signed attributes).
    signing_time: dt.datetime | None = None
    # What a relaxed CmsPolicy let through (empty under the strict policy).
    findings: tuple[Finding, ...] = ()


def decode_base64_body(body: bytes | str) -> bytes:
    """DGCG bodies are base64 text of DER (Java's strict decoder: no line breaks, no PEM)."""
    if isinstance(body, str):
        body = body.encode("ascii", "replace")
    if not body:
        raise Rejected(Reason.INVALID_BASE64, "Invalid Base64 CMS Message")
    try:
        # Java's basic decoder, which DGCG clients target, accepts missing padding but no excess.
        decoded = base64.b64decode(body + b"=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(Reason.INVALID_BASE64, "Invalid Base64 CMS Message") from exc
    canonical = base64.b64encode(decoded)
    if body not in (canonical, canonical.rstrip(b"=")):
        raise Rejected(Reason.INVALID_BASE64, "Invalid Base64 CMS Message")
    return decoded


def parse_attached(cms_der: bytes, policy: CmsPolicy = STRICT) -> SignedMessage:
    """Parse and verify an attached CMS (the upload format)."""
    return _parse(cms_der, detached_content=None, policy=policy)


def verify_detached(cms_der: bytes, content: bytes, policy: CmsPolicy = STRICT) -> SignedMessage:
    """Verify a detached CMS over ``content`` (trust-anchor signatures, stored DSC signatures)."""
    return _parse(cms_der, detached_content=content, policy=policy)


def detach(cms_der: bytes) -> bytes:
    """Re-encode an attached CMS without its content: a standard detached SignedData that
    ``openssl cms -verify -content`` accepts (the fix DGCG needed for dgc-gateway #57)."""
    info = asn1_cms.ContentInfo.load(cms_der)
    signed = info["content"]
    # asn1crypto models eContent with ContentInfo for SignedData v1 and EncapsulatedContentInfo
    # for v3 (subjectKeyIdentifier signers); keep whichever this message uses.
    signed["encap_content_info"] = type(signed["encap_content_info"])({"content_type": "data"})
    # dump() without force re-serialises only what changed; the rest keeps its bytes (DER for DER
    # input, ten times faster than a full re-encode).
    return asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def attach(detached_der: bytes, content: bytes) -> bytes:
    """Put ``content`` back into a detached CMS (TNG serves the attached form)."""
    info = asn1_cms.ContentInfo.load(detached_der)
    signed = info["content"]
    encap_class = type(signed["encap_content_info"])
    signed["encap_content_info"] = encap_class({"content_type": "data", "content": content})
    return asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


@dataclass(frozen=True)
class Stored:
    """What a CMS the gateway stored says, read without verifying it again."""

    content: bytes | None  # None for a detached CMS
    signature: bytes
    signing_time: dt.datetime | None


def read_stored(cms_der: bytes) -> Stored:
    """The embedded content, the one SignerInfo's signature value and its signingTime of a CMS
    that was verified when it was stored (the signature audit verifies it again): what a
    replacement is compared with. Anything else is a Rejected CMS_PARSE."""
    try:
        signed = asn1_cms.ContentInfo.load(cms_der)["content"]
        embedded = signed["encap_content_info"]["content"]
        content = None if isinstance(embedded, asn1_core.Void) else embedded.native
        signer_infos = list(signed["signer_infos"])
        if len(signer_infos) != 1:
            raise Rejected(Reason.CMS_SIGNER_COUNT, "CMS Message needs to have exactly 1 signer information.")
        signer_info = signer_infos[0]
        signed_attrs = signer_info["signed_attrs"]
        attributes = {} if isinstance(signed_attrs, asn1_core.Void) else _attributes(signed_attrs)
        signature = signer_info["signature"].native
    except _PARSE_ERRORS as exc:
        raise Rejected(Reason.CMS_PARSE, "Could not parse the stored CMS Message") from exc
    signing_time = attributes.get("signing_time")
    return Stored(content, signature, signing_time if isinstance(signing_time, dt.datetime) else None)


def sign(
    content: bytes,
    signer_cert: x509.Certificate,
    signer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    detached: bool,
) -> bytes:
    """Sign ``content`` as CMS SignedData (DER), as dgc-cli ``ta sign`` and country backends do."""
    options = [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities]
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(signer_cert, signer_key, hashes.SHA256())
    return builder.sign(Encoding.DER, options)


def _parse(cms_der: bytes, *, detached_content: bytes | None, policy: CmsPolicy) -> SignedMessage:
    """Every failure is a :class:`Rejected`: hostile input must never escape as another error."""
    try:
        return _parse_checked(cms_der, detached_content=detached_content, policy=policy)
    except Rejected:
        raise
    except _PARSE_ERRORS as exc:
        raise Rejected(Reason.CMS_PARSE, f"Could not parse CMS Message ({type(exc).__name__})") from exc


def _parse_checked(cms_der: bytes, *, detached_content: bytes | None, policy: CmsPolicy) -> SignedMessage:
    try:
        info = asn1_cms.ContentInfo.load(cms_der, strict=True)
        content_type = info["content_type"].native
    except _PARSE_ERRORS as exc:
        raise Rejected(Reason.CMS_PARSE, "Could not parse CMS Message") from exc
    if content_type != "signed_data":
        raise Rejected(Reason.CMS_NOT_SIGNED_DATA, "Could not parse CMS Message: not SignedData")
    try:
        signed = info["content"]
        encap = signed["encap_content_info"]
        econtent_type = encap["content_type"].native
        embedded = encap["content"]
        embedded_bytes = None if isinstance(embedded, asn1_core.Void) else embedded.native
        certificates = signed["certificates"]
        cert_choices = [] if isinstance(certificates, asn1_core.Void) else list(certificates)
        signer_infos = list(signed["signer_infos"])
    except _PARSE_ERRORS as exc:
        raise Rejected(Reason.CMS_PARSE, "Could not parse CMS Message") from exc

    if econtent_type != "data":
        raise Rejected(Reason.CMS_CONTENT_TYPE, "CMS Message needs to have binary data as body.")
    if detached_content is None:
        if embedded_bytes is None:
            raise Rejected(Reason.CMS_DETACHED, "CMS content must be embedded (attached signature required)")
        content = embedded_bytes
    else:
        if embedded_bytes is not None:
            raise Rejected(Reason.CMS_UNEXPECTED_CONTENT, "detached CMS must not embed content")
        content = detached_content

    if len(cert_choices) != 1 or cert_choices[0].name != "certificate":
        raise Rejected(Reason.CMS_CERTIFICATE_COUNT, "CMS Message needs to contain exactly one X509 certificate")
    if len(signer_infos) != 1:
        raise Rejected(Reason.CMS_SIGNER_COUNT, "CMS Message needs to have exactly 1 signer information.")
    try:
        signer_der = cert_choices[0].chosen.dump()
    except _PARSE_ERRORS as exc:
        raise Rejected(Reason.CMS_PARSE, "Could not parse CMS Message") from exc
    findings = Findings()
    # asn1crypto re-encodes some BER (and mistakes a long-form length ending in 0x80 for an
    # indefinite one); a DER certificate appears in the message byte for byte.
    if signer_der not in cms_der:
        detail = "the embedded certificate is not DER-encoded"
        findings.fail(Reason.CERTIFICATE_ENCODING, detail, enforced=policy.require_der)
    read = read_certificate(signer_der)
    check_encoding(read, findings, require_der=policy.require_der, whose="the signer's certificate: ")
    signer = read.certificate
    signature, attributes = _verify_signer_info(signer_infos[0], read, content, policy, findings)
    signing_time = attributes.get("signing_time")
    return SignedMessage(
        payload=content,
        signer_der=signer_der,
        signer=signer,
        cms_der=cms_der,
        signature=signature,
        signing_time=signing_time if isinstance(signing_time, dt.datetime) else None,
        findings=findings.as_tuple(),
    )


def _verify_signer_info(
    signer_info: asn1_cms.SignerInfo,
    read: ReadCertificate,
    content: bytes,
    policy: CmsPolicy,
    findings: Findings,
) -> tuple[bytes, dict[str, object]]:
    """Check the signer info; its signature value and signed attributes once it verifies."""
    signer = read.certificate
    try:
        sid = signer_info["sid"]
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        signed_attrs = signer_info["signed_attrs"]
        signature_algorithm = signer_info["signature_algorithm"]
        signature = signer_info["signature"].native
        has_attributes = not isinstance(signed_attrs, asn1_core.Void)
        attributes = _attributes(signed_attrs) if has_attributes else {}
        # RFC 5652 §5.4: with signed attributes the signature covers their DER with an EXPLICIT
        # SET OF tag instead of the IMPLICIT [0] that appears in the message; without them it
        # covers the eContent octets (the detached content) themselves.
        signed_bytes = b"\x31" + signed_attrs.dump()[1:] if has_attributes else content
    except _PARSE_ERRORS as exc:
        raise Rejected(Reason.CMS_PARSE, "Could not parse CMS Message") from exc

    _check_sid(sid, read)
    digest_algorithm = _digest_algorithm(digest_name, policy, findings)

    if has_attributes:
        _check_attributes(attributes, digest_algorithm, content)
    else:
        # RFC 5652 §5.3 lets signedAttrs be absent only for id-data content, which _parse_checked
        # required; the signature then binds the content but no content type (§5.4).
        findings.fail(
            Reason.CMS_NO_SIGNED_ATTRIBUTES,
            "SignerInfo has no signed attributes: the signature covers the content alone (RFC 5652 5.4)",
            enforced=policy.require_signed_attributes,
        )

    _verify_signature(signer, signature_algorithm, digest_algorithm, signature, signed_bytes, policy, findings)
    return signature, attributes


def _digest_algorithm(name: str, policy: CmsPolicy, findings: Findings) -> hashes.HashAlgorithm:
    """The SignerInfo's digestAlgorithm (RFC 5652 §5.3): SHA-2, or SHA-1 when the policy allows it."""
    if name in _DIGESTS:
        return _DIGESTS[name]()
    if name == "sha1":
        findings.fail(
            Reason.CMS_DIGEST_SHA1,
            "digest algorithm sha1 is collision-prone (RFC 6194)",
            enforced=not policy.allow_sha1_digest,
        )
        return hashes.SHA1()  # noqa: S303 - only when the policy lets SHA-1 digests through
    raise Rejected(Reason.CMS_ALGORITHM, f"digest algorithm {name} is not allowed")


def _check_attributes(attributes: dict[str, object], digest_algorithm: hashes.HashAlgorithm, content: bytes) -> None:
    # RFC 5652 §5.3: contentType and messageDigest MUST be present when signed attributes are.
    if "content_type" not in attributes or "message_digest" not in attributes:
        raise Rejected(Reason.CMS_MISSING_ATTRIBUTES, "CMS signer info needs contentType and messageDigest attributes")
    if attributes["content_type"] != "data":
        raise Rejected(Reason.CMS_CONTENT_TYPE_ATTRIBUTE, "contentType attribute does not match eContentType")
    message_digest = attributes["message_digest"]
    digest = hashes.Hash(digest_algorithm)
    digest.update(content)
    if not isinstance(message_digest, bytes) or not hmac.compare_digest(digest.finalize(), message_digest):
        raise Rejected(Reason.CMS_MESSAGE_DIGEST, "messageDigest attribute does not match the content")


def _attributes(signed_attrs: asn1_cms.CMSAttributes) -> dict[str, object]:
    found: dict[str, object] = {}
    for attribute in signed_attrs:
        name = attribute["type"].native
        values = attribute["values"]
        if name in ("content_type", "message_digest", "signing_time"):
            # RFC 5652 §11.1-11.3: single-valued, and must not appear twice.
            if name in found or len(values) != 1:
                raise Rejected(Reason.CMS_MISSING_ATTRIBUTES, f"{name} attribute must have exactly one value")
            found[name] = values[0].native
    return found


def _check_sid(sid: asn1_cms.SignerIdentifier, read: ReadCertificate) -> None:
    """RFC 5652 §5.3: the sid must identify the one embedded certificate (module docstring)."""
    if sid.name == "issuer_and_serial_number":
        if sid.chosen["serial_number"].native != read.serial_number:
            raise Rejected(Reason.CMS_SIGNER_MISMATCH, "SignerInfo does not identify the embedded certificate")
        issuer = sid.chosen["issuer"]
        if issuer.dump() == _issuer_bytes(read.certificate):  # the common case, without a second parse
            return
        if not _same_name(issuer, read.asn1["tbs_certificate"]["issuer"]):
            raise Rejected(Reason.CMS_SIGNER_MISMATCH, "SignerInfo does not identify the embedded certificate")
        return
    # RFC 5652 §5.3: "the key identifier matches the X.509 subjectKeyIdentifier extension value";
    # a certificate without the extension cannot be named by key identifier (nor is it by OpenSSL).
    identifiers = [value for oid, _critical, value in read.extensions() if oid == _SUBJECT_KEY_IDENTIFIER]
    if not identifiers:
        raise Rejected(Reason.CMS_SIGNER_MISMATCH, "SignerInfo names a key identifier the certificate lacks")
    value = identifiers[0]
    ski = value.digest if isinstance(value, x509.SubjectKeyIdentifier) else value.native  # type: ignore[attr-defined]
    if sid.chosen.native != ski:
        raise Rejected(Reason.CMS_SIGNER_MISMATCH, "SignerInfo does not identify the embedded certificate")


def _issuer_bytes(certificate: x509.Certificate) -> bytes:
    with warnings.catch_warnings():
        # cryptography warns of an out-of-range attribute (an empty common name, say) in the
        # certificate's issuer; the comparison of encodings is what decides here.
        warnings.simplefilter("ignore", UserWarning)
        return certificate.issuer.public_bytes()


_SUBJECT_KEY_IDENTIFIER = "2.5.29.14"  # RFC 5280 §4.2.1.2


def _same_name(sid_issuer: asn1_x509.Name, cert_issuer: asn1_x509.Name) -> bool:
    """RFC 5280 §7.1 name comparison: byte equality first (the common case), then RDN by RDN in
    order, the attributes of a multi-valued RDN as a set, each value after LDAP StringPrep."""
    if sid_issuer.dump() == cert_issuer.dump():
        return True
    try:
        return _comparable_name(sid_issuer) == _comparable_name(cert_issuer)
    except _PARSE_ERRORS:
        return False  # a Name that cannot be read identifies nothing


def _comparable_name(name: asn1_x509.Name) -> list[list[tuple[str, int, bytes]]]:
    return [sorted(_comparable_attribute(attribute) for attribute in rdn) for rdn in name.chosen]


def _comparable_attribute(attribute: asn1_x509.NameTypeAndValue) -> tuple[str, int, bytes]:
    oid = attribute["type"].dotted
    if isinstance(attribute["value"].native, str):
        # asn1crypto's prepped_value is RFC 4518 (case folding, insignificant space), as §7.1 asks.
        return oid, 0, attribute.prepped_value.encode("utf-8")
    return oid, 1, attribute["value"].dump()  # not a string: compared as encoded


def _verify_signature(
    signer: x509.Certificate,
    algorithm: asn1_cms.SignedDigestAlgorithm,
    digest_algorithm: hashes.HashAlgorithm,
    signature: bytes,
    signed_bytes: bytes,
    policy: CmsPolicy,
    findings: Findings,
) -> None:
    try:
        scheme = algorithm.signature_algo
    except ValueError as exc:
        raise Rejected(Reason.CMS_ALGORITHM, "unsupported CMS signature algorithm") from exc
    try:
        embedded_hash = algorithm.hash_algo
    except ValueError:
        embedded_hash = None  # rsaEncryption / id-ecPublicKey carry no hash: the digestAlgorithm applies
    # sha1WithRSAEncryption and ecdsa-with-SHA1 name SHA-1 here; it must be the digestAlgorithm,
    # which _digest_algorithm has judged already.
    if embedded_hash is not None and scheme != "rsassa_pss" and embedded_hash != digest_algorithm.name:
        raise Rejected(Reason.CMS_ALGORITHM, "signature and digest algorithms disagree")

    try:
        key = signer.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise Rejected(Reason.CMS_ALGORITHM, f"unsupported signer key: {exc}") from exc
    try:
        if scheme == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(digest_algorithm))
        elif scheme == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), digest_algorithm)
        elif scheme == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            pss = _pss_padding(algorithm, digest_algorithm, key, policy, findings)
            key.verify(signature, signed_bytes, pss, digest_algorithm)
        else:
            raise Rejected(Reason.CMS_ALGORITHM, f"signature scheme {scheme} does not fit the signer key")
    except InvalidSignature as exc:
        raise Rejected(Reason.CMS_SIGNATURE_INVALID, "Invalid CMS Signature") from exc


def _pss_padding(
    algorithm: asn1_cms.SignedDigestAlgorithm,
    digest_algorithm: hashes.HashAlgorithm,
    key: rsa.RSAPublicKey,
    policy: CmsPolicy,
    findings: Findings,
) -> padding.PSS:
    """RFC 4055 §3.1 parameters, checked: the PSS hash is the digest algorithm, MGF1 uses a SHA-2
    hash (SHA-1 only when the policy allows SHA-1 digests), the salt fits the key, and the
    trailer field is 1 (trailerFieldBC). RFC 4055's defaults are SHA-1 throughout, so an empty
    parameter SEQUENCE means SHA-1, MGF1-SHA-1 and a 20-octet salt."""
    params = algorithm["parameters"]
    try:
        pss_hash = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]["algorithm"].native
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        salt_length = params["salt_length"].native
        trailer = params["trailer_field"].native
    except _PARSE_ERRORS as exc:
        raise Rejected(Reason.CMS_ALGORITHM, "malformed RSASSA-PSS parameters") from exc
    if pss_hash != digest_algorithm.name:
        raise Rejected(Reason.CMS_ALGORITHM, f"RSASSA-PSS hash {pss_hash} differs from the digest algorithm")
    if mgf != "mgf1" or (mgf_hash not in _DIGESTS and mgf_hash != "sha1"):
        raise Rejected(Reason.CMS_ALGORITHM, f"mask generation {mgf}/{mgf_hash} is not allowed")
    if mgf_hash == "sha1" and pss_hash != "sha1":
        # A SHA-1 digest was judged (and recorded) by _digest_algorithm already.
        findings.fail(
            Reason.CMS_DIGEST_SHA1, "RSASSA-PSS mask generation uses SHA-1", enforced=not policy.allow_sha1_digest
        )
    if trailer != "trailer_field_bc":
        raise Rejected(Reason.CMS_ALGORITHM, "RSASSA-PSS trailer field must be 1 (RFC 4055)")
    max_salt = (key.key_size + 7) // 8 - digest_algorithm.digest_size - 2
    if not isinstance(salt_length, int) or not 0 <= salt_length <= max_salt:
        raise Rejected(Reason.CMS_ALGORITHM, f"RSASSA-PSS salt length {salt_length} is out of range")
    mgf_algorithm = _DIGESTS[mgf_hash]() if mgf_hash in _DIGESTS else hashes.SHA1()  # noqa: S303 - allowed above
    return padding.PSS(mgf=padding.MGF1(mgf_algorithm), salt_length=salt_length)
