"""Unit tests of gateway.pki.policy (no database): every DSC policy Reason with a real certificate, and
every DscPolicy switch relaxing exactly its own check."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtensionOID

from gateway.pki import issuance, policy
from gateway.pki.certs import certificate_der, read_certificate
from gateway.pki.errors import Reason, Rejected
from gateway.pki.issuance import Issued
from gateway.pki.policy import DscPolicy
from tests.factory import NOW, CountryPki, Pki, resign_tbs, rsa_public_key
from tests.pki.test_cms import (
    rsa_key,
    with_duplicate_extension,
    with_unknown_key_algorithm,
)

STRICT = DscPolicy()
DAY = dt.timedelta(days=1)

pytestmark = [
    pytest.mark.no_db,  # no database of the test run: runs once, in the SQLite run
    pytest.mark.filterwarnings(
        # cryptography warns (and plans to raise) when it parses a non-positive serial; the policy must
        # refuse such certificates explicitly, which is what these tests check.
        "ignore:Parsed a serial number which wasn't positive:cryptography.utils.CryptographyDeprecationWarning"
    ),
]


@pytest.fixture(scope="module")
def xa() -> CountryPki:
    return Pki.create().country("XA", onboard=False)


@pytest.fixture(scope="module")
def rsa_csca() -> Issued:
    return issuance.issue(issuance.name("XA CSCA RSA", "XA"), at=NOW, days=1460, ca=True, key=rsa_key(3072))


def make_dsc(
    issuer: Issued,
    *,
    public_key: CertificatePublicKeyTypes | None = None,
    serial: int = 0x0123456789ABCDEF,
    not_before: dt.datetime = NOW - DAY,
    not_after: dt.datetime = NOW + 365 * DAY,
    ca: bool = False,
    extra_extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    hash_algorithm: hashes.HashAlgorithm | None = None,
    rsa_padding: padding.AsymmetricPadding | None = None,
) -> x509.Certificate:
    """A DSC issued by ``issuer`` with cryptography's builder (everything it lets us vary)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(issuance.name("XA DSC policy", "XA"))
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key or ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    for extension, critical in extra_extensions:
        builder = builder.add_extension(extension, critical=critical)
    if isinstance(issuer.key, ed25519.Ed25519PrivateKey):
        return builder.sign(issuer.key, None)
    return builder.sign(issuer.key, hash_algorithm or hashes.SHA256(), rsa_padding=rsa_padding)


def resigned(cert: x509.Certificate, issuer: Issued, mutate: Callable[[object], None], hash_name: str = "sha256"):
    return x509.load_der_x509_certificate(resign_tbs(cert, issuer.key, mutate, hash_name))


def with_serial(xa: CountryPki, serial: int) -> x509.Certificate:
    def mutate(tbs) -> None:
        tbs["serial_number"] = serial

    return resigned(make_dsc(xa.csca), xa.csca, mutate)


def with_validity(xa: CountryPki, not_before: dt.datetime, not_after: dt.datetime) -> x509.Certificate:
    def mutate(tbs) -> None:
        tbs["validity"] = {"not_before": {"utc_time": not_before}, "not_after": {"utc_time": not_after}}

    return resigned(make_dsc(xa.csca), xa.csca, mutate)


def findings_of(cert: x509.Certificate, strictness: DscPolicy = STRICT, **kwargs: object) -> list[Reason]:
    """The reasons of what relaxed checks let through; a refusal raises."""
    read = read_certificate(certificate_der(cert))
    found = policy.check_dsc(read, at=kwargs.pop("at", NOW), policy=strictness, **kwargs)  # type: ignore[arg-type]
    return [finding.reason for finding in found]


def reason_of(cert: x509.Certificate, strictness: DscPolicy = STRICT, **kwargs: object) -> Reason | None:
    try:
        findings_of(cert, strictness, **kwargs)
    except Rejected as exc:
        return exc.reason
    return None


UNKNOWN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.99999.7")


# --- certificate variants, by name: (maker, reason under the strict policy) ---------------------


