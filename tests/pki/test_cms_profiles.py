"""gateway.pki.cms under the strict and the dgcg CmsPolicy (issue 22): the shapes real national
backends send, each refused by name under strict and accepted with its finding under dgcg, and
still refused under dgcg once its signature or content is wrong.

The builders here (a signer without a subjectKeyIdentifier, a re-encoded issuer Name, tampering)
are shared with tests/cms_corpus.py, which runs the same shapes against OpenSSL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from asn1crypto import cms as acms
from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from gateway.pki import cms, issuance
from gateway.pki.errors import Reason, Rejected
from gateway.pki.issuance import Issued
from gateway.pki.policy import PROFILES, CmsPolicy
from tests.factory import NOW
from tests.pki.test_cms import World, build_cms, make_world, replace_element, tlv, with_pss_parameter

pytestmark = pytest.mark.no_db

STRICT = PROFILES["strict"].cms
DGCG = PROFILES["dgcg"].cms
NO_ATTRIBUTES = Reason.CMS_NO_SIGNED_ATTRIBUTES
SHA1 = Reason.CMS_DIGEST_SHA1

# --- builders ----------------------------------------------------------------------------------


def _self_signed(
    label: str, extension: x509.ExtensionType, *, at: dt.datetime, key: issuance.PrivateKey | None = None
) -> Issued:
    """A self-signed UPLOAD-like certificate with ``extension`` as its only extension."""
    key = key or issuance.new_key()
    subject = issuance.name(f"XA upload {label}", "XA")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - dt.timedelta(days=1))
        .not_valid_after(at + dt.timedelta(days=365))
        .add_extension(extension, critical=isinstance(extension, x509.BasicConstraints))
    )
    return Issued(builder.sign(key, hashes.SHA256()), key)


def signer_without_ski(label: str, *, at: dt.datetime = NOW, key: issuance.PrivateKey | None = None) -> Issued:
    """No subjectKeyIdentifier extension (RFC 5280 §4.2.1.2 makes it only a SHOULD for end entities)."""
    return _self_signed(label, x509.BasicConstraints(ca=False, path_length=None), at=at, key=key)


def signer_with_ski(label: str, ski: bytes, *, at: dt.datetime = NOW) -> Issued:
    """A subjectKeyIdentifier of ``ski``, not the key's method-1 hash."""
    return _self_signed(label, x509.SubjectKeyIdentifier(ski), at=at)


def method1_key_identifier(cert_der: bytes) -> bytes:
    """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value."""
    bits = ax509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]["public_key"]
    return hashlib.sha1(bits.contents[1:]).digest()  # contents[0] is the unused-bits octet


_STRING_TAGS = {"utf8": 0x0C, "printable": 0x13}


def reencoded_name(name_der: bytes, *, string_type: str = "utf8", text: Callable[[str], str] = str) -> bytes:
    """The same Name by RFC 5280 §7.1 with other encodings: every value as ``string_type`` and
    passed through ``text`` (change case, add insignificant spaces)."""
    rdns = []
    for rdn in ax509.Name.load(name_der).chosen:
        attributes = [
            tlv(
                0x30,
                attribute["type"].dump() + tlv(_STRING_TAGS[string_type], text(attribute["value"].native).encode()),
            )
            for attribute in rdn
        ]
        rdns.append(tlv(0x31, b"".join(attributes)))
    return tlv(0x30, b"".join(rdns))


def with_sid_issuer(cms_der: bytes, issuer_der: bytes) -> bytes:
    """The SignerInfo's issuerAndSerialNumber with another issuer Name (the sid is not signed)."""
    sid = acms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]["sid"]
    assert sid.name == "issuer_and_serial_number"
    return replace_element(cms_der, sid.dump(), tlv(0x30, issuer_der + sid.chosen["serial_number"].dump()))


def signer_issuer(signer_der: bytes) -> bytes:
    return ax509.Certificate.load(signer_der)["tbs_certificate"]["issuer"].dump()


def tamper_content(cms_der: bytes, payload: bytes) -> bytes:
    """The embedded content with its last octet flipped (lengths unchanged)."""
    assert cms_der.count(payload) == 1
    return cms_der.replace(payload, payload[:-1] + bytes([payload[-1] ^ 0x01]))


def spaced_upper(value: str) -> str:
    """Upper case, doubled inner spaces and surrounding spaces: insignificant by RFC 4518 §2.6.1."""
    return "  " + value.upper().replace(" ", "  ") + " "


