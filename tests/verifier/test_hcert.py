"""Unit tests of the health certificate verifier: one test per failure reason, round trips.

Keys and certificates are made in-process; no database, no network.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import random
import zlib
from functools import cache
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from verifier import cose
from verifier.base45 import ALPHABET, Base45Error, b45decode, b45encode
from verifier.checks import DscValidity
from verifier.decode import MAX_TEXT_LENGTH
from verifier.hcert import verify_hc1, verify_qr_image
from verifier.issue import issue_hc1
from verifier.qr import QrError, decode_qr_image, qr_png
from verifier.reasons import Reason, Status, Step
from verifier.revocation_hashes import HashType, revocation_hash
from verifier.revocation_partition import UNKNOWN_KID, encode_group
from verifier.revoked_hashes import RevokedHashes
from verifier.trust import RevocationSet, TrustedDsc, TrustStore, kid_of
from verifier.usages import ALL_USAGES

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)  # DSC notBefore
ISSUED = T0 + dt.timedelta(days=30)
NOW = ISSUED + dt.timedelta(days=1)
EXPIRES = ISSUED + dt.timedelta(days=180)
OID_TEST = "1.3.6.1.4.1.1847.2021.1.1"
OID_VACCINATION = "1.3.6.1.4.1.1847.2021.1.2"
OID_RECOVERY = "1.3.6.1.4.1.1847.2021.1.3"
OID_VACCINATION_0 = "1.3.6.1.4.1.0.1847.2021.1.2"

NAME = {"fn": "Musterfrau-Gößinger", "fnt": "MUSTERFRAU<GOESSINGER", "gn": "Gabriele", "gnt": "GABRIELE"}
VACCINATION = {
    "ver": "1.3.0",
    "nam": NAME,
    "dob": "1998-02-26",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 1,
            "sd": 2,
            "dt": "2026-02-18",
            "co": "AT",
            "is": "Ministry of Health, Austria",
            "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
        }
    ],
}
TEST = {
    "ver": "1.3.0",
    "nam": NAME,
    "dob": "1998-02-26",
    "t": [
        {
            "tg": "840539006",
            "tt": "LP6464-4",
            "sc": "2026-03-30T12:34:56Z",
            "tr": "260415000",
            "tc": "Testing center Vienna 1",
            "co": "AT",
            "is": "Ministry of Health, Austria",
            "ci": "URN:UVCI:01:AT:B5921A35D6A0D696421B3E2462178297#I",
        }
    ],
}


class Dsc:
    def __init__(self, key, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert
        self.der = cert.public_bytes(Encoding.DER)
        self.kid = kid_of(self.der)

    def store(self) -> TrustStore:
        return TrustStore.from_certificates([self.cert])

    def issue(self, payload=VACCINATION, **kwargs) -> str:
        kwargs.setdefault("iat", ISSUED)
        kwargs.setdefault("exp", EXPIRES)
        kwargs.setdefault("issuer", "AT")
        return issue_hc1(payload, self.cert, self.key, **kwargs)


def make_dsc(
    key=None,
    *,
    eku: list[str] | None = None,
    not_before: dt.datetime = T0,
    not_after: dt.datetime = T0 + dt.timedelta(days=730),
    country: str = "AT",
    serial: int | None = None,
) -> Dsc:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, country), x509.NameAttribute(NameOID.COMMON_NAME, "DSC")]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ObjectIdentifier(oid) for oid in eku]), critical=False)
    return Dsc(key, builder.sign(key, hashes.SHA256()))


@cache
def ec_dsc() -> Dsc:
    return make_dsc()


@cache
def rsa_key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def reasons(result) -> dict[str, str]:
    return {outcome.step.value: outcome.reason.value for outcome in result.steps if outcome.status != Status.PASSED}


def failed(result, step: Step) -> Reason:
    outcome = result.step(step)
    assert outcome is not None, f"no {step} outcome"
    assert outcome.status is Status.FAILED, f"{step} is {outcome}"
    assert not result.valid
    return outcome.reason


def wrap(cose_bytes: bytes) -> str:
    return "HC1:" + b45encode(zlib.compress(cose_bytes))


def cose_of(text: str) -> bytes:
    return zlib.decompress(b45decode(text[4:]))


def sign_raw(dsc: Dsc, protected: dict, unprotected: dict | None = None, claims=None, *, tags=(18,)) -> bytes:
    """A COSE_Sign1 with exactly these headers (signed with ES256 regardless of them)."""
    if claims is None:
        claims = {1: "AT", 6: int(ISSUED.timestamp()), 4: int(EXPIRES.timestamp()), -260: {1: VACCINATION}}
    payload = claims if isinstance(claims, bytes) else cbor2.dumps(claims)
    protected_bytes = cbor2.dumps(protected) if protected else b""
    der = dsc.key.sign(cose.sig_structure(protected_bytes, payload), ec.ECDSA(hashes.SHA256()))
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    obj = [protected_bytes, unprotected or {}, payload, r.to_bytes(32, "big") + s.to_bytes(32, "big")]
    for tag in reversed(tags):
        obj = cbor2.CBORTag(tag, obj)
    return cbor2.dumps(obj)


# --- round trips ------------------------------------------------------------------------------


def test_es256_round_trip():
    dsc = ec_dsc()
    result = verify_hc1(dsc.issue(), dsc.store(), NOW)
    assert result.valid, reasons(result)
    assert [outcome.step for outcome in result.steps] == [
        Step.UNPREFIX,
        Step.B45DECODE,
        Step.COMPRESSION,
        Step.COSE,
        Step.VERIFY,
        Step.CLAIMS,
        Step.EXPIRATIONCHECK,
        Step.KEYUSAGE,
        Step.REVOCATION,
    ]
    assert result.payload == VACCINATION
    assert result.payload_type == "v"
    assert result.kid == dsc.kid
    assert result.alg == cose.ES256
    assert result.issuer_country == "AT"
    assert result.dsc_country == "AT"
    assert result.dsc is not None
    assert result.dsc.thumbprint == hashlib.sha256(dsc.der).hexdigest()
    assert result.issued_at == int(ISSUED.timestamp())
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["valid"] is True
    assert summary["kid"] == base64.b64encode(dsc.kid).decode()
    assert summary["alg"] == "ES256"
    assert summary["payload"]["v"][0]["co"] == "AT"


@pytest.mark.parametrize("bits", [2048, 3072])
def test_ps256_round_trip(bits):
    dsc = make_dsc(rsa_key(bits))
    text = dsc.issue(TEST)
    message = cose.parse(cose_of(text))
    assert message.alg == cose.PS256
    assert len(message.signature) == bits // 8
    result = verify_hc1(text, dsc.store(), NOW)
    assert result.valid, reasons(result)
    assert result.payload_type == "t"


def test_qr_png_round_trip_through_zxing():
    dsc = ec_dsc()
    text = dsc.issue()
    png = qr_png(text)
    assert png.startswith(b"\x89PNG")
    assert decode_qr_image(png) == text
    result = verify_qr_image(png, dsc.store(), NOW)
    assert result.valid, reasons(result)
    assert result.steps[0].step is Step.PICTUREDECODE
    assert result.payload == VACCINATION


@pytest.mark.parametrize(("tags", "expected"), [((18,), (18,)), ((61, 18), (61, 18)), ((), ())])
def test_cose_tags_accepted(tags, expected):
    dsc = ec_dsc()
    text = dsc.issue(tags=tags)
    assert cose.parse(cose_of(text)).tags == expected
    assert verify_hc1(text, dsc.store(), NOW).valid


def test_kid_in_the_unprotected_header():
    dsc = ec_dsc()
    text = dsc.issue(kid_in="unprotected")
    message = cose.parse(cose_of(text))
    assert 4 not in message.protected
    assert message.unprotected[4] == dsc.kid
    assert verify_hc1(text, dsc.store(), NOW).valid


def test_alg_and_kid_only_unprotected_with_empty_protected_header():
    """CO20: a zero-length protected header, alg and kid unprotected."""
    dsc = ec_dsc()
    text = wrap(sign_raw(dsc, {}, {1: cose.ES256, 4: dsc.kid}))
    assert cose.parse(cose_of(text)).protected_bytes == b""
    assert verify_hc1(text, dsc.store(), NOW).valid


def test_protected_kid_wins_over_unprotected():
    dsc = ec_dsc()
    # CO21: protected right, unprotected wrong: valid.
    assert verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, {4: b"foo"})), dsc.store(), NOW).valid
    # CO22: protected wrong, unprotected right: invalid.
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: b"foo"}, {4: dsc.kid})), dsc.store(), NOW)
    assert failed(result, Step.VERIFY) is Reason.KID_UNKNOWN


def test_every_dsc_sharing_a_kid_is_tried():
    signer = ec_dsc()
    store = TrustStore()
    impostors = [make_dsc() for _ in range(2)]
    for impostor in impostors:
        store.add_certificate(impostor.cert, kid=signer.kid)  # same kid, other keys
    rsa_dsc = make_dsc(rsa_key())
    store.add_certificate(rsa_dsc.cert, kid=signer.kid)
    store.add_certificate(signer.cert)
    assert len(store.candidates(signer.kid)) == 4
    result = verify_hc1(signer.issue(), store, NOW)
    assert result.valid, reasons(result)
    assert result.dsc is not None
    assert result.dsc.der == signer.der


def test_usages_follow_the_intersection_rule():
    for eku, usages in [
        (None, ALL_USAGES),
        ([OID_VACCINATION_0], {"vaccination"}),
        ([OID_TEST, OID_RECOVERY], {"test", "recovery"}),
        ([ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string], ALL_USAGES),  # no DCC OID: any type
        ([ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string, OID_TEST], {"test"}),
    ]:
        dsc = make_dsc(eku=eku)
        assert dsc.store().candidates(dsc.kid)[0].usages == frozenset(usages), eku


def test_key_usage_allows_the_payload_type():
    dsc = make_dsc(eku=[OID_VACCINATION_0])
    assert verify_hc1(dsc.issue(VACCINATION), dsc.store(), NOW).valid
    other = make_dsc(eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string])
    assert verify_hc1(other.issue(TEST), other.store(), NOW).valid


def test_float_times_and_cbor_date_tags_are_accepted():
    dsc = ec_dsc()
    payload = dict(TEST, t=[dict(TEST["t"][0], sc=dt.datetime(2026, 3, 30, 12, 34, 56, tzinfo=dt.UTC))])
    text = dsc.issue(payload, iat=ISSUED.timestamp() + 0.5, exp=EXPIRES.timestamp() + 0.25)
    result = verify_hc1(text, dsc.store(), NOW)
    assert result.valid, reasons(result)
    assert result.payload == TEST  # the tag-0 date comes back as the ISO text
    tagged = {1: "AT", 6: cbor2.CBORTag(1, int(ISSUED.timestamp())), 4: int(EXPIRES.timestamp()), -260: {1: TEST}}
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, claims=tagged)), dsc.store(), NOW)
    assert result.valid, reasons(result)
    assert result.issued_at == ISSUED.timestamp()


def test_line_breaks_around_the_text_are_ignored():
    dsc = ec_dsc()
    assert verify_hc1(dsc.issue() + "\r\n", dsc.store(), NOW).valid


def test_naive_clock_is_refused():
    dsc = ec_dsc()
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_hc1(dsc.issue(), dsc.store(), NOW.replace(tzinfo=None))


# --- one test per failure reason ----------------------------------------------------------------


def test_input_too_large():
    result = verify_hc1("HC1:" + "0" * MAX_TEXT_LENGTH, TrustStore(), NOW)
    assert failed(result, Step.UNPREFIX) is Reason.INPUT_TOO_LARGE
    assert {outcome.reason for outcome in result.steps[1:]} == {Reason.NOT_REACHED}
    assert all(outcome.status is Status.SKIPPED for outcome in result.steps[1:])


@pytest.mark.parametrize("prefix", ["", "HL0:", "hc1:", "HC1", "HC1 :"])
def test_prefix_missing(prefix):
    body = ec_dsc().issue()[4:]
    assert failed(verify_hc1(prefix + body, TrustStore(), NOW), Step.UNPREFIX) is Reason.PREFIX_MISSING


@pytest.mark.parametrize("prefix", ["HC2:", "HC9:", "HCA:"])
def test_prefix_unsupported_version(prefix):
    body = ec_dsc().issue()[4:]
    result = verify_hc1(prefix + body, TrustStore(), NOW)
    assert failed(result, Step.UNPREFIX) is Reason.PREFIX_UNSUPPORTED_VERSION


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("NCFabc", Reason.BASE45_INVALID_CHARACTER),
        ("NCF\u00e9AB", Reason.BASE45_INVALID_CHARACTER),
        ("NCF=", Reason.BASE45_INVALID_CHARACTER),
        ("NCFA", Reason.BASE45_INVALID_LENGTH),
        ("GGW", Reason.BASE45_VALUE_OUT_OF_RANGE),  # 65536
        ("000::", Reason.BASE45_VALUE_OUT_OF_RANGE),  # final pair 44 + 45*44 > 255
    ],
)
def test_base45_failures(body, reason):
    assert failed(verify_hc1("HC1:" + body, TrustStore(), NOW), Step.B45DECODE) is reason


def test_compression_not_zlib():
    dsc = ec_dsc()
    result = verify_hc1(dsc.issue(compress=False), dsc.store(), NOW)
    assert failed(result, Step.COMPRESSION) is Reason.COMPRESSION_NOT_ZLIB


def test_compression_corrupt():
    result = verify_hc1("HC1:" + b45encode(b"\x78\x9c" + bytes(range(200, 256)) * 3), TrustStore(), NOW)
    assert failed(result, Step.COMPRESSION) is Reason.COMPRESSION_CORRUPT


def test_compression_truncated():
    compressed = zlib.compress(cose_of(ec_dsc().issue()))
    result = verify_hc1("HC1:" + b45encode(compressed[:-10]), TrustStore(), NOW)
    assert failed(result, Step.COMPRESSION) is Reason.COMPRESSION_TRUNCATED


def test_compression_too_large():
    bomb = zlib.compress(b"\0" * (10 * 1024 * 1024), 9)
    assert len(bomb) < 11_000
    result = verify_hc1("HC1:" + b45encode(bomb[:2800]), TrustStore(), NOW)
    assert failed(result, Step.COMPRESSION) is Reason.COMPRESSION_TOO_LARGE
    small = verify_hc1(ec_dsc().issue(), ec_dsc().store(), NOW, max_inflated=100)
    assert failed(small, Step.COMPRESSION) is Reason.COMPRESSION_TOO_LARGE


def test_cbor_malformed():
    assert failed(verify_hc1(wrap(b"\xff\xff\x49"), TrustStore(), NOW), Step.COSE) is Reason.CBOR_MALFORMED
    truncated = cose_of(ec_dsc().issue())[:-20]
    assert failed(verify_hc1(wrap(truncated), TrustStore(), NOW), Step.COSE) is Reason.CBOR_MALFORMED


def test_cbor_trailing_data():
    text = wrap(cose_of(ec_dsc().issue()) + b"\x00")
    assert failed(verify_hc1(text, ec_dsc().store(), NOW), Step.COSE) is Reason.CBOR_TRAILING_DATA


@pytest.mark.parametrize("tags", [(98,), (17,), (18, 18), (18, 61)])
def test_cose_unsupported_tag(tags):
    dsc = ec_dsc()
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, tags=tags)), dsc.store(), NOW)
    assert failed(result, Step.COSE) is Reason.COSE_UNSUPPORTED_TAG


@pytest.mark.parametrize("obj", [0, {1: 2}, [b"", {}, b""], "text", cbor2.CBORTag(18, [b"", {}, b"", b"", b""])])
def test_cose_not_sign1(obj):
    """CBO2: a CWT structure that is not a COSE_Sign1 at all."""
    result = verify_hc1(wrap(cbor2.dumps(obj)), TrustStore(), NOW)
    assert failed(result, Step.COSE) is Reason.COSE_NOT_SIGN1
    assert result.step(Step.VERIFY).reason is Reason.NOT_REACHED


@pytest.mark.parametrize(
    "obj",
    [
        ["text", {}, b"payload", b"s"],  # protected header not a bstr
        [cbor2.dumps([1, 2]), {}, b"payload", b"s"],  # protected header not a map
        [b"\xa1\x01", {}, b"payload", b"s"],  # protected header not CBOR
        [cbor2.dumps({1: -7}), [], b"payload", b"s"],  # unprotected header not a map
        [cbor2.dumps({1: -7, 4: "kid-as-text"}), {}, b"payload", b"s"],  # kid not bytes
        [b"\xa2\x01\x26\x01\x26", {}, b"payload", b"s"],  # duplicate label in the protected header
    ],
)
def test_cose_header_malformed(obj):
    result = verify_hc1(wrap(cbor2.dumps(cbor2.CBORTag(18, obj))), TrustStore(), NOW)
    assert failed(result, Step.COSE) is Reason.COSE_HEADER_MALFORMED


def test_cose_critical_header():
    dsc = ec_dsc()
    text = wrap(sign_raw(dsc, {1: -7, 2: [99], 4: dsc.kid, 99: True}))
    assert failed(verify_hc1(text, dsc.store(), NOW), Step.COSE) is Reason.COSE_CRITICAL_HEADER
    for crit in ([[1]], "x", [{1: 2}]):
        text = wrap(sign_raw(dsc, {1: -7, 2: crit, 4: dsc.kid}))
        assert failed(verify_hc1(text, dsc.store(), NOW), Step.COSE) is Reason.COSE_CRITICAL_HEADER
    understood = wrap(sign_raw(dsc, {1: -7, 2: [1], 4: dsc.kid}))
    assert verify_hc1(understood, dsc.store(), NOW).valid


def test_cose_detached_payload():
    obj = cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {4: b"12345678"}, None, b"s" * 64])
    assert failed(verify_hc1(wrap(cbor2.dumps(obj)), TrustStore(), NOW), Step.COSE) is Reason.COSE_DETACHED_PAYLOAD


def test_alg_missing():
    dsc = ec_dsc()
    assert failed(verify_hc1(wrap(sign_raw(dsc, {4: dsc.kid})), dsc.store(), NOW), Step.COSE) is Reason.ALG_MISSING


@pytest.mark.parametrize("alg", [-35, -36, -8, 1, "ES256", True])
def test_alg_unsupported(alg):
    """CO4: anything but ES256 (-7) and PS256 (-37)."""
    dsc = ec_dsc()
    text = wrap(sign_raw(dsc, {1: alg, 4: dsc.kid}))
    assert failed(verify_hc1(text, dsc.store(), NOW), Step.COSE) is Reason.ALG_UNSUPPORTED


def test_kid_missing():
    dsc = ec_dsc()
    assert failed(verify_hc1(wrap(sign_raw(dsc, {1: -7})), dsc.store(), NOW), Step.COSE) is Reason.KID_MISSING


@pytest.mark.parametrize("length", [7, 9, 0])
def test_kid_unknown(length):
    """CO25, CO26: a kid shorter or longer than 8 bytes names no DSC; CO23 likewise."""
    dsc = ec_dsc()
    kid = (dsc.kid * 2)[:length]
    result = verify_hc1(dsc.issue(kid=kid), dsc.store(), NOW)
    assert failed(result, Step.VERIFY) is Reason.KID_UNKNOWN
    assert result.step(Step.KEYUSAGE).reason is Reason.NO_VERIFIED_DSC
    assert result.step(Step.REVOCATION).reason is Reason.NO_VERIFIED_DSC
    # The unverified claims are still read and time-checked, to explain the certificate.
    assert result.passed(Step.CLAIMS)
    assert result.passed(Step.EXPIRATIONCHECK)
    assert "not checked" in result.step(Step.EXPIRATIONCHECK).detail


def test_dsc_unusable():
    dsc = ec_dsc()
    store = TrustStore()
    store.add(TrustedDsc(dsc.kid, {"certificate": b"not a certificate"}))
    assert failed(verify_hc1(dsc.issue(), store, NOW), Step.VERIFY) is Reason.DSC_UNUSABLE
    # A trust list entry whose certificate does not hash to its stated thumbprint is unusable.
    payload = trust_list_payload([dsc], thumbprint="00" * 32)
    result = verify_hc1(dsc.issue(), TrustStore.from_trust_list_payload(payload), NOW)
    assert failed(result, Step.VERIFY) is Reason.DSC_UNUSABLE
    assert "thumbprint" in result.step(Step.VERIFY).detail


def test_key_alg_mismatch():
    # A P-384 key under alg ES256 with a 96-byte signature: rejected (docs/verifier-conformance.md, "alg").
    p384 = make_dsc(ec.generate_private_key(ec.SECP384R1()))
    text = p384.issue(alg=cose.ES256)
    assert len(cose.parse(cose_of(text)).signature) == 96
    assert failed(verify_hc1(text, p384.store(), NOW), Step.VERIFY) is Reason.KEY_ALG_MISMATCH
    # CO27: an RSA DSC named by an ES256 header.
    rsa_dsc = make_dsc(rsa_key())
    text = wrap(sign_raw(ec_dsc(), {1: cose.ES256, 4: rsa_dsc.kid}))
    assert failed(verify_hc1(text, rsa_dsc.store(), NOW), Step.VERIFY) is Reason.KEY_ALG_MISMATCH
    # PS256 with an RSA key below 2048 bits.
    weak = make_dsc(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    assert failed(verify_hc1(weak.issue(), weak.store(), NOW), Step.VERIFY) is Reason.KEY_ALG_MISMATCH


@pytest.mark.parametrize("size", [3, 63, 65, 72, 96])
def test_signature_malformed(size):
    """CO5 (3 bytes), CO24 (longer than a DER ECDSA signature): rejected without a crash."""
    dsc = ec_dsc()
    obj = cbor2.loads(cose_of(dsc.issue()))
    obj = cbor2.CBORTag(18, [*obj.value[:3], bytes(range(size))])
    result = verify_hc1(wrap(cbor2.dumps(obj)), dsc.store(), NOW)
    assert failed(result, Step.VERIFY) is Reason.SIGNATURE_MALFORMED


def test_signature_invalid():
    dsc = ec_dsc()
    obj = cbor2.loads(cose_of(dsc.issue()))
    protected, unprotected, payload, signature = obj.value
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    for forged in (
        [protected, unprotected, payload, flipped],
        [protected, unprotected, payload[:-1] + b"\x00", signature],
        [cbor2.dumps({4: dsc.kid, 1: -7}), unprotected, payload, signature],  # re-encoded header
        [protected, unprotected, payload, bytes(64)],
    ):
        result = verify_hc1(wrap(cbor2.dumps(cbor2.CBORTag(18, forged))), dsc.store(), NOW)
        assert failed(result, Step.VERIFY) is Reason.SIGNATURE_INVALID
    # Right kid, wrong key.
    store = TrustStore()
    store.add_certificate(make_dsc().cert, kid=dsc.kid)
    assert failed(verify_hc1(dsc.issue(), store, NOW), Step.VERIFY) is Reason.SIGNATURE_INVALID
    # PS256 with a tampered payload.
    rsa_dsc = make_dsc(rsa_key())
    obj = cbor2.loads(cose_of(rsa_dsc.issue()))
    protected, unprotected, payload, signature = obj.value
    forged = [protected, unprotected, payload[:-1] + b"\x00", signature]
    result = verify_hc1(wrap(cbor2.dumps(cbor2.CBORTag(18, forged))), rsa_dsc.store(), NOW)
    assert failed(result, Step.VERIFY) is Reason.SIGNATURE_INVALID


@pytest.mark.parametrize("claims", [b"\xff", cbor2.dumps([1, 2, 3]), cbor2.dumps({1: "AT"})[:-1]])
def test_claims_malformed(claims):
    dsc = ec_dsc()
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, claims=claims)), dsc.store(), NOW)
    assert result.passed(Step.VERIFY)  # the signature covers whatever bytes the payload holds
    assert failed(result, Step.CLAIMS) is Reason.CLAIMS_MALFORMED
    assert result.step(Step.EXPIRATIONCHECK).reason is Reason.NOT_REACHED


@pytest.mark.parametrize(
    "claims",
    [
        {1: 276, 6: 1, 4: 2, -260: {1: VACCINATION}},  # iss not text
        {1: "AT", 6: "2026-03-31", 4: 2, -260: {1: VACCINATION}},  # iat not a number
        {1: "AT", 6: 1, 4: True, -260: {1: VACCINATION}},  # exp a boolean
    ],
)
def test_claim_invalid(claims):
    dsc = ec_dsc()
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, claims=claims)), dsc.store(), NOW)
    assert failed(result, Step.CLAIMS) is Reason.CLAIM_INVALID


@pytest.mark.parametrize("hcert", [None, {1: b"\xa0"}, {2: VACCINATION}, [VACCINATION]])
def test_hcert_missing(hcert):
    """CBO1 carries the DCC as a byte string of broken CBOR."""
    dsc = ec_dsc()
    claims = {1: "AT", 6: int(ISSUED.timestamp()), 4: int(EXPIRES.timestamp())}
    if hcert is not None:
        claims[-260] = hcert
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, claims=claims)), dsc.store(), NOW)
    assert failed(result, Step.CLAIMS) is Reason.HCERT_MISSING
    assert result.passed(Step.EXPIRATIONCHECK)  # iat/exp were readable
    assert result.step(Step.KEYUSAGE).reason is Reason.NOT_REACHED


def test_payload_type_missing_and_ambiguous():
    """DGC1 (no entry), DGC2 (several); BG's old-version files hold null for the other two."""
    dsc = ec_dsc()
    missing = {k: v for k, v in VACCINATION.items() if k != "v"}
    assert failed(verify_hc1(dsc.issue(missing), dsc.store(), NOW), Step.CLAIMS) is Reason.PAYLOAD_TYPE_MISSING
    assert failed(verify_hc1(dsc.issue(dict(VACCINATION, v=[])), dsc.store(), NOW), Step.CLAIMS) is (
        Reason.PAYLOAD_TYPE_MISSING
    )
    both = dict(VACCINATION, t=TEST["t"])
    assert failed(verify_hc1(dsc.issue(both), dsc.store(), NOW), Step.CLAIMS) is Reason.PAYLOAD_TYPE_AMBIGUOUS
    old_version = dict(VACCINATION, t=None, r=None)
    assert verify_hc1(dsc.issue(old_version), dsc.store(), NOW).valid
    not_array = dict(VACCINATION, v={"co": "AT"})
    assert failed(verify_hc1(dsc.issue(not_array), dsc.store(), NOW), Step.CLAIMS) is Reason.CLAIMS_MALFORMED


