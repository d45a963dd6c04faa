"""Uploads of the shapes real national backends sent DGCG (issue 22) under each profile, through
the API and the admin's service: refused by name, nothing stored and audited under ``strict``;
stored with their findings (row, audit event, admin) under ``dgcg``; published, and a code
signed with such a DSC verifies for a verifier syncing from here."""

from __future__ import annotations

import base64
import datetime as dt
import functools

import pytest
from asn1crypto import algos as asn1_algos
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec

from countries import services as onboarding_services
from countries.identity import ClientIdentity
from countries.models import TrustedParty
from gateway.audit.models import Action, Finding, Outcome, Severity
from gateway.pki import issuance
from gateway.pki.certs import read_certificate, thumbprint
from gateway.pki.errors import Reason, Rejected
from oversight import signature_audit
from publication.service import publish
from tests.factory import NOW
from tests.helpers import counts, last_event, revoke, upload
from tests.pki.test_cms import build_cms
from tests.pki.test_policy_profiles import SHAPES, _resigned, _unchanged, _with_basic_constraints
from tests.publishing import anchors, install_publisher, publish_root
from trustlist import services
from trustlist.models import SignerCertificate
from verifier.artifacts import verify_artifact
from verifier.hcert import verify_hc1
from verifier.index import verify_index
from verifier.issue import issue_hc1
from verifier.trust import TrustStore

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive"),
]


@pytest.mark.parametrize("shape", SHAPES)
def test_strict_refuses_the_upload_by_name_and_stores_nothing(client, xa, shape):
    make, reason = SHAPES[shape]
    rows, events = counts()
    response = upload(client, xa, xa.cms_b64(make(xa)))
    assert response.status_code == 400
    assert response.json()["reason"] == reason
    assert counts() == (rows, events + 1)
    event = last_event()
    assert (event.action, event.outcome, event.reason) == (Action.UPLOAD, Outcome.REJECTED, reason)


@pytest.mark.parametrize("shape", SHAPES)
def test_dgcg_stores_the_upload_with_its_finding(client, xa, settings, shape):
    settings.GATEWAY_POLICY_PROFILE = "dgcg"
    make, reason = SHAPES[shape]
    der = make(xa)
    response = upload(client, xa, xa.cms_b64(der))
    assert response.status_code == 201, response.content
    row = SignerCertificate.objects.get(thumbprint=thumbprint(der))
    assert bytes(row.raw_data) == der  # the bytes as received, whatever their encoding
    assert [finding["reason"] for finding in row.policy_findings] == [reason]
    event = last_event()
    assert (event.action, event.outcome) == (Action.UPLOAD, Outcome.SUCCESS)
    assert [finding["reason"] for finding in event.details["findings"]] == [reason]


def test_a_switch_overrides_the_profile(client, xa, settings):
    settings.GATEWAY_POLICY_PROFILE = "dgcg"
    settings.GATEWAY_POLICY_REJECT_CA_DSC = True
    make, reason = SHAPES["cA-TRUE"]
    assert upload(client, xa, xa.cms_b64(make(xa))).json()["reason"] == reason
    make, reason = SHAPES["negative-serial"]
    assert upload(client, xa, xa.cms_b64(make(xa))).status_code == 201


def test_a_strict_upload_records_no_findings(client, xa, settings):
    settings.GATEWAY_POLICY_PROFILE = "dgcg"
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    assert SignerCertificate.objects.get().policy_findings == []
    assert "findings" not in last_event().details


@pytest.mark.parametrize("profile", ["strict", "dgcg"])
def test_the_admin_upload_judges_as_the_api_does(xa, settings, profile):
    """The admin's form calls the same service (trustlist.services.upload_signed_text)."""
    settings.GATEWAY_POLICY_PROFILE = profile
    make, reason = SHAPES["basicConstraints-encodes-DEFAULT-cA-FALSE"]
    text = xa.cms_b64(make(xa)).decode("ascii")
    identity = ClientIdentity(country="XA", thumbprint="", party_id=0)
    if profile == "strict":
        with pytest.raises(Rejected) as refused:
            services.upload_signed_text(identity=identity, text=text, at=NOW, actor="admin:alice")
        assert refused.value.reason == reason
        assert not SignerCertificate.objects.exists()
    else:
        row = services.upload_signed_text(identity=identity, text=text, at=NOW, actor="admin:alice")
        assert [finding["reason"] for finding in row.policy_findings] == [reason]


