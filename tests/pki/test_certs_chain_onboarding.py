"""Unit tests of gateway.pki.certs, .chain and .onboarding (no database), and of the layer's purity."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.pki import certs, cms, issuance, onboarding
from gateway.pki.chain import find_issuing_csca
from gateway.pki.errors import Reason, Rejected
from gateway.pki.issuance import Issued
from tests.factory import NOW, CountryPki, Pki
from tests.pki.test_cms import (
    rsa_key,
    with_malformed_issuer,
    with_malformed_subject,
    with_unknown_key_algorithm,
    with_version,
)
from verifier.certificates import issued_by

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

DAY = dt.timedelta(days=1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki.create()


@pytest.fixture(scope="module")
def xa(pki: Pki) -> CountryPki:
    return pki.country("XA", onboard=False)


@pytest.fixture(scope="module")
def xb(pki: Pki) -> CountryPki:
    return pki.country("XB", onboard=False)


def reason(call, *args, **kwargs) -> Reason:
    with pytest.raises(Rejected) as info:
        call(*args, **kwargs)
    return info.value.reason


# --- certs ----------------------------------------------------------------------------------------


def test_load_der_certificate(xa: CountryPki) -> None:
    assert certs.load_der_certificate(xa.upload.der) == xa.upload.certificate


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda der, pem: pem, id="pem"),
        pytest.param(lambda der, pem: der + b"\x00", id="trailing-byte"),
        pytest.param(lambda der, pem: der + der, id="two-certificates"),
        pytest.param(lambda der, pem: der[:-1], id="truncated"),
        pytest.param(lambda der, pem: b"", id="empty"),
        pytest.param(lambda der, pem: b"\x30\x83\x00" + der[2:], id="ber-long-form-length"),
        pytest.param(lambda der, pem: base64.b64encode(der), id="base64"),
    ],
)
def test_load_der_certificate_rejects(xa: CountryPki, mangle) -> None:
    der = xa.upload.der
    assert der[1] == 0x82
    assert reason(certs.load_der_certificate, mangle(der, xa.upload.cert_pem)) == Reason.CERTIFICATE_PARSE


def test_load_der_certificate_rejects_unknown_version(xa: CountryPki) -> None:
    assert reason(certs.load_der_certificate, with_version(xa.dsc().der, xa.csca.key, 3)) == Reason.CERTIFICATE_PARSE


def test_load_pem_certificate(xa: CountryPki) -> None:
    assert certs.load_pem_certificate(xa.upload.cert_pem) == xa.upload.certificate
    assert reason(certs.load_pem_certificate, xa.upload.der) == Reason.CERTIFICATE_PARSE
    assert reason(certs.load_pem_certificate, b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") == (
        Reason.CERTIFICATE_PARSE
    )


def test_identifiers(xa: CountryPki) -> None:
    der = xa.upload.der
    assert certs.certificate_der(xa.upload.certificate) == der
    thumb = certs.thumbprint(der)
    assert re.fullmatch(r"[0-9a-f]{64}", thumb)
    assert thumb == hashlib.sha256(der).hexdigest()
    kid = certs.kid(der)
    assert len(kid) == 12
    assert base64.b64decode(kid) == hashlib.sha256(der).digest()[:8]
    assert certs.kid_prefix(thumb) == thumb[:16]


def test_thumbprint_keeps_leading_zeros() -> None:
    """dgc-lib #53: a digest starting with 0x00 must still give 64 hex characters."""
    for counter in range(2000):
        data = counter.to_bytes(4, "big")
        if hashlib.sha256(data).digest()[0] == 0:
            assert certs.thumbprint(data).startswith("00")
            assert len(certs.thumbprint(data)) == 64
            return
    pytest.fail("no input with a leading zero octet found")


def _named(subject: x509.Name) -> x509.Certificate:
    return issuance.issue(subject, at=NOW).certificate