@pytest.mark.parametrize(("label", "reason"), [(6, Reason.IAT_MISSING), (4, Reason.EXP_MISSING)])
def test_time_claim_missing(label, reason):
    dsc = ec_dsc()
    claims = {1: "AT", 6: int(ISSUED.timestamp()), 4: int(EXPIRES.timestamp()), -260: {1: VACCINATION}}
    del claims[label]
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, claims=claims)), dsc.store(), NOW)
    assert failed(result, Step.EXPIRATIONCHECK) is reason


def test_not_yet_valid():
    """CO16: the clock before iat."""
    dsc = ec_dsc()
    result = verify_hc1(dsc.issue(), dsc.store(), ISSUED - dt.timedelta(seconds=1))
    assert failed(result, Step.EXPIRATIONCHECK) is Reason.NOT_YET_VALID
    assert verify_hc1(dsc.issue(), dsc.store(), ISSUED).valid  # iat itself is fine


def test_expired():
    """CO17: the clock after exp."""
    dsc = ec_dsc()
    result = verify_hc1(dsc.issue(), dsc.store(), EXPIRES + dt.timedelta(seconds=1))
    assert failed(result, Step.EXPIRATIONCHECK) is Reason.EXPIRED
    assert verify_hc1(dsc.issue(), dsc.store(), EXPIRES).valid  # exp itself is fine


