"""A corpus of hostile (and a few valid) upload messages: CMS structures, signers and DSC
policy violations, each built fresh for a context.

Every :class:`Item` declares two independent expectations: ``openssl_ok`` (what ``openssl cms
-verify -noverify`` says of the message) and ``policy_ok`` (whether its DSC and signer pass the
gateway's strict policy). The gateway must answer 201 exactly when both hold. Items with
``dgcg_findings`` are the shapes of issue 22 (what real national backends send):
``cms.parse_attached`` under the dgcg CmsPolicy accepts them exactly when OpenSSL does, with
those findings. The context decides
where the messages go: the in-process Django test client (tests/test_cms_differential.py) or
the production-like stack through nginx (tests/test_stack_hostile.py). Items under
"regressions" once exposed product bugs (now fixed).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.pki import cms, issuance
from gateway.pki.certs import certificate_der
from gateway.pki.errors import Reason
from gateway.pki.issuance import Issued
from tests.factory import resign_tbs, rsa_public_key
from tests.pki.test_cms import (
    ber_certificate,
    build_cms,
    der_header,
    nested_sequences,
    openssl_sign,
    replace_element,
    rsa_key,
    signer_normalised_by_asn1crypto,
    tlv,
    with_ber_validity_length,
    with_duplicate_extension,
    with_malformed_issuer,
    with_malformed_subject,
    with_pss_parameter,
    with_unknown_key_algorithm,
    with_version,
)
from tests.pki.test_cms_profiles import (
    method1_key_identifier,
    reencoded_name,
    signer_issuer,
    signer_without_ski,
    spaced_upper,
    tamper_content,
    with_sid_issuer,
)
from tests.pki.test_policy import explicit_p256_parameters


class Country(Protocol):
    """The keys of the uploading country (XA): tests.factory.CountryPki or :class:`CountryKeys`."""

    code: str
    auth: Issued
    upload: Issued
    csca: Issued


@dataclass(frozen=True)
class CountryKeys:
    code: str
    auth: Issued
    upload: Issued
    csca: Issued


class CorpusContext:
    """What the items need: XA's keys, the time their certificates are made for, a folder for
    OpenSSL's files, and three things a subclass provides: onboarding another UPLOAD
    certificate of XA, another country's UPLOAD certificate, and sending an upload."""

    def __init__(self, xa: Country, now: dt.datetime, tmp: Path) -> None:
        self.xa = xa
        self.now = now
        self.tmp = tmp
        self._issued = 0

    # --- provided by the subclass ---------------------------------------------------------------

    def onboard(self, certificate: Issued) -> None:
        """Onboard ``certificate`` as an UPLOAD certificate of XA (trust-anchor signed)."""
        raise NotImplementedError

    def foreign_upload(self) -> Issued:
        """An onboarded UPLOAD certificate of another country, with its key."""
        raise NotImplementedError

    def upload(self, cms_der: bytes) -> Any:
        """POST /signerCertificate as XA; the response has ``status_code``."""
        raise NotImplementedError

    # --- builders -------------------------------------------------------------------------------

    def dsc(self, *, csca: Issued | None = None, country: str | None = None, **kwargs: Any) -> Issued:
        """A fresh, policy-conform DSC of XA (a new key and serial every call)."""
        self._issued += 1
        return issuance.issue(
            issuance.name(
                f"{self.xa.code} DSC corpus {self._issued}", country if country is not None else self.xa.code
            ),
            at=self.now,
            issuer=csca or self.xa.csca,
            extended_key_usage=[issuance.EKU_VACCINATION],
            **kwargs,
        )

    def cms(self, payload: bytes) -> bytes:
        """The product's own CMS builder (gateway.pki.cms.sign), with XA's UPLOAD key."""
        return cms.sign(payload, self.xa.upload.certificate, self.xa.upload.key, detached=False)

    def sign(self, payload: bytes, **kwargs: Any) -> bytes:
        """The test builder, which can get every field wrong on purpose."""
        return build_cms(payload, self.xa.upload.der, self.xa.upload.key, **kwargs)

    def onboarded_upload(self, label: str, key: issuance.PrivateKey) -> Issued:
        issued = issuance.issue(issuance.name(f"{self.xa.code} upload {label}", self.xa.code), at=self.now, key=key)
        self.onboard(issued)
        return issued

    @functools.cached_property
    def rsa_upload(self) -> Issued:
        return self.onboarded_upload("RSA", rsa_key(2048))

    @functools.cached_property
    def p384_upload(self) -> Issued:
        return self.onboarded_upload("P-384", ec.generate_private_key(ec.SECP384R1()))

    def openssl(self, payload: bytes, signer: Issued | None = None, *extra: str) -> bytes:
        return openssl_sign(payload, signer or self.xa.upload, self.tmp, *extra)

    def resigned_dsc(self, mutate: Callable[[Any], None], hash_name: str = "sha256") -> bytes:
        return resign_tbs(self.dsc().certificate, self.xa.csca.key, mutate, hash_name)

    def dsc_with_key(self, public_key: Any) -> bytes:
        return dsc_from_builder(self, public_key=public_key)

    def validity(self, not_before_days: int, not_after_days: int) -> Callable[[Any], None]:
        def mutate(tbs: Any) -> None:
            tbs["validity"] = {
                "not_before": {"utc_time": self.now + dt.timedelta(days=not_before_days)},
                "not_after": {"utc_time": self.now + dt.timedelta(days=not_after_days)},
            }

        return mutate