def _variants() -> dict[str, tuple[Callable[[CountryPki], x509.Certificate], Reason | None]]:
    return {
        "valid-ec-p256": (lambda xa: make_dsc(xa.csca), None),
        "serial-zero": (lambda xa: with_serial(xa, 0), Reason.SERIAL_POLICY),
        "serial-negative": (lambda xa: with_serial(xa, -5), Reason.SERIAL_POLICY),
        "serial-21-octets": (lambda xa: with_serial(xa, 1 << 160), Reason.SERIAL_POLICY),
        "serial-21-octets-sign-bit": (lambda xa: with_serial(xa, 1 << 159), Reason.SERIAL_POLICY),
        "serial-20-octets": (lambda xa: with_serial(xa, (1 << 159) - 1), None),
        "serial-one": (lambda xa: with_serial(xa, 1), None),
        "unknown-critical-extension": (
            lambda xa: make_dsc(
                xa.csca, extra_extensions=((x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), True),)
            ),
            Reason.UNKNOWN_CRITICAL_EXTENSION,
        ),
        "unknown-non-critical-extension": (
            lambda xa: make_dsc(
                xa.csca, extra_extensions=((x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), False),)
            ),
            None,
        ),
        "known-critical-eku": (
            lambda xa: make_dsc(xa.csca, extra_extensions=((x509.ExtendedKeyUsage([issuance.EKU_TEST]), True),)),
            None,
        ),
        "expired": (lambda xa: make_dsc(xa.csca, not_before=NOW - 30 * DAY, not_after=NOW - DAY), Reason.EXPIRED),
        "not-yet-valid": (
            lambda xa: make_dsc(xa.csca, not_before=NOW + DAY, not_after=NOW + 30 * DAY),
            Reason.NOT_YET_VALID,
        ),
        "not-before-after-not-after": (
            lambda xa: with_validity(xa, NOW + DAY, NOW - DAY),
            Reason.VALIDITY_ORDER,
        ),
        "not-before-equals-not-after": (lambda xa: with_validity(xa, NOW, NOW), Reason.VALIDITY_ORDER),
        "rsa-1024": (lambda xa: make_dsc(xa.csca, public_key=rsa_public_key(1024)), Reason.KEY_POLICY),
        "rsa-2048-e3": (lambda xa: make_dsc(xa.csca, public_key=rsa_public_key(2048, 3)), Reason.KEY_POLICY),
        "rsa-2048": (lambda xa: make_dsc(xa.csca, public_key=rsa_key(2048).public_key()), None),
        "ec-secp256k1": (
            lambda xa: make_dsc(xa.csca, public_key=ec.generate_private_key(ec.SECP256K1()).public_key()),
            Reason.KEY_POLICY,
        ),
        "ec-p224": (
            lambda xa: make_dsc(xa.csca, public_key=ec.generate_private_key(ec.SECP224R1()).public_key()),
            Reason.KEY_POLICY,
        ),
        "ec-brainpool256": (
            lambda xa: make_dsc(xa.csca, public_key=ec.generate_private_key(ec.BrainpoolP256R1()).public_key()),
            Reason.KEY_POLICY,
        ),
        "ec-p384": (
            lambda xa: make_dsc(xa.csca, public_key=ec.generate_private_key(ec.SECP384R1()).public_key()),
            None,
        ),
        "ec-p521": (
            lambda xa: make_dsc(xa.csca, public_key=ec.generate_private_key(ec.SECP521R1()).public_key()),
            None,
        ),
        "ed25519-key": (
            lambda xa: make_dsc(xa.csca, public_key=ed25519.Ed25519PrivateKey.generate().public_key()),
            Reason.KEY_POLICY,
        ),
        "dsa-key": (
            lambda xa: make_dsc(xa.csca, public_key=dsa.generate_private_key(1024).public_key()),
            Reason.KEY_POLICY,
        ),
        "unknown-key-algorithm": (
            lambda xa: x509.load_der_x509_certificate(
                with_unknown_key_algorithm(certificate_der(make_dsc(xa.csca)), xa.csca.key)
            ),
            Reason.KEY_POLICY,
        ),
        "sha1-ecdsa-signed": (
            lambda xa: resigned(make_dsc(xa.csca), xa.csca, lambda tbs: None, "sha1"),
            Reason.SIGNATURE_ALGORITHM,
        ),
        "sha384-ecdsa-signed": (lambda xa: make_dsc(xa.csca, hash_algorithm=hashes.SHA384()), None),
        "ca-true": (lambda xa: make_dsc(xa.csca, ca=True), Reason.DSC_IS_CA),
    }