def test_the_signature_audit_reports_findings_and_a_tightened_policy(client, xa, settings):
    settings.GATEWAY_POLICY_PROFILE = "dgcg"
    make, reason = SHAPES["cA-TRUE"]
    der = make(xa)
    assert upload(client, xa, xa.cms_b64(der)).status_code == 201
    signature_audit.run(at=NOW + dt.timedelta(minutes=1))
    assert ("DSC_POLICY_RELAXED", thumbprint(der)) in _open_findings()
    relaxed = Finding.objects.open().get(kind="DSC_POLICY_RELAXED")
    assert relaxed.severity == Severity.INFO
    assert reason in relaxed.message
    settings.GATEWAY_POLICY_PROFILE = "strict"
    signature_audit.run(at=NOW + dt.timedelta(minutes=2))
    assert ("DSC_POLICY_REFUSED", thumbprint(der)) in _open_findings()
    assert SignerCertificate.objects.get(thumbprint=thumbprint(der)).revoked_at is None  # the operator decides


def _open_findings() -> set[tuple[str, str]]:
    return set(Finding.objects.open().values_list("kind", "subject"))


@pytest.mark.django_db(transaction=True)
def test_dgcg_dscs_are_published_and_their_codes_verify(client, pki, xa, settings, frozen):
    """The DER-breaking DSC as received is in the signed trust list, and the verifier (which
    reads such certificates with asn1crypto) verifies a code it signed."""
    settings.GATEWAY_POLICY_PROFILE = "dgcg"
    install_publisher(pki)
    key = ec.generate_private_key(ec.SECP256R1())
    der = _with_basic_constraints(xa, b"\x30\x03\x01\x01\x00", public_key=key.public_key())
    sha1_key = ec.generate_private_key(ec.SECP256R1())
    sha1 = _resigned(xa, _unchanged, "sha1", public_key=sha1_key.public_key())
    for signed in (der, sha1):
        assert upload(client, xa, xa.cms_b64(signed)).status_code == 201
    assert publish(at=NOW, force=True) is not None
    index = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW)
    descriptor = index.trust_list
    payload = verify_artifact(
        (publish_root() / descriptor.path).read_bytes(),
        descriptor,
        anchors(pki),
        NOW,
        kind="trust-list",
        sequence=index.full_sequence,
        allowed_kids=index.announced_kids,
    )
    store = TrustStore.from_trust_list_payload(payload)
    dcc = {"ver": "1.3.0", "nam": {"fnt": "MUSTER"}, "dob": "1980-01-01", "v": [{"ci": "URN:UVCI:01:XA:1"}]}
    for signed, signer in ((der, key), (sha1, sha1_key)):
        code = issue_hc1(dcc, signed, signer, iat=NOW, exp=NOW + dt.timedelta(days=30), issuer="XA")
        result = verify_hc1(code, store, NOW)
        assert result.valid, result


@pytest.mark.parametrize("profile", ["strict", "dgcg"])
def test_onboarding_judges_the_encoding_by_the_profile(pki, settings, profile):
    """An onboarded certificate that is not DER: refused under strict, taken under dgcg with the
    finding in the onboarding's audit event (the same switch as for DSCs)."""
    settings.GATEWAY_POLICY_PROFILE = profile
    csca = issuance.issue(issuance.name("XC CSCA", "XC"), at=NOW, days=1460, ca=True)
    assert csca.der[1] == 0x82
    ber = b"\x30\x83\x00" + csca.der[2:]  # the outer length in a longer form than DER allows
    signature = pki.sign(ber)
    onboard = functools.partial(
        onboarding_services.onboard,
        country="XC",
        certificate_type="CSCA",
        der=ber,
        signature_b64=signature,
        actor="test",
        at=NOW,
    )
    if profile == "strict":
        with pytest.raises(Rejected) as refused:
            onboard()
        assert refused.value.reason == Reason.CERTIFICATE_ENCODING
        assert not TrustedParty.objects.filter(country="XC").exists()
        assert last_event().reason == Reason.CERTIFICATE_ENCODING
        return
    party = onboard()
    assert bytes(party.raw_data) == ber
    event = last_event()
    assert (event.action, event.outcome) == (Action.ONBOARD, Outcome.SUCCESS)
    assert [finding["reason"] for finding in event.details["findings"]] == [Reason.CERTIFICATE_ENCODING]


