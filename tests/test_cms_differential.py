"""Differential test of the upload API against OpenSSL (reliability.md 2b, "Differential oracle").

Every corpus item is a CMS message, valid or hostile, with two independently declared expectations:
``openssl_ok`` (what ``openssl cms -verify -noverify`` should say; checked, so a broken corpus item shows up)
and ``policy_ok`` (whether the DSC and the signer pass the gateway's policy: registered UPLOAD signer, one
country, issued by the country's CSCA, DER-only certificates, SHA-2, signed attributes, ...). The oracle:

    the gateway answers 201  <=>  OpenSSL accepts the CMS  and  policy_ok

Any other answer must be a 4xx problem report with a ``reason``, never a 5xx, and must store no
SignerCertificate row. Items under "regressions" once exposed product bugs (now fixed).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.pki import cms, issuance
from gateway.pki.certs import certificate_der, thumbprint
from gateway.pki.errors import Reason
from gateway.pki.issuance import Issued
from tests.factory import NOW, CountryPki, Pki, resign_tbs, rsa_public_key
from tests.pki.test_cms import (
    ber_certificate,
    build_cms,
    der_header,
    nested_sequences,
    openssl_sign,
    openssl_verify,
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
from tests.pki.test_policy import explicit_p256_parameters
from trustlist.models import SignerCertificate

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings(
        "ignore:Parsed a serial number which wasn't positive:cryptography.utils.CryptographyDeprecationWarning"
    ),
]


@dataclass
class Ctx:
    pki: Pki
    xa: CountryPki
    tmp: Path
    client: object

    def dsc(self, **kwargs: object) -> Issued:
        """A fresh, policy-conform DSC of XA (a new key and serial every call)."""
        return self.xa.dsc(**kwargs)

    def sign(self, payload: bytes, **kwargs: object) -> bytes:
        return build_cms(payload, self.xa.upload.der, self.xa.upload.key, **kwargs)  # type: ignore[arg-type]

    def onboarded_upload(self, label: str, key: issuance.PrivateKey) -> Issued:
        issued = issuance.issue(issuance.name(f"XA upload {label}", "XA"), at=NOW, key=key)
        self.pki.onboard("XA", "UPLOAD", issued)
        return issued

    @functools.cached_property
    def rsa_upload(self) -> Issued:
        return self.onboarded_upload("RSA", rsa_key(2048))

    @functools.cached_property
    def p384_upload(self) -> Issued:
        return self.onboarded_upload("P-384", ec.generate_private_key(ec.SECP384R1()))

    def openssl(self, payload: bytes, signer: Issued | None = None, *extra: str) -> bytes:
        return openssl_sign(payload, signer or self.xa.upload, self.tmp, *extra)

    def upload(self, cms_der: bytes):
        return self.client.post(  # type: ignore[attr-defined]
            "/signerCertificate", base64.b64encode(cms_der), content_type="application/cms", **self.xa.headers()
        )

    def resigned_dsc(self, mutate: Callable[[object], None], hash_name: str = "sha256") -> bytes:
        return resign_tbs(self.dsc().certificate, self.xa.csca.key, mutate, hash_name)

    def dsc_with_key(self, public_key) -> bytes:
        return dsc_from_builder(self.xa, public_key=public_key)


def dsc_from_builder(
    xa: CountryPki,
    *,
    subject: x509.Name | None = None,
    public_key=None,
    issuer: Issued | None = None,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
) -> bytes:
    issuer = issuer or xa.csca
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or issuance.name("XA DSC differential", "XA"))
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key or ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return certificate_der(builder.sign(issuer.key, hashes.SHA256()))


def _serial(value: int) -> Callable[[object], None]:
    def mutate(tbs) -> None:
        tbs["serial_number"] = value

    return mutate


def _validity(not_before_days: int, not_after_days: int) -> Callable[[object], None]:
    def mutate(tbs) -> None:
        tbs["validity"] = {
            "not_before": {"utc_time": NOW + dt.timedelta(days=not_before_days)},
            "not_after": {"utc_time": NOW + dt.timedelta(days=not_after_days)},
        }

    return mutate


def _replay(ctx: Ctx) -> bytes:
    message = ctx.sign(ctx.dsc().der)
    assert ctx.upload(message).status_code == 201
    return message


def _ber_certificate(ctx: Ctx) -> bytes:
    upload = ctx.xa.upload.der
    return replace_element(ctx.sign(ctx.dsc().der), upload, ber_certificate(upload))


def _ber_certificate_normalised(ctx: Ctx) -> bytes:
    signer = signer_normalised_by_asn1crypto()
    ctx.pki.onboard("XA", "UPLOAD", signer)
    message = build_cms(ctx.dsc().der, signer.der, signer.key)
    return replace_element(message, signer.der, with_ber_validity_length(signer.der))


def _malformed_sid(ctx: Ctx) -> bytes:
    message = ctx.sign(ctx.dsc().der)
    sid = asn1_cms.ContentInfo.load(message)["content"]["signer_infos"][0]["sid"]
    return replace_element(message, sid.dump(), tlv(0x30, sid.chosen["serial_number"].dump()))


def _four_gigabytes(ctx: Ctx) -> bytes:
    dsc = ctx.dsc().der
    message = ctx.sign(dsc)
    header = der_header(0x04, len(dsc)) + dsc[:8]
    assert message.count(header) == 1
    return message.replace(header, b"\x04\x84\xff\xff\xff\xff" + dsc[:8])


def _other_country_upload(ctx: Ctx) -> bytes:
    xb = ctx.pki.country("XB")
    return build_cms(ctx.dsc().der, xb.upload.der, xb.upload.key)


def _not_onboarded_upload(ctx: Ctx) -> bytes:
    stranger = issuance.issue(issuance.name("XA upload unregistered", "XA"), at=NOW)
    return build_cms(ctx.dsc().der, stranger.der, stranger.key)


def _dsc_of_other_csca(ctx: Ctx) -> bytes:
    other_csca = issuance.issue(issuance.name("XA CSCA rogue", "XA"), at=NOW, ca=True)
    return ctx.sign(ctx.dsc(csca=other_csca).der)


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _dup_ext_signer(ctx: Ctx) -> bytes:
    upload = ctx.xa.upload
    signer = with_duplicate_extension(upload.der, upload.key)
    return build_cms(ctx.dsc().der, signer, upload.key, sid="ski", sid_source=upload.der)


def _unknown_alg_signer(ctx: Ctx) -> bytes:
    upload = ctx.xa.upload
    return build_cms(ctx.dsc().der, with_unknown_key_algorithm(upload.der, upload.key), upload.key)


def _pss(ctx: Ctx, field_name: str, value: object) -> bytes:
    rsa = ctx.rsa_upload
    return with_pss_parameter(build_cms(ctx.dsc().der, rsa.der, rsa.key, scheme="pss"), field_name, value)


@dataclass(frozen=True)
class Item:
    label: str
    openssl_ok: bool
    policy_ok: bool
    build: Callable[[Ctx], bytes]
    bug: str = ""
    marks: tuple = field(default=())


CORPUS: list[Item] = [
    # --- valid messages: accepted by both ---------------------------------------------------------
    Item("valid-ec-p256-pkcs7-builder", True, True, lambda c: c.xa.cms(c.dsc().der)),
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
    Item("openssl-sha1-digest", True, False, lambda c: c.openssl(c.dsc().der, None, "-md", "sha1")),
    Item("openssl-no-signed-attributes", True, False, lambda c: c.openssl(c.dsc().der, None, "-noattr")),
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
    # --- who signed ---------------------------------------------------------------------------------
    Item("signer-not-onboarded", True, False, _not_onboarded_upload),
    Item("signer-other-country-upload", True, False, _other_country_upload),
    Item("signer-is-country-csca", True, False, lambda c: build_cms(c.dsc().der, c.xa.csca.der, c.xa.csca.key)),
    Item("signer-is-auth-certificate", True, False, lambda c: build_cms(c.dsc().der, c.xa.auth.der, c.xa.auth.key)),
    # --- what was signed: payload and DSC policy ----------------------------------------------------
    Item("payload-not-a-certificate", True, False, lambda c: c.sign(b"hello, gateway")),
    Item("payload-pem-certificate", True, False, lambda c: c.sign(c.dsc().cert_pem)),
    Item("payload-two-certificates", True, False, lambda c: c.sign(c.dsc().der + c.dsc().der)),
    Item("dsc-expired", True, False, lambda c: c.sign(c.resigned_dsc(_validity(-30, -1)))),
    Item("dsc-not-yet-valid", True, False, lambda c: c.sign(c.resigned_dsc(_validity(1, 30)))),
    Item("dsc-not-before-after-not-after", True, False, lambda c: c.sign(c.resigned_dsc(_validity(1, -1)))),
    Item("dsc-serial-zero", True, False, lambda c: c.sign(c.resigned_dsc(_serial(0)))),
    Item("dsc-serial-negative", True, False, lambda c: c.sign(c.resigned_dsc(_serial(-77)))),
    Item("dsc-serial-21-octets", True, False, lambda c: c.sign(c.resigned_dsc(_serial(1 << 160)))),
    Item(
        "dsc-unknown-critical-extension",
        True,
        False,
        lambda c: c.sign(
            dsc_from_builder(
                c.xa,
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
        lambda c: c.sign(issuance.issue(issuance.name("XA DSC self-signed", "XA"), at=NOW).der),
    ),
    Item("dsc-own-csca-uploaded-as-dsc", True, False, lambda c: c.sign(c.xa.csca.der)),
    Item("dsc-issued-by-unknown-csca", True, False, _dsc_of_other_csca),
    Item("dsc-country-mismatch", True, False, lambda c: c.sign(c.dsc(country="XB").der)),
    Item(
        "dsc-no-country",
        True,
        False,
        lambda c: c.sign(dsc_from_builder(c.xa, subject=_name((NameOID.COMMON_NAME, "XA DSC no country")))),
    ),
    Item(
        "dsc-two-countries",
        True,
        False,
        lambda c: c.sign(
            dsc_from_builder(
                c.xa,
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
        lambda c: c.sign(dsc_from_builder(c.xa, subject=_name((NameOID.COMMON_NAME, "x,C=XA")))),
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


def _params() -> list:
    params = []
    for item in CORPUS:
        marks = list(item.marks)
        if item.bug:
            marks.append(pytest.mark.xfail(strict=True, reason=f"BUG {item.bug}"))
        params.append(pytest.param(item, id=item.label, marks=marks))
    return params


def test_corpus_is_large_and_labelled() -> None:
    labels = [item.label for item in CORPUS]
    assert len(labels) == len(set(labels)) >= 30
    assert sum(item.openssl_ok and item.policy_ok for item in CORPUS) >= 10
    assert sum(not item.openssl_ok for item in CORPUS) >= 10
    assert sum(item.openssl_ok and not item.policy_ok for item in CORPUS) >= 10


@pytest.mark.parametrize("item", _params())
def test_gateway_agrees_with_openssl(item: Item, pki: Pki, xa: CountryPki, client, tmp_path: Path) -> None:
    client.raise_request_exception = False  # a view crash must surface as the 500 a client would get
    ctx = Ctx(pki, xa, tmp_path, client)
    message = item.build(ctx)

    verdict = openssl_verify(message, tmp_path)
    openssl_ok = verdict.returncode == 0
    assert openssl_ok == item.openssl_ok, f"corpus item misdeclared: openssl said {verdict.stderr!r}"

    before = SignerCertificate.objects.count()
    response = ctx.upload(message)
    after = SignerCertificate.objects.count()

    expected_201 = openssl_ok and item.policy_ok
    if expected_201:
        assert response.status_code == 201, response.content
        assert after == before + 1
        stored = SignerCertificate.objects.get(thumbprint=thumbprint(_payload(message)))
        assert stored.country == "XA"
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    problem = response.json()
    assert set(problem) >= {"code", "problem", "sendValue", "details", "reason"}
    assert problem["reason"] in Reason.__members__
    assert after == before, "a rejected upload stored a row"


def _payload(message: bytes) -> bytes:
    return cms.parse_attached(message).payload