VARIANTS = _variants()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_strict_policy(xa: CountryPki, name: str) -> None:
    make, expected = VARIANTS[name]
    assert reason_of(make(xa)) == expected


def test_default_policy_is_strict() -> None:
    assert STRICT == DscPolicy(
        check_serial=True,
        reject_unknown_critical_extensions=True,
        check_validity=True,
        reject_not_yet_valid=True,
        check_key=True,
        min_rsa_bits=2048,
        check_signature_algorithm=True,
        reject_ca_dsc=True,
        allow_self_signed_csca_as_dsc=False,
        require_valid_csca=True,
    )


# --- RSA issuers: MD5/SHA-1/PSS certificate signatures ------------------------------------------


def test_sha1_and_md5_rsa_signatures(xa: CountryPki, rsa_csca: Issued) -> None:
    dsc = make_dsc(rsa_csca)
    assert reason_of(dsc) is None
    assert reason_of(resigned(dsc, rsa_csca, lambda tbs: None, "sha1")) == Reason.SIGNATURE_ALGORITHM
    assert reason_of(resigned(dsc, rsa_csca, lambda tbs: None, "md5")) == Reason.SIGNATURE_ALGORITHM


def test_rsa_pss_signed_dsc(rsa_csca: Issued) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    assert reason_of(make_dsc(rsa_csca, rsa_padding=pss)) is None


def test_ed25519_signed_dsc_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    csca = issuance.Issued(
        x509.CertificateBuilder()
        .subject_name(issuance.name("XA CSCA Ed25519", "XA"))
        .issuer_name(issuance.name("XA CSCA Ed25519", "XA"))
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .sign(key, None),
        key,  # type: ignore[arg-type]
    )
    assert reason_of(make_dsc(csca)) == Reason.SIGNATURE_ALGORITHM


# --- extensions ---------------------------------------------------------------------------------


def test_malformed_known_extension(xa: CountryPki) -> None:
    """A subjectAltName whose value is a BOOLEAN instead of GeneralNames: cryptography cannot parse it."""
    garbage = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x01\x01\xff")
    dsc = make_dsc(xa.csca, extra_extensions=((garbage, False),))
    assert reason_of(dsc) == Reason.CERTIFICATE_PARSE


def test_duplicate_extension(xa: CountryPki) -> None:
    dsc = x509.load_der_x509_certificate(with_duplicate_extension(xa.dsc().der, xa.csca.key))
    assert reason_of(dsc) == Reason.CERTIFICATE_PARSE


def test_duplicate_extension_relaxed(xa: CountryPki) -> None:
    dsc = x509.load_der_x509_certificate(with_duplicate_extension(xa.dsc().der, xa.csca.key))
    relaxed = dataclasses.replace(STRICT, reject_unknown_critical_extensions=False)
    assert reason_of(dsc, relaxed) in {None, Reason.CERTIFICATE_PARSE}


def explicit_p256_parameters(tbs) -> None:
    p = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
    b = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
    gx = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
    gy = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    domain = asn1_keys.SpecifiedECDomain(
        {
            "version": "ecdpVer1",
            "field_id": {"field_type": "prime_field", "parameters": p},
            "curve": {"a": (p - 3).to_bytes(32, "big"), "b": b.to_bytes(32, "big")},
            "base": b"\x04" + gx.to_bytes(32, "big") + gy.to_bytes(32, "big"),
            "order": n,
            "cofactor": 1,
        }
    )
    spki = tbs["subject_public_key_info"]
    tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": asn1_keys.ECDomainParameters({"specified": domain})},
            "public_key": spki["public_key"],
        }
    )