# --- the shapes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@dataclass(frozen=True)
class Shape:
    """A message shape: its signer in the World, the build_cms options, and what each profile says."""

    label: str
    signer: str  # "ec256" | "rsa"
    options: dict
    strict: Reason | None  # the strict refusal; None: accepted under strict too
    findings: tuple[Reason, ...]  # what dgcg records when it accepts

    def build(self, world: World, **extra: object) -> bytes:
        issued = world.xa.upload if self.signer == "ec256" else world.rsa_upload
        return build_cms(world.dsc.der, issued.der, issued.key, **{**self.options, **extra})


SHAPES = [
    # Latvia, Bulgaria, Vietnam: no signed attributes, the signature over the content (RFC 5652 §5.4)
    Shape("no-attributes-ecdsa", "ec256", {"signed_attributes": None}, NO_ATTRIBUTES, (NO_ATTRIBUTES,)),
    Shape("no-attributes-rsa-pkcs1v15", "rsa", {"signed_attributes": None}, NO_ATTRIBUTES, (NO_ATTRIBUTES,)),
    Shape(
        "no-attributes-rsa-pss", "rsa", {"signed_attributes": None, "scheme": "pss"}, NO_ATTRIBUTES, (NO_ATTRIBUTES,)
    ),
    # Norway: SHA-1 with RSA PKCS#1 v1.5, under either OID; and the other schemes with SHA-1
    Shape("sha1-rsa-encryption-oid", "rsa", {"digest": "sha1"}, SHA1, (SHA1,)),
    Shape(
        "sha1-with-rsa-encryption-oid",
        "rsa",
        {"digest": "sha1", "algorithm_override": {"algorithm": "sha1_rsa"}},
        SHA1,
        (SHA1,),
    ),
    Shape("ecdsa-with-sha1", "ec256", {"digest": "sha1"}, SHA1, (SHA1,)),
    # RFC 4055 §3.1: SHA-1 everywhere is PSS's default (an empty parameter SEQUENCE once encoded)
    Shape("rsa-pss-sha1", "rsa", {"digest": "sha1", "scheme": "pss"}, SHA1, (SHA1,)),
    Shape("rsa-pss-sha256-mgf1-sha1", "rsa", {"scheme": "pss", "mgf_digest": "sha1"}, SHA1, (SHA1,)),
    Shape("sha1-and-no-attributes", "rsa", {"digest": "sha1", "signed_attributes": None}, SHA1, (SHA1, NO_ATTRIBUTES)),
    # accepted by both profiles, without findings
    Shape("rsa-pss-sha256", "rsa", {"scheme": "pss"}, None, ()),
    Shape("ecdsa-ski-sid", "ec256", {"sid": "ski"}, None, ()),
]


def _shape_params() -> list:
    return [pytest.param(shape, id=shape.label) for shape in SHAPES]


def _relaxed(shapes: list[Shape]) -> list:
    return [pytest.param(shape, id=shape.label) for shape in shapes if shape.strict is not None]


def refused(data: bytes, policy: CmsPolicy, *, detached: bytes | None = None) -> Reason:
    call = (
        (lambda: cms.parse_attached(data, policy))
        if detached is None
        else (lambda: cms.verify_detached(data, detached, policy))
    )
    with pytest.raises(Rejected) as info:
        call()
    return info.value.reason


def reasons(message: cms.SignedMessage) -> tuple[Reason, ...]:
    return tuple(finding.reason for finding in message.findings)


@pytest.mark.parametrize("shape", _relaxed(SHAPES))
def test_strict_refuses_by_name(world: World, shape: Shape) -> None:
    data = shape.build(world)
    assert refused(data, STRICT) == shape.strict
    assert refused(data, CmsPolicy()) == shape.strict  # the default of every entry point is strict


@pytest.mark.parametrize("shape", _shape_params())
def test_dgcg_accepts_with_findings(world: World, shape: Shape) -> None:
    message = cms.parse_attached(shape.build(world), DGCG)
    assert message.payload == world.dsc.der
    assert reasons(message) == shape.findings
    assert all(finding.detail for finding in message.findings)
    if shape.strict is None:
        assert cms.parse_attached(shape.build(world), STRICT).findings == ()


@pytest.mark.parametrize("shape", _shape_params())
def test_dgcg_refuses_a_wrong_signature(world: World, shape: Shape) -> None:
    """The relaxed shape is taken, not its signature: one bit flipped is still refused."""
    assert refused(shape.build(world, tamper_signature=True), DGCG) == Reason.CMS_SIGNATURE_INVALID