def test_countries_come_from_rdns_not_from_strings() -> None:
    hidden = _named(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x,C=FR")]))
    assert certs.subject_countries(hidden) == []
    assert reason(certs.single_country, hidden) == Reason.COUNTRY_MISSING
    two = _named(
        x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "XA"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "XB"),
                x509.NameAttribute(NameOID.COMMON_NAME, "two countries"),
            ]
        )
    )
    assert certs.subject_countries(two) == ["XA", "XB"]
    assert reason(certs.single_country, two) == Reason.COUNTRY_MULTIPLE
    multi_valued = _named(
        x509.Name(
            [
                x509.RelativeDistinguishedName(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "XA"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "multi-valued RDN"),
                    ]
                )
            ]
        )
    )
    assert certs.single_country(multi_valued) == "XA"
    assert certs.single_country(_named(issuance.name("one", "XB"))) == "XB"


def test_single_country_with_malformed_subject(xa: CountryPki) -> None:
    dsc = certs.load_der_certificate(with_malformed_subject(xa.dsc().der, xa.csca.key))
    assert reason(certs.single_country, dsc) in {Reason.CERTIFICATE_PARSE, Reason.COUNTRY_MISSING}


def test_self_signed_and_signed_by(xa: CountryPki, xb: CountryPki) -> None:
    dsc = xa.dsc()
    assert certs.is_self_signed(xa.csca.certificate)
    assert certs.is_self_signed(xa.upload.certificate)
    assert not certs.is_self_signed(dsc.certificate)
    # same subject and issuer name, but signed by another key: not self-signed
    forged = issuance.issue(xa.csca.certificate.subject, at=NOW, issuer=Issued(xa.csca.certificate, xb.csca.key))
    assert forged.certificate.issuer == forged.certificate.subject
    assert not certs.is_self_signed(forged.certificate)
    assert issued_by(dsc.certificate, xa.csca.certificate)
    assert not issued_by(dsc.certificate, xb.csca.certificate)
    assert not issued_by(dsc.certificate, xa.upload.certificate)


# --- chain ----------------------------------------------------------------------------------------


def test_issuing_csca_found(xa: CountryPki, xb: CountryPki) -> None:
    dsc = xa.dsc().certificate
    assert find_issuing_csca(dsc, [xa.csca.certificate], country="XA", at=NOW) == xa.csca.certificate
    found = find_issuing_csca(dsc, iter([xb.csca.certificate, xa.csca.certificate]), country="XA", at=NOW)
    assert found == xa.csca.certificate


def test_csca_list_empty(xa: CountryPki) -> None:
    assert reason(find_issuing_csca, xa.dsc().certificate, [], country="XA", at=NOW) == Reason.CSCA_LIST_EMPTY


def test_wrong_csca(xa: CountryPki, xb: CountryPki) -> None:
    dsc = xa.dsc().certificate
    assert reason(find_issuing_csca, dsc, [xb.csca.certificate], country="XA", at=NOW) == Reason.NOT_SIGNED_BY_CSCA


def test_csca_with_same_name_but_other_key(xa: CountryPki) -> None:
    impostor = issuance.issue(xa.csca.certificate.subject, at=NOW, ca=True)
    dsc = xa.dsc().certificate
    assert reason(find_issuing_csca, dsc, [impostor.certificate], country="XA", at=NOW) == Reason.NOT_SIGNED_BY_CSCA


def test_csca_with_same_key_but_other_name(xa: CountryPki) -> None:
    renamed = issuance.issue(issuance.name("XA CSCA renamed", "XA"), at=NOW, ca=True, key=xa.csca.key)
    dsc = xa.dsc().certificate
    assert reason(find_issuing_csca, dsc, [renamed.certificate], country="XA", at=NOW) == Reason.NOT_SIGNED_BY_CSCA


def test_self_signed_dsc_is_not_issued_by_a_csca(xa: CountryPki) -> None:
    self_signed = issuance.issue(issuance.name("XA DSC self", "XA"), at=NOW).certificate
    found = reason(find_issuing_csca, self_signed, [xa.csca.certificate], country="XA", at=NOW)
    assert found == Reason.NOT_SIGNED_BY_CSCA


@pytest.fixture(scope="module")
def expired_csca() -> Issued:
    return issuance.issue(
        issuance.name("XC CSCA", "XC"), at=NOW, ca=True, not_before=NOW - 800 * DAY, not_after=NOW - DAY
    )


