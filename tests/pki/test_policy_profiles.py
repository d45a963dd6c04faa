"""The shapes real national backends sent DGCG (issue 22), judged under each policy profile:
refused by name under ``strict``, accepted with a finding under ``dgcg``, and refused under
``dgcg`` too when the issuer's signature over the certificate does not hold."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.pki.certs import read_certificate
from gateway.pki.chain import find_issuing_csca
from gateway.pki.errors import Reason, Rejected
from gateway.pki.issuance import Issued
from gateway.pki.policy import FINDINGS_ONLY, PROFILES, check_dsc
from tests.factory import NOW, CountryPki, Pki, resign_tbs
from tests.pki.test_cms import tlv, with_duplicate_extension
from tests.pki.test_policy import make_dsc

pytestmark = [
    pytest.mark.no_db,
    pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive"),
]

DAY = dt.timedelta(days=1)
STRICT, DGCG = PROFILES["strict"].dsc, PROFILES["dgcg"].dsc
BASIC_CONSTRAINTS = "2.5.29.19"


@pytest.fixture(scope="module")
def xa() -> CountryPki:
    return Pki.create().country("XA", onboard=False)


def _signed(tbs_der: bytes, issuer: Issued, template: bytes) -> bytes:
    """A certificate of ``tbs_der`` exactly as given, signed ECDSA-SHA256 by ``issuer``."""
    assert isinstance(issuer.key, ec.EllipticCurvePrivateKey)
    signature = issuer.key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    parsed = asn1_x509.Certificate.load(template)
    return asn1_x509.Certificate(
        {
            "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": parsed["signature_algorithm"],
            "signature_value": signature,
        }
    ).dump()


def _with_basic_constraints(
    xa: CountryPki, value: bytes, *, extra: tuple[tuple[str, bytes], ...] = (), **kwargs: object
) -> bytes:
    """A DSC whose basicConstraints extension value is ``value`` byte for byte (asn1crypto would
    re-encode a parsed value canonically, so the extension is rebuilt from raw bytes), and the
    ``extra`` (dotted OID, raw value) extensions, non-critical."""
    template = make_dsc(xa.csca, **kwargs).public_bytes(Encoding.DER)  # type: ignore[arg-type]
    tbs = asn1_x509.Certificate.load(template)["tbs_certificate"]
    extensions = []
    for extension in tbs["extensions"]:
        if extension["extn_id"].dotted == BASIC_CONSTRAINTS:
            extension = _raw_extension(extension["extn_id"].dump(), value, critical=True)
        extensions.append(extension)
    for dotted, raw in extra:
        extensions.append(_raw_extension(asn1_core.ObjectIdentifier(dotted).dump(), raw, critical=False))
    tbs["extensions"] = asn1_x509.Extensions(extensions)
    return _signed(tbs.dump(), xa.csca, template)


def _raw_extension(oid: bytes, value: bytes, *, critical: bool) -> asn1_x509.Extension:
    body = oid + (b"\x01\x01\xff" if critical else b"") + tlv(0x04, value)
    return asn1_x509.Extension.load(tlv(0x30, body))


def _resigned(xa: CountryPki, mutate: Callable[[object], None], hash_name: str = "sha256", **kwargs: object) -> bytes:
    return resign_tbs(make_dsc(xa.csca, **kwargs), xa.csca.key, mutate, hash_name)  # type: ignore[arg-type]


def _serial(value: int) -> Callable[[object], None]:
    def mutate(tbs) -> None:
        tbs["serial_number"] = value

    return mutate


def _unchanged(tbs: object) -> None:
    return None


def _ber_outer_length(xa: CountryPki) -> bytes:
    """The certificate's outer SEQUENCE length in a longer form than DER allows (X.690 §10.1);
    the signed TBSCertificate is untouched, so the signature still holds."""
    der = make_dsc(xa.csca).public_bytes(Encoding.DER)
    assert der[1] == 0x82
    return b"\x30\x83\x00" + der[2:]


SHAPES: dict[str, tuple[Callable[[CountryPki], bytes], Reason]] = {
    "basicConstraints-encodes-DEFAULT-cA-FALSE": (
        lambda xa: _with_basic_constraints(xa, b"\x30\x03\x01\x01\x00"),
        Reason.CERTIFICATE_ENCODING,
    ),
    "pathLenConstraint-with-cA-FALSE": (
        lambda xa: _with_basic_constraints(xa, b"\x30\x03\x02\x01\x00"),
        Reason.CERTIFICATE_ENCODING,
    ),
    "not-DER-outer-length": (_ber_outer_length, Reason.CERTIFICATE_ENCODING),
    "ecdsa-with-SHA1": (lambda xa: _resigned(xa, _unchanged, "sha1"), Reason.SIGNATURE_ALGORITHM),
    "negative-serial": (lambda xa: _resigned(xa, _serial(-0x1234)), Reason.SERIAL_POLICY),
    "serial-21-octets": (lambda xa: _resigned(xa, _serial(2**167 + 5)), Reason.SERIAL_POLICY),
    "cA-TRUE": (lambda xa: _resigned(xa, _unchanged, ca=True), Reason.DSC_IS_CA),
    "notBefore-in-the-future": (
        lambda xa: _resigned(xa, _unchanged, not_before=NOW + 30 * DAY, not_after=NOW + 400 * DAY),
        Reason.NOT_YET_VALID,
    ),
}


def _judge(der: bytes, xa: CountryPki, policy_name: str) -> list[Reason]:
    """What an upload's checks do with ``der``: its issuer's signature, then the policy."""
    read = read_certificate(der)
    find_issuing_csca(read, [xa.csca.certificate], country="XA", at=NOW)
    policy = PROFILES[policy_name].dsc
    return [finding.reason for finding in check_dsc(read, at=NOW, policy=policy)]


@pytest.mark.parametrize("shape", SHAPES)
def test_strict_refuses_by_name(xa: CountryPki, shape: str) -> None:
    make, reason = SHAPES[shape]
    with pytest.raises(Rejected) as refused:
        _judge(make(xa), xa, "strict")
    assert refused.value.reason == reason


@pytest.mark.parametrize("shape", SHAPES)
def test_dgcg_accepts_with_a_finding(xa: CountryPki, shape: str) -> None:
    make, reason = SHAPES[shape]
    assert _judge(make(xa), xa, "dgcg") == [reason]


@pytest.mark.parametrize("shape", SHAPES)
def test_dgcg_refuses_a_wrong_signature(xa: CountryPki, shape: str) -> None:
    make, _reason = SHAPES[shape]
    der = bytearray(make(xa))
    der[-5] ^= 0x01  # inside the signature value, the last field of the certificate
    with pytest.raises(Rejected) as refused:
        _judge(bytes(der), xa, "dgcg")
    assert refused.value.reason == Reason.NOT_SIGNED_BY_CSCA


def test_the_kid_and_stored_bytes_are_the_originals(xa: CountryPki) -> None:
    """A re-encoded view is for reading only: what is hashed, stored and signed is as received."""
    der = _ber_outer_length(xa)
    read = read_certificate(der)
    assert read.der == der
    assert read.certificate.public_bytes(Encoding.DER) != der
    assert read.tbs == asn1_x509.Certificate.load(der)["tbs_certificate"].dump()


@pytest.mark.parametrize(
    "der",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x30\x03\x02\x01\x00", id="not-a-certificate"),
        pytest.param(b"junk" * 20, id="junk"),
    ],
)
def test_truly_malformed_input_is_still_a_parse_failure(der: bytes) -> None:
    with pytest.raises(Rejected) as refused:
        read_certificate(der)
    assert refused.value.reason == Reason.CERTIFICATE_PARSE


def test_trailing_bytes_and_duplicate_extensions_stay_refused(xa: CountryPki) -> None:
    der = make_dsc(xa.csca).public_bytes(Encoding.DER)
    for bad in (der + b"\x00", with_duplicate_extension(xa.csca.der, xa.csca.key)):
        with pytest.raises(Rejected) as refused:
            read_certificate(bad)
        assert refused.value.reason == Reason.CERTIFICATE_PARSE


def test_each_switch_overrides_its_profile(xa: CountryPki) -> None:
    """The dgcg profile with one switch set back to strict refuses that shape again."""
    sha1 = SHAPES["ecdsa-with-SHA1"][0](xa)
    tightened = dataclasses.replace(DGCG, allow_sha1_signatures=False)
    with pytest.raises(Rejected) as refused:
        check_dsc(read_certificate(sha1), at=NOW, policy=tightened)
    assert refused.value.reason == Reason.SIGNATURE_ALGORITHM


def test_findings_only_never_refuses_and_names_every_failed_check(xa: CountryPki) -> None:
    """What a federated import records: each shape's strict reason, as a finding."""
    for make, reason in SHAPES.values():
        assert reason in [
            finding.reason for finding in check_dsc(read_certificate(make(xa)), at=NOW, policy=FINDINGS_ONLY)
        ]
    assert check_dsc(read_certificate(make_dsc(xa.csca).public_bytes(Encoding.DER)), at=NOW, policy=FINDINGS_ONLY) == ()


