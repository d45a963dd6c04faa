"""Persona tests for every admin rule: alice (admin of XA), bob (admin of XB), vera (viewer of
XA), audrey (auditor) and otto (operator). Another country's objects answer 404."""

from __future__ import annotations

import pytest

from countries.models import Status, TrustedParty
from countries.permissions import Do, can, countries_for
from gateway.audit.models import Action, AuditEvent
from gateway.pki.certs import thumbprint
from tests import admin_world
from tests.conftest import otp_login
from tests.helpers import upload
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db

re_duration = __import__("re").compile(r"\d+:\d\d:\d\d\.\d+")  # a timedelta's str(), e.g. 0:01:10.482939


@pytest.fixture
def people(django_user_model):
    return admin_world.personas(django_user_model)


@pytest.fixture
def dscs(client, xa, xb):
    found = {}
    for country in (xa, xb):
        dsc = country.dsc()
        assert upload(client, country, country.cms_b64(dsc.der)).status_code == 201
        found[country.code] = SignerCertificate.objects.get(thumbprint=thumbprint(dsc.der))
    return found


def as_(client, user):
    otp_login(client, user)
    return client


def test_permission_function(people):
    alice, bob, vera, audrey, otto = (people[n] for n in ("alice", "bob", "vera", "audrey", "otto"))
    assert can(alice, Do.UPLOAD_DSC, "XA")
    assert not can(alice, Do.UPLOAD_DSC, "XB")
    assert can(vera, Do.VIEW_KEYS, "XA")
    assert not can(vera, Do.REVOKE_DSC, "XA")
    assert can(audrey, Do.VIEW_KEYS, "XA")  # auditors read every country's keys ...
    assert not can(audrey, Do.UPLOAD_DSC, "XA")  # ... and change nothing
    assert not can(audrey, Do.REVOKE_DSC, "XA")
    assert not can(audrey, Do.ONBOARD)
    assert countries_for(audrey, Do.VIEW_KEYS) is None
    assert countries_for(audrey, Do.UPLOAD_DSC) == []
    assert can(otto, Do.ONBOARD)
    assert not can(otto, Do.UPLOAD_DSC, "XA")
    assert countries_for(alice, Do.VIEW_KEYS) == ["XA"]
    assert countries_for(otto, Do.VIEW_KEYS) is None
    assert countries_for(bob, Do.REVOKE_DSC) == ["XB"]


def test_lists_show_only_own_countries(client, people, dscs):
    listed = as_(client, people["alice"]).get("/admin/trustlist/signercertificate/").context["cl"].result_list
    assert {row.country for row in listed} == {"XA"}
    parties = client.get("/admin/countries/trustedparty/").context["cl"].result_list
    assert {p.country for p in parties} == {"XA"}
    listed = as_(client, people["otto"]).get("/admin/trustlist/signercertificate/").context["cl"].result_list
    assert {row.country for row in listed} == {"XA", "XB"}


@pytest.mark.parametrize("name", ["alice", "vera"])
def test_own_dsc_is_visible_and_other_countrys_is_404(client, people, dscs, name):
    as_(client, people[name])
    assert client.get(f"/admin/trustlist/signercertificate/{dscs['XA'].pk}/change/").status_code == 200
    for url in (
        f"/admin/trustlist/signercertificate/{dscs['XB'].pk}/change/",
        f"/admin/trustlist/signercertificate/{dscs['XB'].pk}/revoke/",
        f"/admin/trustlist/signercertificate/{dscs['XB'].pk}/history/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"].startswith("text/html")  # a page for people, not the API's JSON
        assert b"There is nothing here that your account may see" in response.content
    assert client.get("/trustList/nowhere")["Content-Type"].startswith("application/json")
    other_party = TrustedParty.objects.filter(country="XB").first()
    assert client.get(f"/admin/countries/trustedparty/{other_party.pk}/change/").status_code == 404