@pytest.mark.parametrize("shape", _shape_params())
def test_dgcg_refuses_tampered_content(world: World, shape: Shape) -> None:
    """Without signed attributes the signature covers the content itself; with them, the messageDigest."""
    data = tamper_content(shape.build(world), world.dsc.der)
    expected = Reason.CMS_SIGNATURE_INVALID if NO_ATTRIBUTES in shape.findings else Reason.CMS_MESSAGE_DIGEST
    assert refused(data, DGCG) == expected


@pytest.mark.parametrize("shape", _relaxed(SHAPES))
def test_dgcg_relaxes_only_its_own_switch(world: World, shape: Shape) -> None:
    """Each switch alone: a shape with two findings needs both switches."""
    data = shape.build(world)
    for reason in shape.findings:
        only = CmsPolicy(
            allow_sha1_digest=reason == SHA1,
            require_signed_attributes=reason != NO_ATTRIBUTES,
        )
        if len(shape.findings) == 1:
            assert reasons(cms.parse_attached(data, only)) == (reason,)
        else:
            assert refused(data, only) != reason


def test_no_signed_attributes_has_no_signing_time(world: World) -> None:
    data = SHAPES[0].build(world)
    message = cms.parse_attached(data, DGCG)
    assert message.signing_time is None
    stored = cms.read_stored(data)  # what a replacement is compared with
    assert stored.content == world.dsc.der
    assert stored.signature == message.signature
    assert stored.signing_time is None


@pytest.mark.parametrize("shape", _relaxed(SHAPES))
def test_detached_form_under_both_profiles(world: World, shape: Shape) -> None:
    """verify_detached takes the same policy: stored signatures and trust-anchor signatures."""
    detached = cms.detach(shape.build(world))
    assert refused(detached, STRICT, detached=world.dsc.der) == shape.strict
    message = cms.verify_detached(detached, world.dsc.der, DGCG)
    assert reasons(message) == shape.findings
    other = world.dsc.der + b"\x00"
    expected = Reason.CMS_SIGNATURE_INVALID if NO_ATTRIBUTES in shape.findings else Reason.CMS_MESSAGE_DIGEST
    assert refused(detached, DGCG, detached=other) == expected


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        pytest.param({"digest": "md5"}, Reason.CMS_ALGORITHM, id="md5-digest"),
        pytest.param({"digest": "md5", "signed_attributes": None}, Reason.CMS_ALGORITHM, id="md5-no-attributes"),
        pytest.param(
            {"digest": "sha256", "algorithm_override": {"algorithm": "sha1_rsa"}},
            Reason.CMS_ALGORITHM,
            id="sha1-rsa-oid-with-sha256-digest",
        ),
        pytest.param({"signed_attributes": ()}, Reason.CMS_MISSING_ATTRIBUTES, id="empty-signed-attributes"),
    ],
)
def test_dgcg_keeps_the_other_checks(world: World, options: dict, reason: Reason) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, **options)
    assert refused(data, DGCG) == reason
    assert refused(data, STRICT) == reason


def test_dgcg_refuses_pss_mgf1_md5(world: World) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    mgf = {"algorithm": "mgf1", "parameters": {"algorithm": "md5"}}
    assert refused(with_pss_parameter(data, "mask_gen_algorithm", mgf), DGCG) == Reason.CMS_ALGORITHM


def test_pss_sha1_uses_rfc4055_default_parameters(world: World) -> None:
    """The SHA-1 PSS shape is what a BouncyCastle client emits: an empty parameter SEQUENCE."""
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, digest="sha1", scheme="pss")
    algorithm = acms.ContentInfo.load(data)["content"]["signer_infos"][0]["signature_algorithm"]
    assert algorithm["parameters"].contents == b""
    assert reasons(cms.parse_attached(data, DGCG)) == (SHA1,)


# --- the SignerIdentifier: RFC 5280 name comparison and key identifiers (both profiles) ---------