def _indefinite(der: bytes) -> bytes:
    """The certificate with its outer SEQUENCE and its TBSCertificate in the indefinite-length
    form (BER, X.690 §8.1.3.6): the same values, but not the bytes the issuer signed."""
    parsed = asn1_x509.Certificate.load(der)
    tbs = parsed["tbs_certificate"]
    indefinite_tbs = b"\x30\x80" + tbs.contents + b"\x00\x00"
    rest = parsed["signature_algorithm"].dump() + parsed["signature_value"].dump()
    return b"\x30\x80" + indefinite_tbs + rest + b"\x00\x00"


def test_a_re_encoded_tbs_is_not_taken_for_the_signed_one(xa: CountryPki) -> None:
    """The issuer signed the DER TBSCertificate; the same values in BER are other bytes, whose
    signature is checked as received and fails (never over asn1crypto's re-encoding of them)."""
    der = make_dsc(xa.csca).public_bytes(Encoding.DER)
    ber = _indefinite(der)
    read = read_certificate(ber)
    assert read.tbs != read.certificate.tbs_certificate_bytes  # as received, not the view's DER
    assert Reason.CERTIFICATE_ENCODING in [f.reason for f in check_dsc(read, at=NOW, policy=DGCG)]
    with pytest.raises(Rejected) as refused:
        find_issuing_csca(read, [xa.csca.certificate], country="XA", at=NOW)
    assert refused.value.reason == Reason.NOT_SIGNED_BY_CSCA


def test_unreadable_extension_values_are_refused_by_name_not_raised(xa: CountryPki) -> None:
    """What cryptography refuses and asn1crypto cannot read either never escapes as another error:
    a value nested too deep to read, a subjectAltName of a name form cryptography does not know."""
    deep = b""
    for _ in range(3000):
        deep = tlv(0x30, deep)
    nested = _with_basic_constraints(xa, b"\x30\x03\x01\x01\x00", extra=(("1.3.6.1.4.1.99999.9", deep),))
    x400 = _with_basic_constraints(xa, b"\x30\x00", extra=(("2.5.29.17", tlv(0x30, b"\xa3\x02\x30\x00")),))
    for profile in ("strict", "dgcg"):
        with pytest.raises(Rejected) as refused:
            _judge(nested, xa, profile)
        assert refused.value.reason == Reason.CERTIFICATE_PARSE
    with pytest.raises(Rejected) as refused:
        _judge(x400, xa, "strict")
    assert refused.value.reason == Reason.CERTIFICATE_ENCODING  # a name form RFC 5280 allows, read by asn1crypto
    assert _judge(x400, xa, "dgcg") == [Reason.CERTIFICATE_ENCODING]