def test_dsc_not_valid_at_issuance():
    dsc = ec_dsc()
    text = dsc.issue(iat=T0 - dt.timedelta(days=1))
    assert failed(verify_hc1(text, dsc.store(), NOW), Step.EXPIRATIONCHECK) is Reason.DSC_NOT_VALID_AT_ISSUANCE
    assert verify_hc1(text, dsc.store(), NOW, dsc_validity=DscValidity.AT_VERIFICATION).valid


def test_dsc_not_yet_valid():
    """Only reachable without the issuance check: iat before the DSC and the clock too."""
    dsc = ec_dsc()
    text = dsc.issue(iat=T0 - dt.timedelta(days=2))
    result = verify_hc1(text, dsc.store(), T0 - dt.timedelta(days=1), dsc_validity=DscValidity.AT_VERIFICATION)
    assert failed(result, Step.EXPIRATIONCHECK) is Reason.DSC_NOT_YET_VALID


def test_dsc_expired():
    dsc = make_dsc(not_after=ISSUED + dt.timedelta(days=10))
    text = dsc.issue()  # exp (180 days) beyond the DSC's notAfter
    assert verify_hc1(text, dsc.store(), NOW).valid
    late = ISSUED + dt.timedelta(days=11)
    assert failed(verify_hc1(text, dsc.store(), late), Step.EXPIRATIONCHECK) is Reason.DSC_EXPIRED
    assert verify_hc1(text, dsc.store(), late, dsc_validity=DscValidity.NONE).valid