def test_alice_revokes_her_dsc_with_confirmation_and_not_bobs(client, people, dscs):
    as_(client, people["alice"])
    page = client.get(f"/admin/trustlist/signercertificate/{dscs['XA'].pk}/change/")
    assert b"revoke-link" in page.content
    unconfirmed = client.post(f"/admin/trustlist/signercertificate/{dscs['XA'].pk}/revoke/", {"reason": "key lost"})
    assert unconfirmed.status_code == 200  # the confirmation box is required
    dscs["XA"].refresh_from_db()
    assert dscs["XA"].revoked_at is None
    done = client.post(
        f"/admin/trustlist/signercertificate/{dscs['XA'].pk}/revoke/", {"reason": "key lost", "confirm": "on"}
    )
    assert done.status_code == 302
    dscs["XA"].refresh_from_db()
    assert dscs["XA"].revocation_reason == "key lost"
    assert AuditEvent.objects.filter(action=Action.REVOKE, actor="admin:alice").exists()
    response = client.post(
        f"/admin/trustlist/signercertificate/{dscs['XB'].pk}/revoke/", {"reason": "x", "confirm": "on"}
    )
    assert response.status_code == 404
    dscs["XB"].refresh_from_db()
    assert dscs["XB"].revoked_at is None


def test_viewer_cannot_revoke_or_upload(client, people, dscs):
    as_(client, people["vera"])
    assert client.get(f"/admin/trustlist/signercertificate/{dscs['XA'].pk}/revoke/").status_code == 404
    assert client.get("/admin/trustlist/signercertificate/upload/").status_code == 404


def test_alice_uploads_through_the_form_with_the_same_checks(client, people, xa, xb):
    as_(client, people["alice"])
    dsc = xa.dsc()
    response = client.post(
        "/admin/trustlist/signercertificate/upload/", {"country": "XA", "cms": xa.cms_b64(dsc.der).decode()}
    )
    assert response.status_code == 302
    row = SignerCertificate.objects.get(thumbprint=thumbprint(dsc.der))
    assert row.country == "XA"
    assert AuditEvent.objects.filter(action=Action.UPLOAD, actor="admin:alice").exists()
    # the API's checks: XB's DSC signed by XB's key is refused for XA (and she cannot pick XB)
    foreign = xb.dsc()
    refused = client.post(
        "/admin/trustlist/signercertificate/upload/", {"country": "XA", "cms": xb.cms_b64(foreign.der).decode()}
    )
    assert refused.status_code == 200
    assert b"UPLOAD_CERT_UNKNOWN" in refused.content
    not_hers = client.post(
        "/admin/trustlist/signercertificate/upload/", {"country": "XB", "cms": xb.cms_b64(foreign.der).decode()}
    )
    assert not_hers.status_code == 200  # XB is not a valid choice for her
    assert not SignerCertificate.objects.filter(thumbprint=thumbprint(foreign.der)).exists()


def test_a_paste_that_is_not_base64_is_refused_and_recorded(client, people, xa):
    as_(client, people["alice"])
    refused = client.post("/admin/trustlist/signercertificate/upload/", {"country": "XA", "cms": "not a CMS!"})
    assert refused.status_code == 200
    assert b"INVALID_BASE64" in refused.content
    event = AuditEvent.objects.get(action=Action.UPLOAD, actor="admin:alice")
    assert (event.outcome, event.reason, event.country) == ("REJECTED", "INVALID_BASE64", "XA")
    # Line breaks in a paste are tolerated (a base64 file wrapped at 64 columns).
    wrapped = xa.cms_b64(xa.dsc().der).decode()
    wrapped = "\n".join(wrapped[i : i + 64] for i in range(0, len(wrapped), 64))
    accepted = client.post("/admin/trustlist/signercertificate/upload/", {"country": "XA", "cms": wrapped})
    assert accepted.status_code == 302


def test_certificate_material_is_read_only(client, people, dscs):
    as_(client, people["alice"])
    response = client.post(f"/admin/trustlist/signercertificate/{dscs['XA'].pk}/change/", {"country": "XB"})
    assert response.status_code == 403
    dscs["XA"].refresh_from_db()
    assert dscs["XA"].country == "XA"