def test_expired_csca_with_require_valid_csca(expired_csca: Issued) -> None:
    dsc = issuance.issue(issuance.name("XC DSC", "XC"), at=NOW, issuer=expired_csca).certificate
    cscas = [expired_csca.certificate]
    assert reason(find_issuing_csca, dsc, cscas, country="XC", at=NOW) == Reason.NOT_SIGNED_BY_CSCA
    assert reason(find_issuing_csca, dsc, cscas, country="XC", at=NOW, require_valid_csca=True) == (
        Reason.NOT_SIGNED_BY_CSCA
    )
    assert find_issuing_csca(dsc, cscas, country="XC", at=NOW, require_valid_csca=False) == expired_csca.certificate
    # still valid on its last day, and before it expired
    assert find_issuing_csca(dsc, cscas, country="XC", at=NOW - DAY) == expired_csca.certificate


def test_not_yet_valid_csca(xa: CountryPki) -> None:
    future = issuance.issue(
        issuance.name("XD CSCA", "XD"), at=NOW, ca=True, not_before=NOW + DAY, not_after=NOW + 800 * DAY
    )
    dsc = issuance.issue(issuance.name("XD DSC", "XD"), at=NOW, issuer=future).certificate
    assert reason(find_issuing_csca, dsc, [future.certificate], country="XD", at=NOW) == Reason.NOT_SIGNED_BY_CSCA
    assert find_issuing_csca(dsc, [future.certificate], country="XD", at=NOW, require_valid_csca=False)


def test_valid_csca_preferred_over_expired_one_with_same_key(xa: CountryPki) -> None:
    """A renewed CSCA (same name and key, new validity) is found even if the expired one comes first."""
    old = issuance.issue(
        xa.csca.certificate.subject,
        at=NOW,
        ca=True,
        key=xa.csca.key,
        not_before=NOW - 900 * DAY,
        not_after=NOW - DAY,
    )
    dsc = xa.dsc().certificate
    assert find_issuing_csca(dsc, [old.certificate, xa.csca.certificate], country="XA", at=NOW) == xa.csca.certificate