def test_exp_after_dsc_expiry_under_the_strict_policy():
    dsc = make_dsc(not_after=ISSUED + dt.timedelta(days=10))
    result = verify_hc1(dsc.issue(), dsc.store(), NOW, dsc_validity=DscValidity.STRICT)
    assert failed(result, Step.EXPIRATIONCHECK) is Reason.EXP_AFTER_DSC_EXPIRY


@pytest.mark.parametrize(
    ("eku", "payload"),
    [
        ([OID_TEST], VACCINATION),  # CO6
        ([OID_VACCINATION], TEST),  # CO8
        ([OID_RECOVERY], VACCINATION),  # CO10
        ([OID_VACCINATION_0, ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string], TEST),
    ],
)
def test_key_usage_mismatch(eku, payload):
    dsc = make_dsc(eku=eku)
    result = verify_hc1(dsc.issue(payload), dsc.store(), NOW)
    assert failed(result, Step.KEYUSAGE) is Reason.KEY_USAGE_MISMATCH
    assert [outcome.step for outcome in result.failures] == [Step.KEYUSAGE]


def test_published_usages_restrict_further():
    dsc = ec_dsc()
    payload = trust_list_payload([dsc], usages=["test"])
    result = verify_hc1(dsc.issue(VACCINATION), TrustStore.from_trust_list_payload(payload), NOW)
    assert failed(result, Step.KEYUSAGE) is Reason.KEY_USAGE_MISMATCH