def test_auditor_reads_audit_and_every_countrys_keys_but_changes_nothing(client, people, dscs):
    as_(client, people["audrey"])
    assert client.get("/admin/audit/auditevent/").status_code == 200
    listed = client.get("/admin/trustlist/signercertificate/").context["cl"].result_list
    assert {row.country for row in listed} == {"XA", "XB"}
    page = client.get(f"/admin/trustlist/signercertificate/{dscs['XB'].pk}/change/")
    assert page.status_code == 200
    assert b"revoke-link" not in page.content
    assert client.get(f"/admin/trustlist/signercertificate/{dscs['XB'].pk}/revoke/").status_code == 404
    response = client.post(
        f"/admin/trustlist/signercertificate/{dscs['XB'].pk}/revoke/", {"reason": "x", "confirm": "on"}
    )
    assert response.status_code == 404
    dscs["XB"].refresh_from_db()
    assert dscs["XB"].revoked_at is None
    assert client.get("/admin/trustlist/signercertificate/upload/").status_code == 404
    assert client.get("/admin/countries/trustedparty/onboard/").status_code == 404


def test_operator_onboards_and_suspends_but_does_not_upload(client, people, pki, xa):
    from gateway.pki import issuance
    from tests.factory import NOW

    as_(client, people["otto"])
    cert = issuance.issue(issuance.name("XC upload", "XC"), at=NOW)
    response = client.post(
        "/admin/countries/trustedparty/onboard/",
        {
            "country": "XC",
            "certificate_type": "UPLOAD",
            "certificate": cert.cert_pem.decode(),
            "signature": pki.sign(cert.der),
        },
    )
    assert response.status_code == 302, response.content
    party = TrustedParty.objects.get(thumbprint=thumbprint(cert.der))
    forged = client.post(
        "/admin/countries/trustedparty/onboard/",
        {
            "country": "XC",
            "certificate_type": "UPLOAD",
            "certificate": xa.dsc().cert_pem.decode(),
            "signature": pki.sign(cert.der),
        },
    )
    assert b"Refused" in forged.content
    client.post(f"/admin/countries/trustedparty/{party.pk}/status/SUSPENDED/", {"reason": "rotation"})
    party.refresh_from_db()
    assert party.status == Status.SUSPENDED
    assert client.get("/admin/trustlist/signercertificate/upload/").status_code == 404
    assert client.get("/admin/countries/membership/").status_code == 200


def test_country_admin_cannot_onboard_or_manage_members(client, people):
    as_(client, people["alice"])
    assert client.get("/admin/countries/trustedparty/onboard/").status_code == 404
    refused = client.get("/admin/countries/membership/")
    assert refused.status_code == 403
    assert b"This page is not for your role" in refused.content


def test_dashboard_is_scoped(client, people, dscs, xa):
    import datetime as dt

    from tests.factory import NOW

    soon = xa.dsc(not_after=NOW + dt.timedelta(days=70))  # 2026-08-10: the third bar
    assert upload(client, xa, xa.cms_b64(soon.der)).status_code == 201
    page = as_(client, people["alice"]).get("/admin/")
    board = page.context["dashboard"]
    assert [(row["country"], row["active"]) for row in board["countries"]] == [("XA", 2)]
    assert [bar["count"] for bar in board["chart"]["bars"]][:4] == [0, 0, 1, 0]
    assert board["chart"]["bars"][2]["label"] == "Aug"
    assert b"expiry-chart" in page.content
    page = as_(client, people["otto"]).get("/admin/")
    assert [row["country"] for row in page.context["dashboard"]["countries"]] == ["XA", "XB"]


def test_admin_requires_a_one_time_password(client, people):
    client.force_login(people["alice"])  # password only, no OTP device verified
    assert client.get("/admin/").status_code == 302
    assert "otp_token" in client.get("/admin/login/").content.decode()


def test_bulk_delete_is_disabled(client, people, dscs):
    page = as_(client, people["otto"]).get("/admin/trustlist/signercertificate/")
    assert "delete_selected" not in page.content.decode()


def test_repeated_failed_logins_lock_the_account(client, people, settings):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    alice = people["alice"]
    alice.set_password("right password")
    alice.save()
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "alice", "password": "wrong", "otp_token": "000000"})
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    locked = client.post("/admin/login/", {"username": "alice", "password": "right password", "otp_token": token})
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302  # not logged in


# --- what a key manager reads, with the Django test client ----------------------------------------