def test_explicit_curve_parameters_are_refused(xa: CountryPki) -> None:
    dsc = resigned(make_dsc(xa.csca), xa.csca, explicit_p256_parameters)
    assert reason_of(dsc) == Reason.KEY_POLICY


# --- validity boundaries ------------------------------------------------------------------------


def test_validity_boundaries_are_inclusive(xa: CountryPki) -> None:
    dsc = make_dsc(xa.csca, not_before=NOW - DAY, not_after=NOW + DAY)
    assert reason_of(dsc, at=NOW - DAY) is None
    assert reason_of(dsc, at=NOW + DAY) is None
    assert reason_of(dsc, at=NOW + DAY + dt.timedelta(seconds=1)) == Reason.EXPIRED
    assert reason_of(dsc, at=NOW - DAY - dt.timedelta(seconds=1)) == Reason.NOT_YET_VALID


# --- self-signed CSCA uploaded as a DSC ---------------------------------------------------------


def test_self_signed_csca_as_dsc(xa: CountryPki) -> None:
    csca = xa.csca.certificate
    assert reason_of(csca, is_onboarded_csca=True) == Reason.SELF_SIGNED
    allowed = dataclasses.replace(STRICT, allow_self_signed_csca_as_dsc=True)
    assert reason_of(csca, allowed, is_onboarded_csca=True) is None
    # not an onboarded CSCA: it is simply a CA certificate, whatever the switch says
    assert reason_of(csca) == Reason.DSC_IS_CA
    assert reason_of(csca, allowed) == Reason.DSC_IS_CA


def test_self_signed_switch_does_not_relax_other_checks(xa: CountryPki) -> None:
    allowed = dataclasses.replace(STRICT, allow_self_signed_csca_as_dsc=True)
    old = issuance.issue(
        issuance.name("XA CSCA old", "XA"), at=NOW, ca=True, not_before=NOW - 40 * DAY, not_after=NOW - DAY
    ).certificate
    assert reason_of(old, allowed, is_onboarded_csca=True) == Reason.EXPIRED


# --- first failure wins ---------------------------------------------------------------------------


def test_checks_run_in_documented_order(xa: CountryPki) -> None:
    def zero_serial_expired(tbs) -> None:
        tbs["serial_number"] = 0
        tbs["validity"] = {"not_before": {"utc_time": NOW - 30 * DAY}, "not_after": {"utc_time": NOW - DAY}}

    weak_expired = make_dsc(xa.csca, public_key=rsa_public_key(1024), not_before=NOW - 30 * DAY, not_after=NOW - DAY)
    assert reason_of(resigned(make_dsc(xa.csca), xa.csca, zero_serial_expired)) == Reason.SERIAL_POLICY
    assert reason_of(weak_expired) == Reason.EXPIRED
    weak_sha1 = resigned(make_dsc(xa.csca, public_key=rsa_public_key(1024)), xa.csca, lambda tbs: None, "sha1")
    assert reason_of(weak_sha1) == Reason.KEY_POLICY
    ca_sha1 = resigned(make_dsc(xa.csca, ca=True), xa.csca, lambda tbs: None, "sha1")
    assert reason_of(ca_sha1) == Reason.SIGNATURE_ALGORITHM


# --- each switch relaxes its own check, and only that -------------------------------------------

SWITCHES = [
    pytest.param(
        {"check_serial": False},
        ["serial-zero", "serial-negative", "serial-21-octets", "serial-21-octets-sign-bit"],
        id="check_serial",
    ),
    pytest.param(
        {"reject_unknown_critical_extensions": False},
        ["unknown-critical-extension"],
        id="reject_unknown_critical_extensions",
    ),
    pytest.param(
        {"check_validity": False},
        ["expired", "not-yet-valid", "not-before-after-not-after", "not-before-equals-not-after"],
        id="check_validity",
    ),
    pytest.param({"reject_not_yet_valid": False}, ["not-yet-valid"], id="reject_not_yet_valid"),
    pytest.param(
        {"check_key": False},
        [
            "rsa-1024",
            "rsa-2048-e3",
            "ec-secp256k1",
            "ec-p224",
            "ec-brainpool256",
            "ed25519-key",
            "dsa-key",
            "unknown-key-algorithm",
        ],
        id="check_key",
    ),
    pytest.param({"min_rsa_bits": 1024}, ["rsa-1024"], id="min_rsa_bits"),
    pytest.param({"check_signature_algorithm": False}, ["sha1-ecdsa-signed"], id="check_signature_algorithm"),
    pytest.param({"reject_ca_dsc": False}, ["ca-true"], id="reject_ca_dsc"),
]