def test_dsc_revoked():
    dsc = ec_dsc()
    text = dsc.issue()
    thumbprint = hashlib.sha256(dsc.der).hexdigest()
    for options in (
        {"revoked_kids": {dsc.kid}},
        {"revoked_thumbprints": {thumbprint}},
        {"revocations": RevocationSet(thumbprints=[thumbprint.upper()])},
        {"revocations": RevocationSet.from_revocation_list_payload(revocation_list_payload(thumbprint))},
    ):
        result = verify_hc1(text, dsc.store(), NOW, **options)
        assert failed(result, Step.REVOCATION) is Reason.DSC_REVOKED, options
    assert verify_hc1(text, dsc.store(), NOW, revoked_kids={b"12345678"}, revoked_thumbprints={"ab" * 32}).valid
    assert verify_hc1(text, dsc.store(), NOW, revocations=RevocationSet()).valid


def test_dcc_revoked_by_any_of_its_hashes_under_its_kid_or_unknown_kid():
    """The DCC itself revoked (its hashes listed), not its DSC: DCC_REVOKED names the country and
    the hash type; a store without the code's hashes changes nothing."""
    dsc = ec_dsc()
    text = dsc.issue()
    message = cose.parse(cose_of(text))
    ci = VACCINATION["v"][0]["ci"]
    by_type = {
        HashType.UCI: revocation_hash(ci.encode()),
        HashType.COUNTRYCODEUCI: revocation_hash(("AT" + ci).encode()),
        HashType.SIGNATURE: revocation_hash(message.signature[:32]),
    }
    for kid in (dsc.kid, UNKNOWN_KID):
        for hash_type, digest in by_type.items():
            store = RevokedHashes.from_partitions(encode_group("AT", kid, [(hash_type, digest)]))
            result = verify_hc1(text, dsc.store(), NOW, revoked_hashes=store)
            assert failed(result, Step.REVOCATION) is Reason.DCC_REVOKED
            detail = result.step(Step.REVOCATION).detail
            assert f"revoked by AT: the {hash_type.name} hash" in detail
            assert digest.hex() in detail
    # Listed under another kid, or as another hash type: not this code.
    elsewhere = [(HashType.UCI, by_type[HashType.SIGNATURE]), (HashType.SIGNATURE, by_type[HashType.UCI])]
    store = RevokedHashes.from_partitions(
        [
            *encode_group("AT", b"otherkid", by_type.items()),
            *encode_group("AT", dsc.kid, elsewhere),
        ]
    )
    assert verify_hc1(text, dsc.store(), NOW, revoked_hashes=store).valid
    assert verify_hc1(text, dsc.store(), NOW).valid


