"""The CMS migration for people (issue 21): the dashboard warns 30 days before an UPLOAD
certificate expires, with the count of what is still signed by it; alice (admin of XA) downloads
its package, re-signs it offline with the new UPLOAD key and uploads it, or pastes one entity's
new CMS; a refusal is shown by its reason and recorded; nothing is stored on refusal. bob (admin
of XB) sees only XB's; vera (viewer of XA), audrey (auditor) and otto (operator) re-sign nothing.
Time is frozen at tests.factory.NOW (the ``xa`` fixture)."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from countries import services as country_services
from countries.models import Status, TrustedParty
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki import cms, issuance
from gateway.pki.certs import thumbprint
from revocation.models import RevocationBatch
from rules.models import ValidationRule
from tests import admin_world
from tests.conftest import otp_login
from tests.factory import NOW
from tests.helpers import upload
from tests.test_cms_migration import ROLES, snapshot
from tests.test_revocation_api import batch, grant, post_batch
from tests.test_rules_api import post_rule, rule_for
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db

INDEX = "/admin/cms-migration/"


@pytest.fixture
def people(django_user_model):
    return admin_world.personas(django_user_model)


@pytest.fixture
def expiring(client, pki, xa, xb):
    """XA's and XB's stores signed by UPLOAD keys that expire in 20 days; XA's successor onboarded."""
    for country in (xa, xb):
        country.upload = issuance.issue(issuance.name(f"{country.code} upload 2026", country.code), at=NOW, days=20)
        pki.onboard(country.code, "UPLOAD", country.upload)
        grant(country, *ROLES)
        for _ in range(2):
            assert upload(client, country, country.cms_b64(country.dsc().der)).status_code == 201
        assert post_rule(client, country, rule_for(country.code)).status_code == 201
        assert post_batch(client, country, batch(country.code)).status_code == 201
    successor = issuance.issue(issuance.name("XA upload 2027", "XA"), at=NOW, days=730)
    pki.onboard("XA", "UPLOAD", successor)
    return successor


def as_(client, user):
    otp_login(client, user)
    return client


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def test_the_dashboard_warns_of_an_upload_certificate_about_to_expire_with_what_it_signs(client, people, xa, expiring):
    text = page(as_(client, people["alice"]), "/admin/")
    assert "UPLOAD certificates expiring within 30 days" in text
    assert "XA upload 2026" in text
    assert "XB upload 2026" not in text  # XB's is not alice's to see
    assert "XA upload 2027" not in text  # the successor is valid for two years
    assert "2 DSC(s), 1 revocation batch(es), 1 rule version(s)" in text
    assert f"{INDEX}{thumbprint(xa.upload.der)}/" in text
    # The original UPLOAD certificate of the fixture signed nothing and expires in a year: not listed.
    assert "XA upload<br>" not in text

    viewer = page(as_(client, people["vera"]), "/admin/")
    assert "XA upload 2026" in viewer
    assert "its country admins re-sign it" in viewer
    assert INDEX not in viewer
    operator = page(as_(client, people["otto"]), "/admin/")
    assert "XA upload 2026" in operator
    assert "XB upload 2026" in operator


def test_the_dashboard_warns_of_a_removed_upload_certificate_that_still_signs(client, people, xa, expiring):
    party = TrustedParty.objects.get(thumbprint=thumbprint(xa.upload.der))
    country_services.set_status(party_id=party.pk, status=Status.REMOVED, reason="too early", actor="otto", at=NOW)
    text = page(as_(client, people["alice"]), "/admin/")
    row = text[text.index("XA upload 2026") :]
    assert "removed" in row[: row.index("</tr>")]
    assert "2 DSC(s), 1 revocation batch(es), 1 rule version(s)" in row


def test_a_country_admin_sees_the_upload_certificates_of_her_countries(client, people, xa, expiring):
    text = page(as_(client, people["alice"]), INDEX)
    assert "XA upload 2026" in text
    assert "XA upload 2027" in text
    assert "XB upload 2026" not in text
    assert "Re-sign 4" in text
    for name in ("vera", "audrey", "otto"):
        page(as_(client, people[name]), INDEX, 404)
    page(as_(client, people["bob"]), f"{INDEX}{thumbprint(xa.upload.der)}/", 404)  # XA's: not bob's


@pytest.mark.parametrize("value", ["0" * 64, "zz", "A" * 64, "..%2F..%2Fetc"])
def test_a_certificate_that_is_not_hers_to_see_is_404(client, people, xa, expiring, value):
    page(as_(client, people["alice"]), f"{INDEX}{value}/", 404)
    page(client, f"{INDEX}{value}/package.json", 404)