@pytest.mark.parametrize("policy", [pytest.param(STRICT, id="strict"), pytest.param(DGCG, id="dgcg")])
@pytest.mark.parametrize(
    ("string_type", "text"),
    [
        pytest.param("utf8", str, id="utf8-string"),
        pytest.param("utf8", spaced_upper, id="case-and-spaces"),
    ],
)
def test_issuer_name_equal_by_rfc5280_is_accepted_silently(
    world: World, policy: CmsPolicy, string_type: str, text: Callable[[str], str]
) -> None:
    upload = world.xa.upload
    issuer = signer_issuer(upload.der)
    other_encoding = reencoded_name(issuer, string_type=string_type, text=text)
    assert other_encoding != issuer
    data = with_sid_issuer(build_cms(world.dsc.der, upload.der, upload.key), other_encoding)
    message = cms.parse_attached(data, policy)
    assert message.signer_der == upload.der
    assert message.findings == ()
    assert refused(
        with_sid_issuer(build_cms(world.dsc.der, upload.der, upload.key, tamper_signature=True), other_encoding), policy
    ) == (Reason.CMS_SIGNATURE_INVALID)


@pytest.mark.parametrize("policy", [pytest.param(STRICT, id="strict"), pytest.param(DGCG, id="dgcg")])
@pytest.mark.parametrize(
    "text",
    [
        pytest.param(lambda value: value + "x", id="another-value"),
        pytest.param(lambda value: value.replace(" ", ""), id="spaces-removed"),
    ],
)
def test_issuer_name_that_differs_is_refused(world: World, policy: CmsPolicy, text: Callable[[str], str]) -> None:
    upload = world.xa.upload
    other = reencoded_name(signer_issuer(upload.der), text=text)
    data = with_sid_issuer(build_cms(world.dsc.der, upload.der, upload.key), other)
    assert refused(data, policy) == Reason.CMS_SIGNER_MISMATCH


@pytest.mark.parametrize("policy", [pytest.param(STRICT, id="strict"), pytest.param(DGCG, id="dgcg")])
def test_issuer_name_with_reordered_rdns_is_refused(world: World, policy: CmsPolicy) -> None:
    """RFC 5280 §7.1 compares RDNs in order; only the attributes inside one RDN are a set."""
    upload = world.xa.upload
    rdns = list(ax509.Name.load(signer_issuer(upload.der)).chosen)
    reordered = tlv(0x30, b"".join(rdn.dump() for rdn in reversed(rdns)))
    data = with_sid_issuer(build_cms(world.dsc.der, upload.der, upload.key), reordered)
    assert refused(data, policy) == Reason.CMS_SIGNER_MISMATCH


@pytest.mark.parametrize("policy", [pytest.param(STRICT, id="strict"), pytest.param(DGCG, id="dgcg")])
@pytest.mark.parametrize("signer_kind", ["ec", "rsa"])
def test_key_identifier_sid_needs_the_ski_extension(world: World, policy: CmsPolicy, signer_kind: str) -> None:
    """RFC 5652 §5.3: a key identifier matches the SKI extension's value; a certificate without
    one is not named by its key's method-1 hash (OpenSSL refuses it too), in either profile."""
    key = world.rsa_upload.key if signer_kind == "rsa" else None
    signer = signer_without_ski(f"no SKI {signer_kind}", key=key)
    ski = method1_key_identifier(signer.der)
    assert ax509.Certificate.load(signer.der).key_identifier is None
    data = build_cms(world.dsc.der, signer.der, signer.key, sid="ski", ski_value=ski)
    assert refused(data, policy) == Reason.CMS_SIGNER_MISMATCH


@pytest.mark.parametrize("policy", [pytest.param(STRICT, id="strict"), pytest.param(DGCG, id="dgcg")])
def test_ski_extension_wins_over_method1(world: World, policy: CmsPolicy) -> None:
    """With an SKI extension the sid must be its value, even when that is not the key's hash."""
    signer = signer_with_ski("odd SKI", b"\x07" * 20)
    by_extension = build_cms(world.dsc.der, signer.der, signer.key, sid="ski", ski_value=b"\x07" * 20)
    assert cms.parse_attached(by_extension, policy).findings == ()
    by_hash = build_cms(world.dsc.der, signer.der, signer.key, sid="ski", ski_value=method1_key_identifier(signer.der))
    assert refused(by_hash, policy) == Reason.CMS_SIGNER_MISMATCH


def test_sid_issuer_that_is_not_a_name_is_refused(world: World) -> None:
    """A string the LDAP StringPrep refuses (an unassigned code point) makes no name, not an error."""
    upload = world.xa.upload
    bad = tlv(0x30, tlv(0x31, tlv(0x30, core.ObjectIdentifier("2.5.4.3").dump() + tlv(0x0C, "\U000e0080".encode()))))
    data = with_sid_issuer(build_cms(world.dsc.der, upload.der, upload.key), bad)
    assert refused(data, DGCG) in {Reason.CMS_SIGNER_MISMATCH, Reason.CMS_PARSE}