def test_a_kid_only_a_revoked_dsc_carried_is_dsc_revoked_when_and_by_whom():
    dsc = ec_dsc()
    entry = {
        "type": "DSC",
        "country": "AT",
        "kid": base64.b64encode(dsc.kid).decode(),
        "thumbprint": hashlib.sha256(dsc.der).hexdigest(),
        "revokedAt": "2026-03-20T08:00:00Z",
        "reason": "key compromised",
    }
    revocations = RevocationSet.from_revocation_list_payload({"entries": [entry]})
    # A synced state holds the revoked DSC only in its revocation list, not among the trusted.
    result = verify_hc1(dsc.issue(), TrustStore(), NOW, revocations=revocations)
    assert failed(result, Step.VERIFY) is Reason.DSC_REVOKED
    detail = result.step(Step.VERIFY).detail
    assert "by AT at 2026-03-20T08:00:00Z (key compromised)" in detail
    assert base64.b64encode(dsc.kid).decode() in detail  # kids in base64, as the gateway writes them
    unknown = verify_hc1(dsc.issue(), TrustStore(), NOW)
    assert failed(unknown, Step.VERIFY) is Reason.KID_UNKNOWN
    assert base64.b64encode(dsc.kid).decode() in unknown.step(Step.VERIFY).detail
    assert "sync the trust list again" in unknown.step(Step.VERIFY).detail