# Publishing reads a snapshot at its own isolation level, which PostgreSQL refuses inside the
# transaction a plain django_db test runs in.
publishing_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def readable(client, pki, frozen, django_user_model):
    """XA's old DSC (API, published first), then alice uploads one expiring in 20 days in the
    admin (published second), revokes the old one (published third), is refused the old one
    again, and a renewal publishes a fourth sequence that changes nothing."""
    import datetime as dt

    from publication import service
    from tests.factory import NOW

    persons = admin_world.people(django_user_model)
    world = admin_world.seed(pki, client, NOW)
    otp_login(client, persons["alice"])
    soon = world.xa.dsc(not_after=NOW + dt.timedelta(days=20, hours=-1))
    uploaded = client.post(
        "/admin/trustlist/signercertificate/upload/", {"country": "XA", "cms": world.xa.cms_b64(soon.der).decode()}
    )
    assert uploaded.status_code == 302
    soon_row = SignerCertificate.objects.get(thumbprint=thumbprint(soon.der))
    frozen.shift(10)
    # In a transaction test each change publishes itself after its commit (eager tasks), and a
    # rebuild may add sequences; in a plain one nothing runs on commit: publish what is pending.
    service.publish()
    frozen.shift(10)
    revoked = client.post(
        f"/admin/trustlist/signercertificate/{world.old.pk}/revoke/", {"reason": "key lost", "confirm": "on"}
    )
    assert revoked.status_code == 302
    service.publish()
    frozen.shift(10)
    refused = client.post(
        "/admin/trustlist/signercertificate/upload/",
        {"country": "XA", "cms": world.xa.cms_b64(world.old_issued.der).decode()},
    )
    latest = service.publish(force=True).id  # a renewal: publishes no change
    client.logout()
    second = admin_world.deltas_touching(soon_row.thumbprint, world.first_sequence + 1, latest)[0]
    third = admin_world.deltas_touching(world.old.thumbprint, second, latest, change="remove")[0]
    return {
        "world": world,
        "people": persons,
        "soon": soon_row,
        "soon_issued": soon,
        "sequences": (world.first_sequence, second, third, latest),
        "refused": refused,
    }


@publishing_db
def test_dsc_list_shows_what_identifies_each_dsc(client, readable):
    world, soon = readable["world"], readable["soon"]
    first, second, _, latest = readable["sequences"]
    page = as_(client, readable["people"]["alice"]).get("/admin/trustlist/signercertificate/")
    text = admin_world.page_text(page)
    assert {row.country for row in page.context["cl"].result_list} == {"XA"}
    assert "XA DSC 0" in text
    assert "Ministry of Health, XA" in text
    assert admin_world.serial_of(world.old_issued) in text
    assert admin_world.serial_of(readable["soon_issued"]) in text
    assert "XA CSCA, XA" in text  # issuer
    assert "20 days left" in text
    assert "365 days left" in text
    assert "test results, vaccinations and recoveries" in text  # the old one, no EKU
    assert "vaccinations" in text
    assert "['" not in text
    assert '["' not in text
    assert " DSC " in f" {text} "
    assert "Dsc" not in text
    assert f"sequence {first}" in text
    assert f"sequence {second}" in text
    assert f"sequence {latest}" not in text  # the renewal published neither
    assert "by alice" in text
    assert "by the country's backend (API)" in text
    assert "revoked" in text
    assert "trusted" in text
    html = page.content.decode()
    # exactly one highlighted row: the DSC expiring in 20 days, not the revoked or the yearly one
    assert html.count('class="days-left expiring-soon"') == 1
    row = next(r for r in html.split("<tr") if soon.kid in r)
    assert "expiring-soon" in row
    assert "20 days left" in row


@publishing_db
def test_dsc_list_costs_the_same_queries_for_more_rows(client, readable):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    as_(client, readable["people"]["otto"])
    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/trustlist/signercertificate/").status_code == 200
    xa = readable["world"].xa
    for _ in range(4):
        assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    with CaptureQueriesContext(connection) as more:
        page = client.get("/admin/trustlist/signercertificate/")
    assert len(page.context["cl"].result_list) == 7
    assert len(more) == len(few), "one query per page of rows, not one per row"