@pytest.mark.parametrize(("switch", "relaxed_names"), SWITCHES)
def test_switch_relaxes_only_its_check(xa: CountryPki, switch: dict, relaxed_names: list[str]) -> None:
    relaxed = dataclasses.replace(STRICT, **switch)
    for name, (make, strict_reason) in VARIANTS.items():
        cert = make(xa)
        if name in relaxed_names:
            assert strict_reason is not None, name
            assert reason_of(cert, relaxed) is None, name
            if "min_rsa_bits" not in switch:  # a lower threshold is a different check, not a relaxed one
                assert strict_reason in findings_of(cert, relaxed), f"{name}: let through without a finding"
        else:
            assert reason_of(cert, relaxed) == strict_reason, name


def test_reject_not_yet_valid_off_still_rejects_expired(xa: CountryPki) -> None:
    relaxed = dataclasses.replace(STRICT, reject_not_yet_valid=False)
    assert reason_of(VARIANTS["expired"][0](xa), relaxed) == Reason.EXPIRED
    assert reason_of(VARIANTS["not-before-after-not-after"][0](xa), relaxed) == Reason.VALIDITY_ORDER


def test_min_rsa_bits_does_not_relax_the_exponent(xa: CountryPki) -> None:
    relaxed = dataclasses.replace(STRICT, min_rsa_bits=1024)
    small_e3 = make_dsc(xa.csca, public_key=rsa_public_key(1024, 3))
    assert reason_of(small_e3, relaxed) == Reason.KEY_POLICY
    stricter = dataclasses.replace(STRICT, min_rsa_bits=3072)
    assert reason_of(VARIANTS["rsa-2048"][0](xa), stricter) == Reason.KEY_POLICY


def test_allow_self_signed_and_reject_ca_switches_together(xa: CountryPki) -> None:
    neither = dataclasses.replace(STRICT, reject_ca_dsc=False)
    assert reason_of(xa.csca.certificate, neither, is_onboarded_csca=True) == Reason.SELF_SIGNED
    assert findings_of(xa.csca.certificate, neither) == [Reason.DSC_IS_CA]
    both = dataclasses.replace(neither, allow_self_signed_csca_as_dsc=True)
    assert findings_of(xa.csca.certificate, both, is_onboarded_csca=True) == [Reason.SELF_SIGNED]


def test_require_valid_csca_is_not_a_dsc_check(xa: CountryPki) -> None:
    """The switch belongs to chain.find_issuing_csca (tested there); check_dsc ignores it."""
    relaxed = dataclasses.replace(STRICT, require_valid_csca=False)
    for make, strict_reason in VARIANTS.values():
        assert reason_of(make(xa), relaxed) == strict_reason


# --- the single checks, called directly ----------------------------------------------------------


def test_single_check_functions(xa: CountryPki) -> None:
    good = make_dsc(xa.csca)
    policy.check_serial(read_certificate(certificate_der(good)))
    policy.check_critical_extensions(read_certificate(certificate_der(good)))
    policy.check_validity(good, at=NOW)
    policy.check_key(read_certificate(certificate_der(good)), min_rsa_bits=2048)
    policy.check_signature_algorithm(good)
    future = VARIANTS["not-yet-valid"][0](xa)
    with pytest.raises(Rejected) as info:
        policy.check_validity(future, at=NOW)
    assert info.value.reason == Reason.NOT_YET_VALID
    with pytest.raises(Rejected) as info:
        policy.check_key(read_certificate(certificate_der(VARIANTS["rsa-2048"][0](xa))), min_rsa_bits=4096)
    assert info.value.reason == Reason.KEY_POLICY