def test_a_stale_trust_list_refuses_unless_allowed():
    dsc = ec_dsc()
    store = TrustStore.from_certificates([dsc.cert])
    store.expires_at = (NOW - dt.timedelta(days=2)).timestamp()
    store.description = "synced state"
    result = verify_hc1(dsc.issue(), store, NOW)
    assert failed(result, Step.VERIFY) is Reason.TRUST_LIST_EXPIRED
    assert "2 days" in result.step(Step.VERIFY).detail
    assert result.to_dict()["payload"] is None
    allowed = verify_hc1(dsc.issue(), store, NOW, allow_stale=True)
    assert allowed.valid
    assert allowed.warnings
    assert "stale" in allowed.warnings[0]
    assert allowed.to_dict()["trustSource"] == "synced state"
    store.expires_at = (NOW + dt.timedelta(hours=1)).timestamp()
    fresh = verify_hc1(dsc.issue(), store, NOW)
    assert fresh.valid
    assert fresh.warnings == ()


def test_the_issuer_must_be_the_dscs_country():
    dsc = ec_dsc()  # a DSC of AT
    result = verify_hc1(dsc.issue(issuer="XB"), dsc.store(), NOW)
    assert failed(result, Step.CLAIMS) is Reason.ISSUER_COUNTRY_MISMATCH
    assert "'XB' with a DSC of AT" in result.step(Step.CLAIMS).detail
    assert result.to_dict()["payload"] is None
    assert result.to_dict(show_unverified=True)["unverifiedPayload"] == VACCINATION
    assert verify_hc1(dsc.issue(issuer="at"), dsc.store(), NOW).valid  # the same code, any case
    # An authority's name where the code should be (real data: Georgia) is not refused: a note says so.
    named = verify_hc1(dsc.issue(issuer="Ministry of Health"), dsc.store(), NOW)
    assert named.valid
    assert "not a country code" in named.step(Step.CLAIMS).detail


@pytest.mark.parametrize(
    "value",
    [10**5000, float("inf"), float("-inf"), float("nan"), -1, 253402300800],
    ids=["10**5000", "inf", "-inf", "nan", "negative", "year 10000"],
)
def test_a_time_claim_out_of_range_is_claim_invalid_and_never_raises(value):
    dsc = ec_dsc()
    claims = {1: "AT", 6: int(ISSUED.timestamp()), 4: value, -260: {1: VACCINATION}}
    result = verify_hc1(wrap(sign_raw(dsc, {1: -7, 4: dsc.kid}, claims=claims)), dsc.store(), NOW)
    assert failed(result, Step.CLAIMS) is Reason.CLAIM_INVALID
    json.dumps(result.to_dict())  # the whole result stays printable


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size (its header only): what an image decoder reads first."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_a_huge_image_is_too_large_and_an_unreadable_one_names_no_object():
    with pytest.raises(QrError) as error:
        decode_qr_image(_png_header(20000, 20000))  # Pillow refuses it as a decompression bomb
    assert error.value.reason is Reason.IMAGE_TOO_LARGE
    with pytest.raises(QrError) as error:
        decode_qr_image(_png_header(8000, 8000))  # 64 Mpx: under Pillow's limit, over ours
    assert error.value.reason is Reason.IMAGE_TOO_LARGE
    with pytest.raises(QrError) as error:
        decode_qr_image(b"GIF89a but not really")
    assert error.value.reason is Reason.IMAGE_INVALID
    assert " at 0x" not in str(error.value)


def test_qr_failures(monkeypatch):
    with pytest.raises(QrError) as error:
        decode_qr_image(b"not an image")
    assert error.value.reason is Reason.IMAGE_INVALID
    from PIL import Image

    blank = io.BytesIO()
    Image.new("L", (200, 200), 255).save(blank, format="PNG")
    with pytest.raises(QrError) as error:
        decode_qr_image(blank.getvalue())
    assert error.value.reason is Reason.QR_UNREADABLE
    result = verify_qr_image(blank.getvalue(), TrustStore(), NOW)
    assert failed(result, Step.PICTUREDECODE) is Reason.QR_UNREADABLE
    assert result.step(Step.UNPREFIX).reason is Reason.NOT_REACHED
    monkeypatch.setattr("verifier.qr.MAX_IMAGE_PIXELS", 100)
    with pytest.raises(QrError) as error:
        decode_qr_image(blank.getvalue())
    assert error.value.reason is Reason.IMAGE_TOO_LARGE


def test_a_business_rule_that_fails_makes_the_code_invalid():
    """The RULES step (only with a country of arrival): tests/verifier/test_rules.py has the rest."""
    from verifier.rule_check import apply_rules
    from verifier.rules import RuleSet, parse_rule

    dsc = ec_dsc()
    rule = {
        "Identifier": "VR-AT-0001",
        "Type": "Acceptance",
        "Country": "AT",
        "Version": "1.0.0",
        "SchemaVersion": "1.0.0",
        "Engine": "CERTLOGIC",
        "EngineVersion": "1.0.0",
        "CertificateType": "Vaccination",
        "Description": [{"lang": "en", "desc": "complete"}],
        "ValidFrom": T0.isoformat(),
        "ValidTo": EXPIRES.isoformat(),
        "Logic": {">=": [{"var": "payload.v.0.dn"}, {"var": "payload.v.0.sd"}]},
    }
    result = apply_rules(verify_hc1(dsc.issue(), dsc.store(), NOW), RuleSet([parse_rule(rule)]), "AT", NOW)
    assert not result.valid
    assert failed(result, Step.RULES) is Reason.RULES_FAILED  # VACCINATION is dose 1 of 2


def test_every_reason_is_tested():
    """Each Reason member is named in this module (a new reason needs a test)."""
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [reason.name for reason in Reason if f"Reason.{reason.name}" not in source and reason is not Reason.OK]
    assert not missing


# --- robustness ----------------------------------------------------------------------------------


