"""Issue 16's findings about uploads and revocations, each reproduced as the review did it and
shown refused: borrowed kids, certificates of other groups published as signers, revocation by
replay of the published upload CMS, kids of revoked certificates, and UPLOAD certificates out of
their validity. Every refusal is a 4xx with its named reason, stores nothing, and is audited."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki import cms, issuance
from gateway.pki.certs import kid, thumbprint
from publication.service import publish
from tests.factory import NOW
from tests.helpers import revoke, upload
from tests.publishing import anchors, install_publisher, publish_root, served_trust_list
from trustlist.models import SignerCertificate
from verifier.trust import TrustStore

pytestmark = pytest.mark.django_db(transaction=True)  # publication reads in snapshots of its own


def _tng_upload(client, country, der: bytes, *, kid_text: str | None = None, group: str | None = None, signer=None):
    body: dict = {"cms": country.cms_b64(der, signer=signer).decode()}
    if kid_text is not None:
        body["kid"] = kid_text
    if group is not None:
        body["group"] = group
    return client.post("/trustedCertificate", body, content_type="application/json", **country.headers())


def _refused(response, status: int, reason: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["reason"] == reason
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.outcome, event.reason) == (Outcome.REJECTED, reason)


# --- 1. kids name one key ---------------------------------------------------------------------------


def test_a_custom_kid_cannot_borrow_another_countrys_dsc_kid(client, xa, xb):
    theirs = xb.dsc()
    assert upload(client, xb, xb.cms_b64(theirs.der)).status_code == 201
    mine = xa.dsc()
    # A kid in the computed form names the certificate it is computed from, and no other.
    _refused(_tng_upload(client, xa, mine.der, kid_text=kid(theirs.der)), 400, "INVALID_KID")
    assert not SignerCertificate.objects.filter(thumbprint=thumbprint(mine.der)).exists()


def test_a_custom_kid_cannot_borrow_another_countrys_custom_kid_even_revoked(client, xa, xb):
    theirs = xb.dsc()
    assert _tng_upload(client, xb, theirs.der, kid_text="shared-kid").status_code == 201
    assert revoke(client, xb, xb.cms_b64(theirs.der)).status_code == 204
    _refused(_tng_upload(client, xa, xa.dsc().der, kid_text="shared-kid"), 400, "KID_EXISTS")


def test_a_custom_kid_cannot_take_a_kid_a_later_certificate_would_have(client, xa, xb):
    # Squatting: XB takes, as its custom kid, the kid XA's next DSC will have. A custom kid in
    # the form of a computed kid must be the certificate's own, so XA's upload stays possible.
    mine = xa.dsc()
    _refused(_tng_upload(client, xb, xb.dsc().der, kid_text=kid(mine.der)), 400, "INVALID_KID")
    assert upload(client, xa, xa.cms_b64(mine.der)).status_code == 201
    own = xb.dsc()
    assert _tng_upload(client, xb, own.der, kid_text=kid(own.der)).status_code == 201


@pytest.mark.parametrize("hostile", ["<b>x</b>", " abc", "a b", "kid\n", "é", "a" * 21])
def test_a_custom_kid_has_the_base64_form(client, xa, hostile):
    response = _tng_upload(client, xa, xa.dsc().der, kid_text=hostile)
    assert response.status_code == 400
    assert response.json()["reason"] in {"INVALID_KID", "INVALID_REQUEST"}  # 21 characters: the request's schema
    assert SignerCertificate.objects.count() == 0
    assert AuditEvent.objects.filter(outcome=Outcome.REJECTED).exists()


@pytest.mark.parametrize("fine", ["abcDEF123+/", "my-kid_01", "x" * 20])
def test_base64_and_base64url_kids_are_accepted(client, xa, fine):
    assert _tng_upload(client, xa, xa.dsc().der, kid_text=fine).status_code == 201
    assert SignerCertificate.objects.get().effective_kid == fine


# --- 4. a revoked certificate's kid may be taken again by its country ----------------------------------


def test_a_revoked_certificates_custom_kid_may_be_reused_by_its_country(client, pki, xa):
    install_publisher(pki)
    first, second, third = xa.dsc(), xa.dsc(), xa.dsc()
    assert _tng_upload(client, xa, first.der, kid_text="national-kid-1").status_code == 201
    # While the first holds it, the kid is taken.
    _refused(_tng_upload(client, xa, second.der, kid_text="national-kid-1"), 400, "KID_EXISTS")
    assert revoke(client, xa, xa.cms_b64(first.der)).status_code == 204
    assert _tng_upload(client, xa, second.der, kid_text="national-kid-1").status_code == 201
    _refused(_tng_upload(client, xa, third.der, kid_text="national-kid-1"), 400, "KID_EXISTS")
    # Verifiers see the revoked and the new entry under that kid.
    publish(at=NOW, force=True)
    trusted = served_trust_list(publish_root(), anchors(pki), NOW)
    assert trusted[thumbprint(second.der)]["kid"] == "national-kid-1"
    assert thumbprint(first.der) not in trusted
    index = json.loads(base64.urlsafe_b64decode((publish_root() / "index.jws").read_bytes().split(b".")[1] + b"=="))
    revocations = (publish_root() / index["revocationList"]["path"]).read_bytes().split(b".")[1]
    entries = json.loads(base64.urlsafe_b64decode(revocations + b"=" * (-len(revocations) % 4)))["entries"]
    assert {(e["thumbprint"], e["kid"]) for e in entries} >= {(thumbprint(first.der), "national-kid-1")}


# --- 2. every group is the uploader's own, and only DSCs sign for verifiers ---------------------------


@pytest.mark.parametrize("group", ["AUTH", "SIGN", "CUSTOM"])
def test_other_groups_must_name_the_uploaders_country(client, xa, group):
    foreign = xa.dsc(country="XB")  # issued by XA's CSCA, subject C=XB
    _refused(_tng_upload(client, xa, foreign.der, group=group), 400, "COUNTRY_MISMATCH")
    assert SignerCertificate.objects.count() == 0


@pytest.mark.parametrize("group", ["AUTH", "SIGN", "CUSTOM"])
def test_other_groups_are_served_by_tng_but_never_published_as_signers(client, pki, xa, group):
    install_publisher(pki)
    other, dsc = xa.dsc(), xa.dsc()
    assert _tng_upload(client, xa, other.der, group=group).status_code == 201
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    served = client.get(f"/trustList/certificate?group={group}&country=XA", **xa.headers()).json()
    assert [entry["group"] for entry in served] == [group]
    publish(at=NOW, force=True)
    trusted = served_trust_list(publish_root(), anchors(pki), NOW)
    assert thumbprint(dsc.der) in trusted
    assert thumbprint(other.der) not in trusted
    # The verifier's trust store takes only DSC entries of domain DCC, whatever a list says.
    entries = [
        {"type": "DSC", "group": group, "domain": "DCC", "kid": "AAAAAAAAAAA=", "thumbprint": "x"},
        {"type": "DSC", "group": "DSC", "domain": "OTHER", "kid": "AAAAAAAAAAE=", "thumbprint": "y"},
        {"type": "DSC", "group": "DSC", "domain": "DCC", "kid": "AAAAAAAAAAI=", "thumbprint": "z"},
    ]
    store = TrustStore.from_trust_list_payload({"entries": entries})
    assert len(store) == 1
    assert store.kids() == [base64.b64decode("AAAAAAAAAAI=")]


# --- 3. a revocation is signed afresh -----------------------------------------------------------------


def _published_signature(client, xa, dsc) -> bytes:
    """The upload CMS as the TNG trust list publishes it: anyone can read it."""
    served = client.get("/trustList/certificate?group=DSC&country=XA", **xa.headers()).json()
    (entry,) = [e for e in served if e["kid"] == kid(dsc.der)]
    return entry["signature"].encode()


def test_replaying_the_published_upload_cms_does_not_revoke(client, xa):
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    replay = _published_signature(client, xa, dsc)
    response = revoke(client, xa, replay)
    _refused(response, 400, "REVOCATION_NOT_FRESH")
    assert response.json()["code"] == "0x007"
    assert SignerCertificate.objects.get().revoked_at is None
    _refused(revoke(client, xa, replay, alias=True), 400, "REVOCATION_NOT_FRESH")
    # A new signature by the UPLOAD key revokes.
    assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204


def test_the_identical_upload_body_does_not_revoke(client, xa):
    dsc = xa.dsc()
    body = xa.cms_b64(dsc.der)
    assert upload(client, xa, body).status_code == 201
    _refused(revoke(client, xa, body), 400, "REVOCATION_NOT_FRESH")
    assert SignerCertificate.objects.get().revoked_at is None


def _signed_at(content: bytes, signer, at: dt.datetime) -> bytes:
    """An attached CMS by ``signer`` whose signingTime is ``at`` (OpenSSL stamps its own clock)."""
    info = asn1_cms.ContentInfo.load(cms.sign(content, signer.certificate, signer.key, detached=False))
    signer_info = info["content"]["signer_infos"][0]
    attributes = signer_info["signed_attrs"]
    for attribute in attributes:
        if attribute["type"].native == "signing_time":
            attribute["values"] = asn1_cms.SetOfTime([asn1_core.UTCTime(at)])
    signed = b"\x31" + attributes.dump(force=True)[1:]  # RFC 5652 §5.4: signed as a SET OF
    signer_info["signature"] = signer.key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return info.dump(force=True)


def test_a_revocation_signed_before_the_upload_does_not_revoke(client, xa):
    dsc = xa.dsc()
    signed_before = _signed_at(dsc.der, xa.upload, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert cms.parse_attached(signed_before).signing_time is not None
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    _refused(revoke(client, xa, base64.b64encode(signed_before)), 400, "REVOCATION_NOT_FRESH")
    signed_after = _signed_at(dsc.der, xa.upload, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    assert revoke(client, xa, base64.b64encode(signed_after)).status_code == 204


def test_dgcgs_behaviour_is_a_setting(client, xa, settings):
    settings.GATEWAY_REVOCATION_REQUIRE_FRESH_SIGNATURE = False
    dsc = xa.dsc()
    body = xa.cms_b64(dsc.der)
    assert upload(client, xa, body).status_code == 201
    assert revoke(client, xa, body).status_code == 204


# --- 10. the UPLOAD certificate's own validity --------------------------------------------------------


def _second_upload_key(pki, xa, *, not_before: dt.datetime, not_after: dt.datetime):
    key = issuance.issue(issuance.name("XA upload 2", "XA"), at=NOW, not_before=not_before, not_after=not_after)
    pki.onboard("XA", "UPLOAD", key)
    return key


def test_an_expired_upload_certificate_neither_uploads_nor_revokes(client, pki, xa, frozen):
    short = _second_upload_key(pki, xa, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=1))
    dsc = xa.dsc()
    assert _tng_upload(client, xa, dsc.der, signer=short).status_code == 201
    frozen.move_to(NOW + dt.timedelta(days=2))
    _refused(_tng_upload(client, xa, xa.dsc().der, signer=short), 400, "UPLOAD_CERT_EXPIRED")
    _refused(revoke(client, xa, xa.cms_b64(dsc.der, signer=short)), 400, "UPLOAD_CERT_EXPIRED")
    assert SignerCertificate.objects.get().revoked_at is None
    # The country's other UPLOAD key, still valid, does both.
    assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204


def test_a_not_yet_valid_upload_certificate_does_not_upload(client, pki, xa):
    early = _second_upload_key(pki, xa, not_before=NOW + dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=30))
    _refused(upload(client, xa, xa.cms_b64(xa.dsc().der, signer=early)), 400, "UPLOAD_CERT_NOT_YET_VALID")
    assert SignerCertificate.objects.count() == 0
    events = AuditEvent.objects.filter(action=Action.UPLOAD, reason="UPLOAD_CERT_NOT_YET_VALID")
    assert events.count() == 1