def test_alice_downloads_the_package_re_signs_it_offline_and_uploads_it(client, people, xa, xb, expiring, tmp_path):
    as_(client, people["alice"])
    old = thumbprint(xa.upload.der)
    response = client.get(f"{INDEX}{old}/package.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    package = json.loads(response.content)
    assert [entry["type"] for entry in package] == ["DSC", "DSC", "REVOCATION_LIST", "VALIDATION_RULE"]
    (tmp_path / "package.json").write_bytes(response.content)
    (tmp_path / "new.pem").write_bytes(expiring.cert_pem)
    (tmp_path / "new.key").write_bytes(expiring.key_pem)
    out = tmp_path / "resigned.json"
    call_command(
        "sign_migration",
        "--package",
        str(tmp_path / "package.json"),
        "--signer",
        str(tmp_path / "new.pem"),
        "--key",
        str(tmp_path / "new.key"),
        "--out",
        str(out),
    )
    upload_file = SimpleUploadedFile("resigned.json", out.read_bytes(), content_type="application/json")
    response = client.post(f"{INDEX}{old}/", {"form": "package", "package_file": upload_file})
    assert response.status_code == 200
    text = response.content.decode()
    assert "4 of 4 re-signed" in text
    assert text.count(">re-signed<") == 4
    new = thumbprint(expiring.der)
    assert set(SignerCertificate.objects.filter(country="XA").values_list("uploader_thumbprint", flat=True)) == {new}
    assert ValidationRule.objects.get(country="XA").uploader_thumbprint == new
    assert RevocationBatch.objects.get(country="XA").uploader_thumbprint == new
    events = AuditEvent.objects.filter(action=Action.CMS_MIGRATION, outcome=Outcome.SUCCESS)
    assert {(event.actor, event.country) for event in events} == {("admin:alice", "XA")}
    assert events.count() == 4
    # XB's are untouched; XA's old certificate has nothing left to re-sign.
    assert RevocationBatch.objects.get(country="XB").uploader_thumbprint == thumbprint(xb.upload.der)
    assert "nothing left to re-sign" in page(client, INDEX)
    assert "Nothing stored is signed by this certificate any more." in page(client, f"{INDEX}{old}/")
    # The dashboard still warns of the expiring certificate, with nothing left on it.
    assert "0 DSC(s), 0 revocation batch(es), 0 rule version(s)" in page(client, "/admin/")
    # Each entity's history tells of its re-signing.
    histories = (
        f"/admin/trustlist/signercertificate/{SignerCertificate.objects.filter(country='XA').first().pk}/history/",
        f"/admin/rules/validationrule/{ValidationRule.objects.get(country='XA').pk}/history/",
        f"/admin/revocation/revocationbatch/{RevocationBatch.objects.get(country='XA').pk}/history/",
    )
    for history in histories:
        assert "Re-signed (CMS migration)" in page(client, history), history


def test_one_entity_pasted_and_a_swap_refused_by_its_reason(client, people, xa, expiring):
    as_(client, people["alice"])
    old = thumbprint(xa.upload.der)
    row = SignerCertificate.objects.filter(country="XA").order_by("pk").first()
    text = page(client, f"{INDEX}{old}/")
    assert f'value="DSC:{row.pk}"' in text
    assert "XA upload 2027" in text  # the successor to sign with

    before = snapshot()
    swapped = xa.cms_b64(xa.dsc().der, signer=expiring).decode()
    response = client.post(f"{INDEX}{old}/", {"form": "entity", "entity": f"DSC:{row.pk}", "cms": swapped})
    assert response.status_code == 200
    assert "Refused (MIGRATION_PAYLOAD_MISMATCH)" in response.content.decode()
    assert snapshot() == before
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.outcome, event.reason, event.actor) == (
        Action.CMS_MIGRATION,
        Outcome.REJECTED,
        "MIGRATION_PAYLOAD_MISMATCH",
        "admin:alice",
    )

    # Wrapped at 64 columns, as a file made with openssl base64 is.
    good = base64.b64encode(cms.sign(bytes(row.raw_data), expiring.certificate, expiring.key, detached=False))
    wrapped = "\n".join(good[i : i + 64].decode() for i in range(0, len(good), 64))
    response = client.post(f"{INDEX}{old}/", {"form": "entity", "entity": f"DSC:{row.pk}", "cms": wrapped})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.uploader_thumbprint == thumbprint(expiring.der)
    assert f"Re-signed DSC {row.pk}" in page(client, response["Location"])


def test_a_package_that_cannot_be_read_is_refused_and_recorded(client, people, xa, expiring):
    as_(client, people["alice"])
    old = thumbprint(xa.upload.der)
    before = snapshot()
    for text, reason in (("{not json", "MALFORMED_BODY"), ("{}", "INVALID_REQUEST"), ("[]", "INVALID_REQUEST")):
        response = client.post(f"{INDEX}{old}/", {"form": "package", "package": text})
        assert f"Refused ({reason})" in response.content.decode()
        assert AuditEvent.objects.order_by("-id").first().reason == reason
    # One entry unreadable, one refused, one re-signed: each on its own.
    row = SignerCertificate.objects.filter(country="XA").order_by("pk").first()
    good = xa.cms_b64(bytes(row.raw_data), signer=expiring).decode()
    mixed = [{"cms": good, "type": "DSC"}, {"cms": "AA==", "entityId": row.pk, "type": "DSC"}]
    mixed.append({"cms": good, "entityId": row.pk, "type": "DSC"})
    response = client.post(f"{INDEX}{old}/", {"form": "package", "package": json.dumps(mixed)})
    text = response.content.decode()
    assert "1 of 3 re-signed" in text
    assert "Refused (INVALID_REQUEST)" in text
    assert "Refused (CMS_PARSE)" in text
    assert snapshot() != before
    row.refresh_from_db()
    assert row.uploader_thumbprint == thumbprint(expiring.der)