def dsc_from_builder(
    ctx: CorpusContext,
    *,
    subject: x509.Name | None = None,
    public_key=None,
    issuer: Issued | None = None,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
) -> bytes:
    issuer = issuer or ctx.xa.csca
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or issuance.name("XA DSC differential", "XA"))
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key or ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ctx.now - dt.timedelta(days=1))
        .not_valid_after(ctx.now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return certificate_der(builder.sign(issuer.key, hashes.SHA256()))


def _serial(value: int) -> Callable[[object], None]:
    def mutate(tbs) -> None:
        tbs["serial_number"] = value

    return mutate


def _replay(ctx: CorpusContext) -> bytes:
    message = ctx.sign(ctx.dsc().der)
    assert ctx.upload(message).status_code == 201
    return message


def _ber_certificate(ctx: CorpusContext) -> bytes:
    upload = ctx.xa.upload.der
    return replace_element(ctx.sign(ctx.dsc().der), upload, ber_certificate(upload))


def _ber_certificate_normalised(ctx: CorpusContext) -> bytes:
    signer = signer_normalised_by_asn1crypto(at=ctx.now)
    ctx.onboard(signer)
    message = build_cms(ctx.dsc().der, signer.der, signer.key)
    return replace_element(message, signer.der, with_ber_validity_length(signer.der))


def _malformed_sid(ctx: CorpusContext) -> bytes:
    message = ctx.sign(ctx.dsc().der)
    sid = asn1_cms.ContentInfo.load(message)["content"]["signer_infos"][0]["sid"]
    return replace_element(message, sid.dump(), tlv(0x30, sid.chosen["serial_number"].dump()))


def _four_gigabytes(ctx: CorpusContext) -> bytes:
    dsc = ctx.dsc().der
    message = ctx.sign(dsc)
    header = der_header(0x04, len(dsc)) + dsc[:8]
    assert message.count(header) == 1
    return message.replace(header, b"\x04\x84\xff\xff\xff\xff" + dsc[:8])


def _other_country_upload(ctx: CorpusContext) -> bytes:
    foreign = ctx.foreign_upload()
    return build_cms(ctx.dsc().der, foreign.der, foreign.key)


def _not_onboarded_upload(ctx: CorpusContext) -> bytes:
    stranger = issuance.issue(issuance.name("XA upload unregistered", "XA"), at=ctx.now)
    return build_cms(ctx.dsc().der, stranger.der, stranger.key)


def _dsc_of_other_csca(ctx: CorpusContext) -> bytes:
    other_csca = issuance.issue(issuance.name("XA CSCA rogue", "XA"), at=ctx.now, ca=True)
    return ctx.sign(ctx.dsc(csca=other_csca).der)


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _dup_ext_signer(ctx: CorpusContext) -> bytes:
    upload = ctx.xa.upload
    signer = with_duplicate_extension(upload.der, upload.key)
    return build_cms(ctx.dsc().der, signer, upload.key, sid="ski", sid_source=upload.der)


def _unknown_alg_signer(ctx: CorpusContext) -> bytes:
    upload = ctx.xa.upload
    return build_cms(ctx.dsc().der, with_unknown_key_algorithm(upload.der, upload.key), upload.key)


def _pss(ctx: CorpusContext, field_name: str, value: object) -> bytes:
    rsa = ctx.rsa_upload
    return with_pss_parameter(build_cms(ctx.dsc().der, rsa.der, rsa.key, scheme="pss"), field_name, value)


def _no_ski_signer(ctx: CorpusContext, *, tamper_signature: bool = False, ski: bytes | None = None) -> bytes:
    """A subjectKeyIdentifier sid for an onboarded UPLOAD certificate without the SKI extension."""
    signer = signer_without_ski("no SKI", at=ctx.now)
    ctx.onboard(signer)
    ski = ski if ski is not None else method1_key_identifier(signer.der)
    return build_cms(ctx.dsc().der, signer.der, signer.key, sid="ski", ski_value=ski, tamper_signature=tamper_signature)


def _issuer_sid(ctx: CorpusContext, text: Callable[[str], str] = str, **options: Any) -> bytes:
    """XA's upload message whose sid names the issuer as UTF8Strings passed through ``text``."""
    issuer = reencoded_name(signer_issuer(ctx.xa.upload.der), string_type="utf8", text=text)
    return with_sid_issuer(ctx.sign(ctx.dsc().der, **options), issuer)


def _rsa(ctx: CorpusContext, **options: Any) -> bytes:
    return build_cms(ctx.dsc().der, ctx.rsa_upload.der, ctx.rsa_upload.key, **options)


def _content_tampered(ctx: CorpusContext, build: Callable[[CorpusContext, bytes], bytes]) -> bytes:
    dsc = ctx.dsc().der
    return tamper_content(build(ctx, dsc), dsc)


NO_ATTRIBUTES = (Reason.CMS_NO_SIGNED_ATTRIBUTES,)
SHA1 = (Reason.CMS_DIGEST_SHA1,)


@dataclass(frozen=True)
class Item:
    label: str
    openssl_ok: bool
    policy_ok: bool
    build: Callable[[CorpusContext], bytes]
    bug: str = ""
    marks: tuple = field(default=())
    # Issue 22's shapes: what cms.parse_attached records under the dgcg CmsPolicy when OpenSSL
    # accepts the message (and refuses under dgcg when OpenSSL refuses); None: not such a shape.
    dgcg_findings: tuple[Reason, ...] | None = None


CORPUS: list[Item] = [
    # --- valid messages: accepted by both ---------------------------------------------------------
    Item("valid-ec-p256-pkcs7-builder", True, True, lambda c: c.cms(c.dsc().der)),
    Item("valid-ec-sha384-digest", True, True, lambda c: c.sign(c.dsc().der, digest="sha384")),
    Item("valid-ec-sha512-digest", True, True, lambda c: c.sign(c.dsc().der, digest="sha512")),
    Item(
        "valid-ec-p384-upload",
        True,
        True,
        lambda c: build_cms(c.dsc().der, c.p384_upload.der, c.p384_upload.key, digest="sha384"),
    ),
    Item("valid-rsa-3072-dsc", True, True, lambda c: c.sign(c.dsc(key=rsa_key(3072)).der)),
    Item(
        "valid-builder-rsa-pss-sha512",
        True,
        True,
        lambda c: build_cms(c.dsc().der, c.rsa_upload.der, c.rsa_upload.key, scheme="pss", digest="sha512"),
    ),
    Item("openssl-ec-default-attributes", True, True, lambda c: c.openssl(c.dsc().der)),
    Item("openssl-rsa-pkcs1v15", True, True, lambda c: c.openssl(c.dsc().der, c.rsa_upload)),
    Item(
        "openssl-rsa-pss", True, True, lambda c: c.openssl(c.dsc().der, c.rsa_upload, "-keyopt", "rsa_padding_mode:pss")
    ),
    Item("openssl-ec-stream-ber-indefinite", True, True, lambda c: c.openssl(c.dsc().der, None, "-stream")),
    Item("openssl-rsa-stream-ber-indefinite", True, True, lambda c: c.openssl(c.dsc().der, c.rsa_upload, "-stream")),
    Item(
        "valid-ec-ski-sid",
        True,
        True,
        lambda c: c.sign(c.dsc().der, sid="ski"),
    ),
    Item(
        "openssl-ec-keyid",
        True,
        True,
        lambda c: c.openssl(c.dsc().der, None, "-keyid"),
    ),
    # --- CMS structure ------------------------------------------------------------------------------
    Item("truncated-half", False, True, lambda c: (lambda m: m[: len(m) // 2])(c.sign(c.dsc().der))),
    Item("truncated-last-octet", False, True, lambda c: c.sign(c.dsc().der)[:-1]),
    Item("trailing-garbage", True, False, lambda c: c.sign(c.dsc().der) + b"\x00\x00garbage"),
    Item(
        "not-signed-data",
        False,
        True,
        lambda c: tlv(0x30, bytes.fromhex("06092a864886f70d010701") + tlv(0xA0, tlv(0x04, c.dsc().der))),
    ),
    Item("econtent-type-not-id-data", True, False, lambda c: c.sign(c.dsc().der, econtent_type="1.2.3.4")),
    Item("detached-content", False, True, lambda c: c.sign(c.dsc().der, attached=False)),
    Item("zero-certificates", False, True, lambda c: c.sign(c.dsc().der, certificates=[])),
    Item("two-certificates", True, False, lambda c: c.sign(c.dsc().der, certificates=[c.xa.upload.der, c.xa.csca.der])),
    Item("zero-signer-infos", False, True, lambda c: c.sign(c.dsc().der, signer_infos=0)),
    Item("two-signer-infos", True, False, lambda c: c.sign(c.dsc().der, signer_infos=2)),
    Item("sid-names-another-certificate", False, True, lambda c: c.sign(c.dsc().der, sid_source=c.xa.csca.der)),
    Item("missing-message-digest", False, True, lambda c: c.sign(c.dsc().der, signed_attributes=("content_type",))),
    Item("missing-content-type", False, True, lambda c: c.sign(c.dsc().der, signed_attributes=("message_digest",))),
    Item(
        "content-type-attribute-mismatch",
        True,
        False,
        lambda c: c.sign(c.dsc().der, content_type_attribute="signed_data"),
    ),
    Item("wrong-message-digest", False, True, lambda c: c.sign(c.dsc().der, message_digest=b"\x00" * 32)),
    Item("openssl-sha1-digest", True, False, lambda c: c.openssl(c.dsc().der, None, "-md", "sha1"), dgcg_findings=SHA1),
    Item(
        "openssl-no-signed-attributes",
        True,
        False,
        lambda c: c.openssl(c.dsc().der, None, "-noattr"),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item("tampered-signature", False, True, lambda c: c.sign(c.dsc().der, tamper_signature=True)),
    Item(
        "tampered-rsa-pss-signature",
        False,
        True,
        lambda c: build_cms(c.dsc().der, c.rsa_upload.der, c.rsa_upload.key, scheme="pss", tamper_signature=True),
    ),
    Item(
        "wrong-signer-key",
        False,
        True,
        lambda c: build_cms(c.dsc().der, c.xa.upload.der, ec.generate_private_key(ec.SECP256R1())),
    ),
    Item("deep-nesting-10000", False, True, lambda c: nested_sequences(10_000)),
    Item("declared-length-4-gib", False, True, _four_gigabytes),
    Item("random-bytes", False, True, lambda c: bytes(range(256)) * 4),
    Item("embedded-certificate-ber-length", True, False, _ber_certificate),
    # --- issue 22: what real national backends send (refused under strict, findings under dgcg) ------
    Item(
        "openssl-rsa-sha1-digest",
        True,
        False,
        lambda c: c.openssl(c.dsc().der, c.rsa_upload, "-md", "sha1"),
        dgcg_findings=SHA1,
    ),
    Item(
        "openssl-rsa-no-signed-attributes",
        True,
        False,
        lambda c: c.openssl(c.dsc().der, c.rsa_upload, "-noattr"),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item(
        "no-signed-attributes-ecdsa",
        True,
        False,
        lambda c: c.sign(c.dsc().der, signed_attributes=None),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item(
        "no-signed-attributes-rsa-pkcs1v15",
        True,
        False,
        lambda c: _rsa(c, signed_attributes=None),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item(
        "no-signed-attributes-rsa-pss",
        True,
        False,
        lambda c: _rsa(c, signed_attributes=None, scheme="pss"),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item("sha1-rsa-pkcs1v15-rsa-encryption-oid", True, False, lambda c: _rsa(c, digest="sha1"), dgcg_findings=SHA1),
    Item(
        "sha1-rsa-pkcs1v15-sha1-with-rsa-oid",
        True,
        False,
        lambda c: _rsa(c, digest="sha1", algorithm_override={"algorithm": "sha1_rsa"}),
        dgcg_findings=SHA1,
    ),
    Item("ecdsa-with-sha1", True, False, lambda c: c.sign(c.dsc().der, digest="sha1"), dgcg_findings=SHA1),
    Item("rsa-pss-sha1", True, False, lambda c: _rsa(c, digest="sha1", scheme="pss"), dgcg_findings=SHA1),
    Item(
        "rsa-pss-sha256-mgf1-sha1", True, False, lambda c: _rsa(c, scheme="pss", mgf_digest="sha1"), dgcg_findings=SHA1
    ),
    Item(
        "sha1-and-no-signed-attributes",
        True,
        False,
        lambda c: _rsa(c, digest="sha1", signed_attributes=None),
        dgcg_findings=(*SHA1, *NO_ATTRIBUTES),
    ),
    Item("valid-builder-rsa-pss-sha256", True, True, lambda c: _rsa(c, scheme="pss"), dgcg_findings=()),
    # RFC 5280 §7.1: an issuer equal by name comparison identifies the signer (OpenSSL agrees)
    Item("valid-sid-issuer-utf8-string", True, True, _issuer_sid, dgcg_findings=()),
    Item("valid-sid-issuer-case-and-spaces", True, True, lambda c: _issuer_sid(c, spaced_upper), dgcg_findings=()),
    # RFC 5652 §5.3: a key identifier names the SKI extension's value; without one, nothing
    Item("sid-key-identifier-method-1-without-ski-extension", False, False, _no_ski_signer, dgcg_findings=()),
    # ... and each still refused once its signature, content or signer identifier is wrong
    Item(
        "no-signed-attributes-ecdsa-tampered-signature",
        False,
        True,
        lambda c: c.sign(c.dsc().der, signed_attributes=None, tamper_signature=True),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item(
        "no-signed-attributes-ecdsa-tampered-content",
        False,
        True,
        lambda c: _content_tampered(c, lambda c, dsc: c.sign(dsc, signed_attributes=None)),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item(
        "no-signed-attributes-rsa-tampered-content",
        False,
        True,
        lambda c: _content_tampered(
            c, lambda c, dsc: build_cms(dsc, c.rsa_upload.der, c.rsa_upload.key, signed_attributes=None)
        ),
        dgcg_findings=NO_ATTRIBUTES,
    ),
    Item(
        "sha1-rsa-pkcs1v15-tampered-signature",
        False,
        True,
        lambda c: _rsa(c, digest="sha1", tamper_signature=True),
        dgcg_findings=SHA1,
    ),
    Item(
        "sha1-rsa-pkcs1v15-tampered-content",
        False,
        True,
        lambda c: _content_tampered(
            c, lambda c, dsc: build_cms(dsc, c.rsa_upload.der, c.rsa_upload.key, digest="sha1")
        ),
        dgcg_findings=SHA1,
    ),
    Item(
        "ecdsa-with-sha1-tampered-signature",
        False,
        True,
        lambda c: c.sign(c.dsc().der, digest="sha1", tamper_signature=True),
        dgcg_findings=SHA1,
    ),
    Item(
        "rsa-pss-sha1-tampered-signature",
        False,
        True,
        lambda c: _rsa(c, digest="sha1", scheme="pss", tamper_signature=True),
        dgcg_findings=SHA1,
    ),
    Item(
        "sha1-and-no-signed-attributes-tampered-signature",
        False,
        True,
        lambda c: _rsa(c, digest="sha1", signed_attributes=None, tamper_signature=True),
        dgcg_findings=(*SHA1, *NO_ATTRIBUTES),
    ),
    Item(
        "sid-issuer-case-and-spaces-tampered-signature",
        False,
        True,
        lambda c: _issuer_sid(c, spaced_upper, tamper_signature=True),
        dgcg_findings=(),
    ),
    Item("sid-issuer-another-name", False, True, lambda c: _issuer_sid(c, lambda v: v + " x"), dgcg_findings=()),
    Item(
        "sid-key-identifier-without-ski-extension-wrong-value",
        False,
        True,
        lambda c: _no_ski_signer(c, ski=b"\x01" * 20),
        dgcg_findings=(),
    ),
    # --- who signed ---------------------------------------------------------------------------------
    Item("signer-not-onboarded", True, False, _not_onboarded_upload),
    Item("signer-other-country-upload", True, False, _other_country_upload),
    Item("signer-is-country-csca", True, False, lambda c: build_cms(c.dsc().der, c.xa.csca.der, c.xa.csca.key)),
    Item("signer-is-auth-certificate", True, False, lambda c: build_cms(c.dsc().der, c.xa.auth.der, c.xa.auth.key)),
    # --- what was signed: payload and DSC policy ----------------------------------------------------
    Item("payload-not-a-certificate", True, False, lambda c: c.sign(b"hello, gateway")),
    Item("payload-pem-certificate", True, False, lambda c: c.sign(c.dsc().cert_pem)),
    Item("payload-two-certificates", True, False, lambda c: c.sign(c.dsc().der + c.dsc().der)),
    Item("dsc-expired", True, False, lambda c: c.sign(c.resigned_dsc(c.validity(-30, -1)))),
    Item("dsc-not-yet-valid", True, False, lambda c: c.sign(c.resigned_dsc(c.validity(1, 30)))),
    Item("dsc-not-before-after-not-after", True, False, lambda c: c.sign(c.resigned_dsc(c.validity(1, -1)))),
    Item("dsc-serial-zero", True, False, lambda c: c.sign(c.resigned_dsc(_serial(0)))),
    Item("dsc-serial-negative", True, False, lambda c: c.sign(c.resigned_dsc(_serial(-77)))),
    Item("dsc-serial-21-octets", True, False, lambda c: c.sign(c.resigned_dsc(_serial(1 << 160)))),
    Item(
        "dsc-unknown-critical-extension",
        True,
        False,
        lambda c: c.sign(
            dsc_from_builder(
                c,
                extensions=(
                    (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.9"), b"\x05\x00"), True),
                ),
            )
        ),
    ),
    Item("dsc-rsa-1024", True, False, lambda c: c.sign(c.dsc_with_key(rsa_public_key(1024)))),
    Item("dsc-rsa-e3", True, False, lambda c: c.sign(c.dsc_with_key(rsa_public_key(2048, 3)))),
    Item(
        "dsc-ec-secp256k1",
        True,
        False,
        lambda c: c.sign(c.dsc_with_key(ec.generate_private_key(ec.SECP256K1()).public_key())),
    ),
    Item("dsc-sha1-signature", True, False, lambda c: c.sign(c.resigned_dsc(lambda tbs: None, "sha1"))),
    Item("dsc-ca-true", True, False, lambda c: c.sign(c.dsc(ca=True).der)),
    Item(
        "dsc-self-signed",
        True,
        False,
        lambda c: c.sign(issuance.issue(issuance.name("XA DSC self-signed", "XA"), at=c.now).der),
    ),
    Item("dsc-own-csca-uploaded-as-dsc", True, False, lambda c: c.sign(c.xa.csca.der)),
    Item("dsc-issued-by-unknown-csca", True, False, _dsc_of_other_csca),
    Item("dsc-country-mismatch", True, False, lambda c: c.sign(c.dsc(country="XB").der)),
    Item(
        "dsc-no-country",
        True,
        False,
        lambda c: c.sign(dsc_from_builder(c, subject=_name((NameOID.COMMON_NAME, "XA DSC no country")))),
    ),
    Item(
        "dsc-two-countries",
        True,
        False,
        lambda c: c.sign(
            dsc_from_builder(
                c,
                subject=_name(
                    (NameOID.COUNTRY_NAME, "XA"),
                    (NameOID.COUNTRY_NAME, "XB"),
                    (NameOID.COMMON_NAME, "XA DSC two countries"),
                ),
            )
        ),
    ),
    Item(
        "dsc-country-hidden-in-cn",
        True,
        False,
        lambda c: c.sign(dsc_from_builder(c, subject=_name((NameOID.COMMON_NAME, "x,C=XA")))),
    ),
    Item("replayed-upload", True, False, _replay),
    # --- regressions: each of these once exposed a product bug
    Item(
        "dsc-duplicate-extension",
        True,
        False,
        lambda c: c.sign(with_duplicate_extension(c.dsc().der, c.xa.csca.key)),
    ),
    Item(
        "dsc-x509-version-4",
        True,
        False,
        lambda c: c.sign(with_version(c.dsc().der, c.xa.csca.key, 3)),
    ),
    Item(
        "dsc-malformed-subject-name",
        True,
        False,
        lambda c: c.sign(with_malformed_subject(c.dsc().der, c.xa.csca.key)),
    ),
    Item(
        "dsc-malformed-issuer-name",
        True,
        False,
        lambda c: c.sign(with_malformed_issuer(c.dsc().der, c.xa.csca.key)),
    ),
    Item(
        "dsc-explicit-ec-parameters",
        True,
        False,
        lambda c: c.sign(c.resigned_dsc(explicit_p256_parameters)),
    ),
    Item(
        "signer-unknown-key-algorithm",
        False,
        True,
        _unknown_alg_signer,
    ),
    Item(
        "signer-duplicate-extension-ski-sid",
        False,
        True,
        _dup_ext_signer,
    ),
    Item(
        "sid-without-issuer",
        False,
        True,
        _malformed_sid,
    ),
    Item(
        "rsa-pss-negative-salt-length",
        False,
        True,
        lambda c: _pss(c, "salt_length", -1),
    ),
    Item(
        "rsa-pss-hash-parameter-relabelled",
        False,
        True,
        lambda c: _pss(c, "hash_algorithm", {"algorithm": "sha1"}),
    ),
    Item(
        "embedded-certificate-ber-normalised",
        True,
        False,
        _ber_certificate_normalised,
    ),
    Item(
        "rsa-pss-trailer-field-2",
        False,
        True,
        lambda c: _pss(c, "trailer_field", 2),
    ),
]