def test_a_misspelt_profile_fails_the_system_check_and_every_use(settings):
    from django.core.exceptions import ImproperlyConfigured

    from countries.apps import check_policy_profile
    from countries.policy import configured_policy

    assert check_policy_profile() == []
    settings.GATEWAY_POLICY_PROFILE = "dgc"
    (error,) = check_policy_profile()
    assert error.id == "countries.E001"
    with pytest.raises(ImproperlyConfigured, match="strict, dgcg"):
        configured_policy()


def _attribute_free_sha1_upload(xa, der: bytes) -> bytes:
    """An upload CMS as Latvia's and Norway's backends send it: no signed attributes, SHA-1."""
    return base64.b64encode(build_cms(der, xa.upload.der, xa.upload.key, digest="sha1", signed_attributes=None))


def test_a_dsc_taken_under_dgcg_stays_revocable_and_audited_after_the_policy_is_tightened(client, xa, settings):
    """The stored upload is verified again with every check relaxed (its signature must still
    hold) and judged by the policy as configured apart: tightening never locks a country out of
    revoking, and the audit reports the DSC as refused by policy, not as a broken signature."""
    settings.GATEWAY_POLICY_PROFILE = "dgcg"
    dsc = xa.dsc()
    assert upload(client, xa, _attribute_free_sha1_upload(xa, dsc.der)).status_code == 201
    row = SignerCertificate.objects.get(thumbprint=thumbprint(dsc.der))
    assert {finding["reason"] for finding in row.policy_findings} == {"CMS_DIGEST_SHA1", "CMS_NO_SIGNED_ATTRIBUTES"}
    settings.GATEWAY_POLICY_PROFILE = "strict"
    signature_audit.run(at=NOW + dt.timedelta(minutes=1))
    kinds = {kind for kind, subject in _open_findings() if subject == row.thumbprint}
    assert kinds == {"DSC_POLICY_REFUSED"}
    assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204  # a fresh, strict CMS revokes it
    assert SignerCertificate.objects.get(pk=row.pk).revoked_at is not None


# The order of P-256 (SEC 2 §2.4.2): an ECDSA signature (r, s) verifies as (r, n - s) too.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _other_signature_value(der: bytes) -> bytes:
    """The same signed TBSCertificate with the issuer's other valid ECDSA signature value: other
    bytes, another thumbprint and kid, the same certificate."""
    parsed = asn1_x509.Certificate.load(der)
    value = asn1_algos.DSASignature.load(parsed["signature_value"].native)
    r, s = value["r"].native, value["s"].native
    parsed["signature_value"] = asn1_algos.DSASignature({"r": r, "s": P256_ORDER - s}).dump()
    return parsed.dump()


@pytest.mark.parametrize("profile", ["strict", "dgcg"])
def test_another_encoding_of_a_stored_dsc_is_the_same_certificate(client, xa, settings, profile):
    """A revoked DSC cannot come back under a new thumbprint and kid by being sent in other bytes
    of the same signed certificate: another ECDSA signature value (any profile) or, where the
    dgcg profile takes BER, another outer encoding."""
    settings.GATEWAY_POLICY_PROFILE = profile
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    copies = [_other_signature_value(dsc.der)]
    if profile == "dgcg":
        assert dsc.der[1] == 0x82
        copies.append(b"\x30\x83\x00" + dsc.der[2:])  # the outer length in a longer form than DER allows
    for copy in copies:
        assert copy != dsc.der
        assert read_certificate(copy).tbs == read_certificate(dsc.der).tbs
        response = upload(client, xa, xa.cms_b64(copy))
        assert (response.status_code, response.json()["reason"]) == (409, "ALREADY_EXISTS")
    assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204
    for copy in copies:
        response = upload(client, xa, xa.cms_b64(copy))
        assert (response.status_code, response.json()["reason"]) == (409, "ALREADY_REVOKED")
    assert SignerCertificate.objects.count() == 1