@publishing_db
def test_dsc_page_shows_provenance(client, readable):
    world = readable["world"]
    first, _, third, _ = readable["sequences"]
    as_(client, readable["people"]["alice"])
    text = admin_world.page_text(client.get(f"/admin/trustlist/signercertificate/{world.old.pk}/change/"))
    assert "XA DSC 0" in text
    assert "Ministry of Health" in text
    assert admin_world.serial_of(world.old_issued) in text
    assert "XA CSCA, XA" in text
    assert "test results, vaccinations and recoveries" in text
    assert f"first published: sequence {first}" in text.lower()
    assert f"revocation published: sequence {third}" in text.lower()
    assert "by alice" in text
    assert "key lost" in text
    assert "Type: DSC" in text


@publishing_db
def test_history_comes_from_the_audit_log(client, readable):
    world = readable["world"]
    page = as_(client, readable["people"]["alice"]).get(f"/admin/trustlist/signercertificate/{world.old.pk}/history/")
    assert page.status_code == 200
    text = admin_world.page_text(page)
    assert "no change history" not in text.lower()
    whats = [entry["what"] for entry in page.context["entries"]]
    assert whats == ["Upload refused", "Revoked", "Uploaded"]  # newest first
    assert [entry["who"] for entry in page.context["entries"]] == ["alice", "alice", "the country's backend (API)"]
    assert "ALREADY_REVOKED" in text
    assert "key lost" in text
    foreign = readable["world"].foreign
    assert client.get(f"/admin/trustlist/signercertificate/{foreign.pk}/history/").status_code == 404
    # an auditor reads any country's history, with links into the audit log
    page = as_(client, readable["people"]["audrey"]).get(f"/admin/trustlist/signercertificate/{foreign.pk}/history/")
    assert [entry["what"] for entry in page.context["entries"]] == ["Uploaded"]
    assert b"/admin/audit/auditevent/" in page.content


@publishing_db
def test_a_refusal_is_shown_once_with_plain_labels(client, readable):
    refused = readable["refused"]
    assert refused.status_code == 200
    text = admin_world.page_text(refused)
    assert text.count("Refused (ALREADY_REVOKED)") == 1
    assert "Signed upload (pasted)" in text
    assert "…or as a file" in text
    assert "Cms" not in text
    assert "`" not in text


@publishing_db
@pytest.mark.parametrize("name", ["alice", "audrey", "otto"])
def test_dashboard_is_right_for_every_role(client, readable, frozen, name):
    frozen.shift(70)  # the latest publication is now 70 seconds old
    page = as_(client, readable["people"][name]).get("/admin/")
    board = page.context["dashboard"]
    text = admin_world.page_text(page)
    expected = {"alice": [("XA", 1, 1)], "audrey": [("XA", 1, 1), ("XB", 1, 0)], "otto": [("XA", 1, 1), ("XB", 1, 0)]}
    assert [(r["country"], r["active"], r["revoked"]) for r in board["countries"]] == expected[name]
    assert board["countries"][0]["expiring_soon"] == 1  # XA's DSC that expires in 20 days
    assert "(none)" not in text
    assert "No DSCs" not in text
    assert "1 min ago" in text
    assert not re_duration.search(text), "no raw timedelta"
    # the chart: June 2026 to May 2027, both years named, a count axis, XA's DSC in June
    assert "2026" in [str(bar["year"]) for bar in board["chart"]["bars"] if bar["year"]]
    assert "2027" in [str(bar["year"]) for bar in board["chart"]["bars"] if bar["year"]]
    assert next(t["value"] for t in board["chart"]["ticks"]) == 0
    assert 'class="tick"' in page.content.decode()
    assert board["chart"]["bars"][0]["count"] == 1  # the DSC expiring in 20 days (the revoked one is not counted)


@publishing_db
def test_dashboard_says_so_when_nothing_expires(client, readable):
    page = as_(client, readable["people"]["carol"]).get("/admin/")
    text = admin_world.page_text(page)
    assert "No trusted DSC expires in the next 12 months." in text
    assert b'id="expiry-chart"' not in page.content
    assert "No DSCs uploaded yet for XC." in text


@publishing_db
def test_wrong_one_time_password_page_explains_itself(client, readable):
    response = client.post(
        "/admin/login/", {"username": "alice", "password": admin_world.PASSWORD, "otp_token": "000000"}
    )
    text = admin_world.page_text(response)
    assert response.status_code == 200
    assert "OTP Device" not in text
    assert "Get OTP Challenge" not in text
    assert b'name="otp_device"' not in response.content
    assert "One-time password" in text
    assert "authenticator app" in text


