"""DSC upload and revocation through the API: every DGCG check in order, our policy checks,
problem codes, audit events, and that a refusal stores nothing."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from django.db import connection
from django.test.utils import CaptureQueriesContext

from countries.models import Status, TrustedParty
from gateway.audit.models import Action, Outcome
from gateway.pki import cms, issuance
from gateway.pki.certs import kid, thumbprint
from tests.factory import NOW, resign_tbs, rsa_public_key
from tests.helpers import assert_problem, counts, last_event, revoke, upload
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db


def test_upload_stores_dsc_with_detached_uploader_signature(client, xa):
    dsc = xa.dsc()
    response = upload(client, xa, xa.cms_b64(dsc.der))
    assert response.status_code == 201
    assert response.content == b""
    row = SignerCertificate.objects.get()
    assert (row.country, row.thumbprint, row.kid) == ("XA", thumbprint(dsc.der), kid(dsc.der))
    assert bytes(row.raw_data) == dsc.der
    assert row.uploader_thumbprint == thumbprint(xa.upload.der)
    assert row.created_at == NOW
    message = cms.verify_detached(base64.b64decode(row.signature), dsc.der)
    assert message.signer_der == xa.upload.der
    event = last_event()
    assert (event.action, event.outcome, event.country) == (Action.UPLOAD, Outcome.SUCCESS, "XA")
    assert event.subject_thumbprint == row.thumbprint
    assert event.authentication_thumbprint == xa.auth_thumbprint


def test_accepted_upload_reads_parties_once_and_checks_duplicates_by_index(client, xa):
    # The identity query also brings the UPLOAD and CSCA rows; duplicates are left to the unique
    # indexes of the insert. Both save a round trip per upload (bench/upload.py).
    with CaptureQueriesContext(connection) as captured:
        assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    statements = [query["sql"] for query in captured.captured_queries]
    assert sum('FROM "countries_trustedparty"' in sql for sql in statements) == 1, statements
    assert not any(sql.startswith("SELECT") and 'FROM "trustlist_signercertificate"' in sql for sql in statements)


def _refused(client, country, body: bytes, status: int, code: str, reason: str):
    rows_before, events_before = counts()
    response = upload(client, country, body)
    assert_problem(response, status, code, reason)
    rows_after, events_after = counts()
    assert rows_after == rows_before, "a refused upload must store nothing"
    assert events_after == events_before + 1, "a refused upload must be audited"
    event = last_event()
    assert (event.action, event.outcome, event.reason) == (Action.UPLOAD, Outcome.REJECTED, reason)
    return response


def test_invalid_base64_is_0x402(client, xa):
    _refused(client, xa, b"not base64!!", 400, "0x402", "INVALID_BASE64")


def test_base64_with_line_breaks_is_refused(client, xa):
    wrapped = base64.encodebytes(xa.cms(xa.dsc().der))  # inserts newlines every 76 characters
    _refused(client, xa, wrapped, 400, "0x402", "INVALID_BASE64")


def test_random_bytes_are_0x402(client, xa):
    _refused(client, xa, base64.b64encode(b"\x30\x03\x02\x01"), 400, "0x402", "CMS_PARSE")


def test_detached_upload_is_refused(client, xa):
    dsc = xa.dsc()
    detached = cms.sign(dsc.der, xa.upload.certificate, xa.upload.key, detached=True)
    _refused(client, xa, base64.b64encode(detached), 400, "0x402", "CMS_DETACHED")


def test_payload_not_a_certificate(client, xa):
    _refused(client, xa, xa.cms_b64(b"hello"), 400, "0x402", "CMS_PAYLOAD_NOT_CERTIFICATE")


def test_pem_payload_is_refused(client, xa):
    _refused(client, xa, xa.cms_b64(xa.dsc().cert_pem), 400, "0x402", "CMS_PAYLOAD_NOT_CERTIFICATE")


def test_two_concatenated_certificates_are_refused(client, xa):
    _refused(client, xa, xa.cms_b64(xa.dsc().der + xa.dsc().der), 400, "0x402", "CMS_PAYLOAD_NOT_CERTIFICATE")


def test_tampered_signature_is_0x009(client, xa):
    raw = bytearray(xa.cms(xa.dsc().der))
    raw[-5] ^= 0x01  # inside the signature value at the end of the SignerInfo
    _refused(client, xa, base64.b64encode(bytes(raw)), 400, "0x009", None or "CMS_SIGNATURE_INVALID")


def test_signer_not_an_upload_certificate(client, xa):
    # Signed with the AUTHENTICATION key: onboarded, but not as UPLOAD (DGCG check 1).
    _refused(client, xa, xa.cms_b64(xa.dsc().der, signer=xa.auth), 400, "0x004", "UPLOAD_CERT_UNKNOWN")


def test_upload_certificate_of_another_country(client, xa, xb):
    _refused(client, xa, xa.cms_b64(xa.dsc().der, signer=xb.upload), 400, "0x004", "UPLOAD_CERT_UNKNOWN")


def test_suspended_upload_certificate_is_not_trusted(client, xa):
    TrustedParty.objects.filter(thumbprint=thumbprint(xa.upload.der)).update(status=Status.SUSPENDED)
    _refused(client, xa, xa.cms_b64(xa.dsc().der), 400, "0x004", "UPLOAD_CERT_UNKNOWN")


def test_upload_certificate_edited_in_database_is_not_trusted(client, xa, pki):
    # Swap in another certificate's bytes and thumbprint: the TA signature no longer covers it.
    other = issuance.issue(issuance.name("XA rogue upload", "XA"), at=NOW)
    TrustedParty.objects.filter(thumbprint=thumbprint(xa.upload.der)).update(
        raw_data=other.der, thumbprint=thumbprint(other.der)
    )
    _refused(client, xa, xa.cms_b64(xa.dsc().der, signer=other), 400, "0x004", "UPLOAD_CERT_UNKNOWN")


def test_dsc_without_country(client, xa):
    dsc = issuance.issue(issuance.name("no country"), at=NOW, issuer=xa.csca)
    _refused(client, xa, xa.cms_b64(dsc.der), 400, "0x004", "COUNTRY_MISSING")


def test_dsc_with_two_countries(client, xa):
    subject = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "XA"),
            x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "XA"),
            x509.NameAttribute(x509.NameOID.COMMON_NAME, "two C"),
        ]
    )
    dsc = issuance.issue(subject, at=NOW, issuer=xa.csca)
    _refused(client, xa, xa.cms_b64(dsc.der), 400, "0x004", "COUNTRY_MULTIPLE")


def test_dsc_of_another_country(client, xa):
    _refused(client, xa, xa.cms_b64(xa.dsc(country="XB").der), 400, "0x004", "COUNTRY_MISMATCH")


def test_country_hidden_in_common_name_does_not_count(client, xa):
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x,C=XA")])
    dsc = issuance.issue(subject, at=NOW, issuer=xa.csca)
    _refused(client, xa, xa.cms_b64(dsc.der), 400, "0x004", "COUNTRY_MISSING")


def test_dsc_issued_by_another_countrys_csca(client, xa, xb):
    dsc = xa.dsc(csca=xb.csca)
    _refused(client, xa, xa.cms_b64(dsc.der), 400, "0x004", "NOT_SIGNED_BY_CSCA")


def test_no_csca_onboarded(client, xa):
    TrustedParty.objects.filter(thumbprint=thumbprint(xa.csca.der)).update(status=Status.REMOVED)
    _refused(client, xa, xa.cms_b64(xa.dsc().der), 400, "0x004", "CSCA_LIST_EMPTY")


def test_self_signed_dsc_is_refused(client, xa):
    dsc = issuance.issue(issuance.name("self", "XA"), at=NOW)
    _refused(client, xa, xa.cms_b64(dsc.der), 400, "0x004", "NOT_SIGNED_BY_CSCA")


def test_expired_csca_is_refused_by_policy(client, xa, pki):
    old_csca = issuance.issue(
        issuance.name("XA old CSCA", "XA"),
        at=NOW,
        ca=True,
        not_before=NOW - dt.timedelta(days=900),
        not_after=NOW - dt.timedelta(days=1),
    )
    pki.onboard("XA", "CSCA", old_csca)
    dsc = xa.dsc(csca=old_csca)
    _refused(client, xa, xa.cms_b64(dsc.der), 400, "0x004", "NOT_SIGNED_BY_CSCA")


def test_duplicate_is_409_and_still_one_row(client, xa):
    body = xa.cms_b64(xa.dsc().der)
    assert upload(client, xa, body).status_code == 201
    _refused(client, xa, body, 409, "0x002", "ALREADY_EXISTS")
    assert SignerCertificate.objects.count() == 1


def test_kid_collision_is_refused(client, xa):
    first = xa.dsc()
    assert upload(client, xa, xa.cms_b64(first.der)).status_code == 201
    second = xa.dsc()
    # Forge a collision on the 8-byte kid: make the stored row claim the new DSC's kid.
    SignerCertificate.objects.update(kid=kid(second.der))
    _refused(client, xa, xa.cms_b64(second.der), 400, "0x004", "KID_EXISTS")


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("serial-zero", "SERIAL_POLICY"),
        ("serial-negative", "SERIAL_POLICY"),
        ("serial-21-octets", "SERIAL_POLICY"),
        ("unknown-critical-extension", "UNKNOWN_CRITICAL_EXTENSION"),
        ("expired", "EXPIRED"),
        ("not-yet-valid", "NOT_YET_VALID"),
        ("rsa-1024", "KEY_POLICY"),
        ("rsa-e3", "KEY_POLICY"),
        ("ec-p224", "KEY_POLICY"),
        ("sha1-signature", "SIGNATURE_ALGORITHM"),
        ("ca-true", "DSC_IS_CA"),
    ],
)
def test_policy_refusals(client, xa, label, reason):
    _refused(client, xa, xa.cms_b64(_policy_violation(xa, label)), 400, "0x004", reason)


def _policy_violation(xa, label: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    def with_serial(value):
        def mutate(tbs):
            tbs["serial_number"] = value

        return resign_tbs(xa.dsc().certificate, xa.csca.key, mutate)

    if label == "serial-zero":
        return with_serial(0)
    if label == "serial-negative":
        return with_serial(-5)
    if label == "serial-21-octets":
        return with_serial(1 << 165)
    if label == "unknown-critical-extension":
        builder_cert = xa.dsc()

        def add_extension(tbs):
            extensions = list(tbs["extensions"])
            extensions.append({"extn_id": "1.3.6.1.4.1.99999.1", "critical": True, "extn_value": b"\x05\x00"})
            tbs["extensions"] = extensions

        return resign_tbs(builder_cert.certificate, xa.csca.key, add_extension)
    if label == "expired":
        return xa.dsc(not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1)).der
    if label == "not-yet-valid":
        return xa.dsc(not_before=NOW + dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=400)).der
    if label == "ca-true":
        return xa.dsc(ca=True).der
    if label == "sha1-signature":
        return resign_tbs(xa.dsc().certificate, xa.csca.key, lambda tbs: None, hash_name="sha1")
    public_key = {
        "rsa-1024": lambda: rsa_public_key(1024),
        "rsa-e3": lambda: rsa_public_key(2048, exponent=3),
        "ec-p224": lambda: ec.generate_private_key(ec.SECP224R1()).public_key(),
    }[label]()
    from asn1crypto import keys as asn1_keys
    from cryptography.hazmat.primitives import serialization

    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def swap_key(tbs):
        tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo.load(spki)

    return resign_tbs(xa.dsc().certificate, xa.csca.key, swap_key)


def test_policy_switch_relaxes_its_check(client, xa, settings):
    settings.GATEWAY_POLICY_CHECK_VALIDITY = False
    expired = xa.dsc(not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1))
    assert upload(client, xa, xa.cms_b64(expired.der)).status_code == 201


def test_duplicate_is_named_before_a_policy_refusal(client, xa, settings):
    # DGCG's duplicate check comes before our policy checks: a DSC stored under a relaxed
    # policy and uploaded again under the strict one is a duplicate, not an expired certificate.
    settings.GATEWAY_POLICY_CHECK_VALIDITY = False
    expired = xa.dsc(not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1))
    body = xa.cms_b64(expired.der)
    assert upload(client, xa, body).status_code == 201
    settings.GATEWAY_POLICY_CHECK_VALIDITY = True
    _refused(client, xa, body, 409, "0x002", "ALREADY_EXISTS")
    # a new DSC with the same defect is refused by the policy check
    also_expired = xa.dsc(not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1))
    _refused(client, xa, xa.cms_b64(also_expired.der), 400, "0x004", "EXPIRED")


def test_custom_kid_collision_is_named(client, xa):
    first = client.post(
        "/trustedCertificate",
        {"cms": xa.cms_b64(xa.dsc().der).decode(), "kid": "my-kid"},
        content_type="application/json",
        **xa.headers(),
    )
    assert first.status_code == 201
    second = client.post(
        "/trustedCertificate",
        {"cms": xa.cms_b64(xa.dsc().der).decode(), "kid": "my-kid"},
        content_type="application/json",
        **xa.headers(),
    )
    assert second.status_code == 400
    assert second.json()["reason"] == "KID_EXISTS"
    assert SignerCertificate.objects.count() == 1


def test_self_signed_csca_as_dsc_needs_the_switch(client, xa, settings):
    body = xa.cms_b64(xa.csca.der)
    _refused(client, xa, body, 400, "0x004", "SELF_SIGNED")
    settings.GATEWAY_POLICY_ALLOW_SELF_SIGNED_CSCA_AS_DSC = True
    assert upload(client, xa, body).status_code == 201


def test_wrong_content_type_is_415(client, xa):
    response = client.post(
        "/signerCertificate", xa.cms_b64(xa.dsc().der), content_type="application/json", **xa.headers()
    )
    assert_problem(response, 415, "0x001", "UNSUPPORTED_MEDIA_TYPE")
    assert SignerCertificate.objects.count() == 0


def test_cms_text_content_type_is_accepted(client, xa):
    response = client.post(
        "/signerCertificate", xa.cms_b64(xa.dsc().der), content_type="application/cms-text", **xa.headers()
    )
    assert response.status_code == 201


# --- revocation ---------------------------------------------------------------------------------


def _uploaded(client, xa):
    dsc = xa.dsc()
    body = xa.cms_b64(dsc.der)
    assert upload(client, xa, body).status_code == 201
    return dsc, body


@pytest.mark.parametrize("alias", [False, True])
def test_revoke_keeps_row_with_time_and_reason(client, xa, alias):
    dsc, _ = _uploaded(client, xa)
    response = revoke(client, xa, xa.cms_b64(dsc.der), alias=alias)  # signed afresh (docs/policy.md)
    assert response.status_code == 204
    row = SignerCertificate.objects.get()
    assert row.revoked_at == NOW
    assert row.revocation_reason
    assert last_event().action == Action.REVOKE
    listed = client.get("/trustList/DSC", **xa.headers()).json()
    assert listed == []


def test_revoke_twice_changes_nothing(client, xa, frozen):
    dsc, _ = _uploaded(client, xa)
    revocation = xa.cms_b64(dsc.der)
    assert revoke(client, xa, revocation).status_code == 204
    first = SignerCertificate.objects.get().revoked_at
    frozen.shift(dt.timedelta(hours=1))
    assert revoke(client, xa, revocation).status_code == 204  # a client's retry of the same request
    assert SignerCertificate.objects.get().revoked_at == first
    assert last_event().outcome == Outcome.UNCHANGED


def test_revoked_dsc_cannot_be_uploaded_again(client, xa):
    dsc, body = _uploaded(client, xa)
    assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204
    _refused(client, xa, body, 409, "0x002", "ALREADY_REVOKED")
    assert SignerCertificate.objects.get().revoked_at is not None


def test_revoke_unknown_is_404(client, xa):
    response = revoke(client, xa, xa.cms_b64(xa.dsc().der))
    assert_problem(response, 404, "0x005", "NOT_FOUND")
    assert last_event().outcome == Outcome.REJECTED


def test_revoke_another_countrys_dsc_is_refused(client, xa, xb):
    dsc = xb.dsc()
    assert upload(client, xb, xb.cms_b64(dsc.der)).status_code == 201
    # XA wraps XB's DSC in a CMS signed by XA's own UPLOAD key.
    response = revoke(client, xa, xa.cms_b64(dsc.der))
    assert_problem(response, 400, "0x007", "COUNTRY_MISMATCH")
    assert SignerCertificate.objects.get().revoked_at is None


def test_revoke_with_foreign_upload_key_is_refused(client, xa, xb):
    dsc, _ = _uploaded(client, xa)
    response = revoke(client, xa, xa.cms_b64(dsc.der, signer=xb.upload))
    assert_problem(response, 400, "0x007", "UPLOAD_CERT_UNKNOWN")
    assert SignerCertificate.objects.get().revoked_at is None


def test_revoke_bad_signature_is_0x009(client, xa):
    dsc, _ = _uploaded(client, xa)
    raw = bytearray(xa.cms(dsc.der))
    raw[-5] ^= 0x01
    response = revoke(client, xa, base64.b64encode(bytes(raw)))
    assert_problem(response, 400, "0x009", "CMS_SIGNATURE_INVALID")
    assert SignerCertificate.objects.get().revoked_at is None


def test_revoke_garbage_is_0x402(client, xa):
    assert_problem(revoke(client, xa, b"%%%"), 400, "0x402", "INVALID_BASE64")