def test_mutated_inputs_never_raise():
    dsc = ec_dsc()
    store = dsc.store()
    text = dsc.issue()
    cose_bytes = cose_of(text)
    rng = random.Random(1847)
    for _ in range(400):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice(ALPHABET)
        assert verify_hc1("".join(chars), store, NOW).steps  # no exception
        mutated = bytearray(cose_bytes)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        result = verify_hc1(wrap(bytes(mutated)), store, NOW)
        assert result.valid == (bytes(mutated) == cose_bytes)


def test_random_cbor_structures_never_raise():
    """Odd values in every COSE position and in the claims: named failures, no exceptions."""
    dsc = ec_dsc()
    store = dsc.store()
    rng = random.Random(8152)
    odd = [
        None,
        True,
        0,
        -1,
        2**70,
        1.5,
        "",
        "text",
        b"",
        b"\x00" * 9,
        [],
        [1, [2]],
        {},
        {1: [2]},
        {(1, 2): 3},
        cbor2.CBORTag(1, 0),
        cbor2.CBORTag(99, [1]),
        cbor2.CBORSimpleValue(99),
        cbor2.undefined,
    ]
    for _ in range(300):
        protected = {rng.choice([1, 2, 3, 4, -1, "x"]): rng.choice(odd) for _ in range(rng.randint(0, 3))}
        unprotected = {rng.choice([1, 2, 4, 33]): rng.choice(odd) for _ in range(rng.randint(0, 2))}
        claims = {rng.choice([1, 4, 6, -260, 99]): rng.choice([*odd, {1: rng.choice(odd)}]) for _ in range(4)}
        obj = [
            rng.choice([cbor2.dumps(protected), rng.choice(odd)]),
            rng.choice([unprotected, rng.choice(odd)]),
            rng.choice([cbor2.dumps(claims), rng.choice(odd)]),
            rng.choice([bytes(64), rng.choice(odd)]),
        ]
        for candidate in (obj, cbor2.CBORTag(18, obj), cbor2.CBORTag(61, cbor2.CBORTag(18, obj))):
            result = verify_hc1(wrap(cbor2.dumps(candidate)), store, NOW)
            assert not result.valid
            assert result.reason is not Reason.OK
            json.dumps(result.to_dict())


# --- base45 ----------------------------------------------------------------------------------------


def _reference_b45decode(text: str) -> bytes:
    """RFC 9285 §4.2, character by character."""
    values = [ALPHABET.index(c) for c in text]
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        if len(group) == 3:
            n = group[0] + group[1] * 45 + group[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError
            out += n.to_bytes(2, "big")
        elif len(group) == 2:
            n = group[0] + group[1] * 45
            if n > 0xFF:
                raise ValueError
            out.append(n)
        else:
            raise ValueError
    return bytes(out)


def test_base45_rfc9285_examples():
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
    assert b45decode("") == b""


def test_base45_matches_the_reference_decoder():
    rng = random.Random(9285)
    for _ in range(3000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
        try:
            expected = _reference_b45decode(text)
        except ValueError:
            with pytest.raises(Base45Error):
                b45decode(text)
        else:
            assert b45decode(text) == expected, text
    for size in range(0, 70):
        data = rng.randbytes(size)
        assert b45decode(b45encode(data)) == data


# --- trust store -----------------------------------------------------------------------------------


def trust_list_payload(dscs, *, thumbprint=None, usages=None) -> dict:
    entries = [
        {
            "type": "DSC",
            "country": "AT",
            "kid": base64.b64encode(dsc.kid).decode(),
            "thumbprint": thumbprint or hashlib.sha256(dsc.der).hexdigest(),
            "certificate": base64.b64encode(dsc.der).decode(),
            "notBefore": "2026-03-01T00:00:00Z",
            "notAfter": "2028-03-01T00:00:00Z",
            "usages": usages or ["test", "vaccination", "recovery"],
            "domain": "DCC",
            "group": "DSC",
            "issuer": "00" * 32,
        }
        for dsc in dscs
    ]
    return {"type": "trust-list", "version": 1, "sequence": 7, "issuedAt": "2026-03-31T00:00:00Z", "entries": entries}


def revocation_list_payload(thumbprint: str) -> dict:
    entry = {"type": "DSC", "country": "AT", "kid": "x", "thumbprint": thumbprint, "revokedAt": "", "reason": ""}
    return {"type": "revocation-list", "version": 1, "sequence": 7, "entries": [entry]}


def test_trust_list_payload_loads_lazily_and_skips_bad_entries():
    dscs = [ec_dsc(), make_dsc(rsa_key())]
    payload = trust_list_payload(dscs)
    payload["entries"].append(dict(payload["entries"][0], type="CSCA", kid="Y3NjYQ=="))
    payload["entries"].append(dict(payload["entries"][0], kid="not base64!"))
    payload["entries"].append({"type": "DSC"})
    store = TrustStore.from_trust_list_payload(payload)
    assert len(store) == 2
    assert store.sequence == 7
    assert len(store.skipped) == 2
    entry = store.candidates(dscs[0].kid)[0]
    assert entry._parsed is None  # nothing parsed at load
    for dsc in dscs:
        assert verify_hc1(dsc.issue(), store, NOW).valid
    assert entry._parsed is not None
    assert entry.country == "AT"
    assert entry.thumbprint == hashlib.sha256(dscs[0].der).hexdigest()


def test_trust_store_accepts_der_and_certificates():
    dsc = ec_dsc()
    for item in (dsc.der, dsc.cert):
        store = TrustStore.from_certificates([item])
        assert dsc.kid in store
        assert store.kids() == [dsc.kid]
        assert len(list(store)) == 1
        entry = store.candidates(dsc.kid)[0]
        assert entry.country is None  # not parsed yet
        assert entry.usages == ALL_USAGES
        assert entry.alg == cose.ES256
        assert entry.signature_size == 64
        assert entry.country == "AT"  # from the subject, once parsed
        assert entry.not_before == T0.timestamp()