@publishing_db
def test_section_titles_are_readable(client, readable):
    text = admin_world.page_text(as_(client, readable["people"]["otto"]).get("/admin/"))
    assert "One-time password devices" in text
    assert "Failed logins and lockouts" in text
    assert "Otp_Totp" not in text
    assert "Axes" not in text


@publishing_db
def test_onboarded_types_are_named(client, readable):
    page = as_(client, readable["people"]["otto"]).get("/admin/countries/trustedparty/")
    text = admin_world.page_text(page)
    assert "CSCA" in text
    assert "UPLOAD" in text
    assert "AUTHENTICATION" in text
    assert "Csca" not in text
    assert ">Authentication<" not in page.content.decode()
    assert "XA CSCA, XA" in text  # each onboarded certificate by its subject


@publishing_db
def test_dsc_list_filters_by_status_in_words(client, readable):
    as_(client, readable["people"]["alice"])
    revoked = client.get("/admin/trustlist/signercertificate/?status=revoked").context["cl"].result_list
    assert [row.pk for row in revoked] == [readable["world"].old.pk]
    trusted = client.get("/admin/trustlist/signercertificate/?status=trusted").context["cl"].result_list
    assert [row.pk for row in trusted] == [readable["soon"].pk]


def test_onboarded_certificate_history_and_status_buttons(client, people, pki, xa, xb):
    from countries import services as country_services
    from tests.factory import NOW

    party = TrustedParty.objects.get(country="XA", certificate_type="UPLOAD")
    country_services.set_status(
        party_id=party.pk, status=Status.SUSPENDED, reason="rotation", actor="admin:otto", at=NOW
    )
    as_(client, people["otto"])
    page = client.get(f"/admin/countries/trustedparty/{party.pk}/history/")
    assert [entry["what"] for entry in page.context["entries"]] == ["Suspended", "Onboarded"]
    assert [entry["who"] for entry in page.context["entries"]] == ["otto", "test"]
    detail = client.get(f"/admin/countries/trustedparty/{party.pk}/change/").content.decode()
    assert "Reactivate…" in detail
    assert "Remove…" in detail
    assert "XA upload, XA" in detail  # its subject
    assert (
        client.get(
            f"/admin/countries/trustedparty/{TrustedParty.objects.filter(country='XB').first().pk}/history/"
        ).status_code
        == 200
    )  # operators see every country
    as_(client, people["alice"])
    other = TrustedParty.objects.filter(country="XB").first()
    assert client.get(f"/admin/countries/trustedparty/{other.pk}/history/").status_code == 404


def test_policy_findings_are_shown_to_the_countrys_admins_auditors_and_operators(client, people, xa, settings):
    """A DSC taken under the dgcg profile through the admin's form names what the relaxed checks let
    through: in the confirmation, on its page and under the list's filter."""
    from tests.pki.test_policy_profiles import SHAPES

    settings.GATEWAY_POLICY_PROFILE = "dgcg"
    as_(client, people["alice"])
    make, reason = SHAPES["cA-TRUE"]
    der = make(xa)
    posted = client.post(
        "/admin/trustlist/signercertificate/upload/", {"country": "XA", "cms": xa.cms_b64(der).decode()}, follow=True
    )
    assert f"accepted with policy findings: {reason}".encode() in posted.content
    row = SignerCertificate.objects.get(thumbprint=thumbprint(der))
    plain = xa.dsc()
    assert upload(client, xa, xa.cms_b64(plain.der)).status_code == 201
    for name in ("alice", "vera", "audrey", "otto"):
        as_(client, people[name])
        page = client.get(f"/admin/trustlist/signercertificate/{row.pk}/change/")
        assert page.status_code == 200
        assert reason.encode() in page.content, name
        flagged = client.get("/admin/trustlist/signercertificate/?findings=some").context["cl"].result_list
        assert [listed.pk for listed in flagged] == [row.pk], name
        clean = client.get("/admin/trustlist/signercertificate/?findings=none").context["cl"].result_list
        assert thumbprint(plain.der) in {listed.thumbprint for listed in clean}, name