@pytest.mark.parametrize("kind", ["rsa", "ec-p384", "ed25519"])
def test_csca_with_other_key_type_does_not_raise(xa: CountryPki, kind: str) -> None:
    """dgc-gateway PR #37: a CSCA with another key type in the loop is skipped, never an exception."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    subject = xa.csca.certificate.subject
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        other = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(99)
            .not_valid_before(NOW - DAY)
            .not_valid_after(NOW + 900 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, None)
        )
    else:
        other = issuance.issue(
            subject,
            at=NOW,
            ca=True,
            days=900,
            key=rsa_key(2048) if kind == "rsa" else ec.generate_private_key(ec.SECP384R1()),
        ).certificate
    ec_dsc = xa.dsc().certificate
    rsa_dsc = xa.dsc(key=rsa_key(2048)).certificate
    assert not issued_by(ec_dsc, other)
    assert reason(find_issuing_csca, ec_dsc, [other], country="XA", at=NOW) == Reason.NOT_SIGNED_BY_CSCA
    assert find_issuing_csca(ec_dsc, [other, xa.csca.certificate], country="XA", at=NOW) == xa.csca.certificate
    assert find_issuing_csca(rsa_dsc, [other, xa.csca.certificate], country="XA", at=NOW) == xa.csca.certificate


def test_rsa_csca_issues_ec_dsc_and_ec_csca_is_skipped(xa: CountryPki) -> None:
    rsa_csca = issuance.issue(issuance.name("XE CSCA", "XE"), at=NOW, ca=True, key=rsa_key(2048))
    ec_csca_same_name = issuance.issue(issuance.name("XE CSCA", "XE"), at=NOW, ca=True)
    dsc = issuance.issue(issuance.name("XE DSC", "XE"), at=NOW, issuer=rsa_csca).certificate
    cscas = [ec_csca_same_name.certificate, rsa_csca.certificate]
    assert find_issuing_csca(dsc, cscas, country="XE", at=NOW) == rsa_csca.certificate


def test_csca_with_unsupported_key_algorithm_does_not_raise(xa: CountryPki) -> None:
    unknown = x509.load_der_x509_certificate(with_unknown_key_algorithm(xa.csca.der, xa.csca.key))
    dsc = xa.dsc().certificate
    assert find_issuing_csca(dsc, [unknown, xa.csca.certificate], country="XA", at=NOW) == xa.csca.certificate


def test_dsc_with_malformed_issuer_name_is_not_issued(xa: CountryPki) -> None:
    dsc = certs.load_der_certificate(with_malformed_issuer(xa.dsc().der, xa.csca.key))
    assert reason(find_issuing_csca, dsc, [xa.csca.certificate], country="XA", at=NOW) == Reason.NOT_SIGNED_BY_CSCA


def test_is_self_signed_with_malformed_issuer_name(xa: CountryPki) -> None:
    dsc = certs.load_der_certificate(with_malformed_issuer(xa.dsc().der, xa.csca.key))
    assert not certs.is_self_signed(dsc)


# --- onboarding -----------------------------------------------------------------------------------


def onboarding_reason(raw: bytes, signature: str, thumb: str, anchors: tuple[bytes, ...]) -> Reason | None:
    try:
        onboarding.verify_onboarding(raw, signature, thumb, anchors)
    except Rejected as exc:
        assert not onboarding.is_onboarding_valid(raw, signature, thumb, anchors)
        return exc.reason
    assert onboarding.is_onboarding_valid(raw, signature, thumb, anchors)
    return None


def test_onboarding_valid(pki: Pki, xa: CountryPki) -> None:
    der = xa.upload.der
    signature = pki.sign(der)
    detached = base64.b64decode(signature)
    assert der not in detached
    assert cms.verify_detached(detached, der).signer_der == pki.ta.der
    assert onboarding_reason(der, signature, certs.thumbprint(der), (pki.ta.der,)) is None
    other_ta = Pki.create().ta.der
    assert onboarding_reason(der, signature, certs.thumbprint(der), (other_ta, pki.ta.der)) is None


def test_onboarding_thumbprint_mismatch(pki: Pki, xa: CountryPki) -> None:
    der = xa.upload.der
    signature = pki.sign(der)
    anchors = (pki.ta.der,)
    assert onboarding_reason(der, signature, certs.thumbprint(xa.csca.der), anchors) == Reason.THUMBPRINT_MISMATCH
    assert onboarding_reason(der, signature, certs.thumbprint(der).upper(), anchors) == Reason.THUMBPRINT_MISMATCH
    assert onboarding_reason(der, signature, "", anchors) == Reason.THUMBPRINT_MISMATCH


def test_onboarding_signed_by_a_key_that_is_not_a_trust_anchor(pki: Pki, xa: CountryPki) -> None:
    rogue = Pki.create()
    der = xa.upload.der
    assert onboarding_reason(der, rogue.sign(der), certs.thumbprint(der), (pki.ta.der,)) == Reason.TA_SIGNER_UNKNOWN


def test_onboarding_signer_must_be_der_equal_to_the_trust_anchor(pki: Pki, xa: CountryPki) -> None:
    """A TA re-issued under the same name with another key, and one with the same key but another serial."""
    der = xa.upload.der
    anchors = (pki.ta.der,)
    other_key = issuance.issue(pki.ta.certificate.subject, at=NOW, days=3650, ca=True)
    assert other_key.certificate.subject == pki.ta.certificate.subject
    signature = onboarding.sign_onboarding(der, other_key.der, other_key.key)
    assert onboarding_reason(der, signature, certs.thumbprint(der), anchors) == Reason.TA_SIGNER_UNKNOWN
    same_key = issuance.issue(pki.ta.certificate.subject, at=NOW, days=3650, ca=True, key=pki.ta.key)
    assert same_key.der != pki.ta.der
    signature = onboarding.sign_onboarding(der, same_key.der, same_key.key)
    assert onboarding_reason(der, signature, certs.thumbprint(der), anchors) == Reason.TA_SIGNER_UNKNOWN


def test_onboarding_edited_raw_data(pki: Pki, xa: CountryPki, xb: CountryPki) -> None:
    """A DBA swaps raw_data (and, being careful, the thumbprint) for another certificate."""
    signature = pki.sign(xa.upload.der)
    anchors = (pki.ta.der,)
    swapped = xb.upload.der
    assert onboarding_reason(swapped, signature, certs.thumbprint(swapped), anchors) == Reason.TA_SIGNATURE_INVALID
    assert onboarding_reason(swapped, signature, certs.thumbprint(xa.upload.der), anchors) == (
        Reason.THUMBPRINT_MISMATCH
    )
    # an edit that keeps the bytes a certificate: re-signed by the country's own key
    edited = issuance.issue(xa.upload.certificate.subject, at=NOW, key=xa.upload.key).der
    assert onboarding_reason(edited, signature, certs.thumbprint(edited), anchors) == Reason.TA_SIGNATURE_INVALID


def test_onboarding_result_is_not_stale_after_an_edit(pki: Pki, xa: CountryPki, xb: CountryPki) -> None:
    """The memo is keyed on the bytes: a valid check does not vouch for edited bytes later."""
    signature = pki.sign(xa.upload.der)
    anchors = (pki.ta.der,)
    assert onboarding_reason(xa.upload.der, signature, certs.thumbprint(xa.upload.der), anchors) is None
    edited = xb.upload.der
    assert onboarding_reason(edited, signature, certs.thumbprint(edited), anchors) == Reason.TA_SIGNATURE_INVALID


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty"),
        pytest.param("!!!not base64!!!", id="garbage"),
        pytest.param("QUJD\n", id="newline"),
        pytest.param(base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), id="base64-of-junk-der"),
        pytest.param(base64.b64encode(b"random bytes").decode(), id="base64-of-random"),
    ],
)
def test_onboarding_garbage_signature(pki: Pki, xa: CountryPki, signature: str) -> None:
    der = xa.upload.der
    assert onboarding_reason(der, signature, certs.thumbprint(der), (pki.ta.der,)) == Reason.TA_SIGNATURE_INVALID


def test_onboarding_attached_signature_is_refused(pki: Pki, xa: CountryPki) -> None:
    der = xa.upload.der
    attached = base64.b64encode(cms.sign(der, pki.ta.certificate, pki.ta.key, detached=False)).decode()
    assert onboarding_reason(der, attached, certs.thumbprint(der), (pki.ta.der,)) == Reason.TA_SIGNATURE_INVALID


def test_onboarding_without_certificate_or_anchor(pki: Pki, xa: CountryPki) -> None:
    der = xa.upload.der
    signature = pki.sign(der)
    assert onboarding_reason(b"", signature, certs.thumbprint(b""), (pki.ta.der,)) == Reason.TA_SIGNATURE_INVALID
    assert onboarding_reason(der, signature, certs.thumbprint(der), ()) == Reason.TA_SIGNER_UNKNOWN
    not_a_cert = b"\x30\x03\x02\x01\x01"
    assert onboarding_reason(not_a_cert, signature, certs.thumbprint(not_a_cert), (pki.ta.der,)) == (
        Reason.CERTIFICATE_PARSE
    )


# --- purity: the pki layer does not need Django ----------------------------------------------------

# Every module of the package, found on disk, so that a new one is covered without editing this list.
PKI_MODULES = sorted(p.stem for p in (ROOT / "gateway" / "pki").glob("*.py") if p.stem != "__init__")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def test_pki_modules_themselves_do_not_import_django() -> None:
    """With gateway/__init__.py bypassed (a bare namespace for the package), the pki modules load without
    Django, Celery or any project app."""
    result = _run(
        f"""
        import sys, types
        package = types.ModuleType("gateway")
        package.__path__ = [{str(ROOT / "gateway")!r}]
        sys.modules["gateway"] = package
        for name in {PKI_MODULES!r}:
            __import__("gateway.pki." + name)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {{"django", "celery", "rest_framework",
                        "countries", "trustlist"}})
        print(",".join(leaked))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_importing_gateway_pki_does_not_import_django() -> None:
    result = _run(
        f"""
        import sys
        for name in {PKI_MODULES!r}:
            __import__("gateway.pki." + name)
        print("django" in sys.modules, "celery" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_every_reason_the_pki_layer_raises_is_tested() -> None:
    """A guard for this suite: each Reason named in gateway/pki is asserted by some test in tests/pki."""
    import gateway.pki

    package = Path(gateway.pki.__file__).parent
    raised = {
        name
        for path in package.glob("*.py")
        if path.name != "errors.py"
        for name in re.findall(r"Reason\.([A-Z0-9_]+)", path.read_text())
    }
    tested = {
        name
        for path in Path(__file__).parent.glob("test_*.py")
        for name in re.findall(r"Reason\.([A-Z0-9_]+)", path.read_text())
    }
    assert raised
    assert raised <= set(Reason.__members__)
    assert raised - tested == set()
