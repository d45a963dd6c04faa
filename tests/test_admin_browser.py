"""End to end in a real headless Chromium (Playwright, Debian's browser), 1400 px wide: a country
admin, an auditor and an operator each log in with a one-time password (after a wrong one) and
visit every page their role has, asserting what a ministry's key manager must be able to read.
Every page is saved as a full-page screenshot,
test-output/<persona>-<page>.png, and checked for horizontal cut-off."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from gateway.audit.models import AuditEvent
from gateway.pki.certs import thumbprint
from publication import service
from publication.models import Publication
from tests import admin_world
from tests.admin_world import PASSWORD, serial_of
from tests.conftest import SHOTS
from trustlist.models import SignerCertificate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1400, 900
HIGHLIGHT = "rgb(255, 243, 205)"  # the expiring-soon row's background (signercertificate/change_list.html)
RAW_TIMEDELTA = re.compile(r"\d+:\d\d:\d\d\.\d+")


@pytest.fixture
def world(pki, client, django_user_model):
    """The people, XA's and XB's DSCs (XA's old one published first, 90 seconds ago, so that the
    dashboard's age reads in minutes), and a TOTP device for each person."""
    people = admin_world.people(django_user_model)
    keys = admin_world.seed(pki, client, timezone.now() - dt.timedelta(seconds=90))
    devices = {name: TOTPDevice.objects.create(user=u, name="phone", confirmed=True) for name, u in people.items()}
    return {"people": people, "keys": keys, "devices": devices}


class Tour:
    """One person's visit: every page is screenshotted and checked for horizontal cut-off."""

    def __init__(self, browser, base_url: str, persona: str) -> None:
        self.page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        self.base_url, self.persona = base_url, persona

    def go(self, path: str):
        response = self.page.goto(f"{self.base_url}{path}")
        self.page.wait_for_load_state()
        return response

    def shot(self, name: str) -> None:
        self.page.screenshot(path=SHOTS / f"{self.persona}-{name}.png", full_page=True)
        widths = self.page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                viewport: window.innerWidth,
                clipped: Array.from(document.querySelectorAll('.results, #content-main, fieldset, table'))
                    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className || e.id || e.tagName),
                beyond: Array.from(document.querySelectorAll('#content *'))
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .map(e => e.className || e.id || e.tagName).slice(0, 5),
            })"""
        )
        assert widths["page"] <= widths["viewport"], f"{name}: the page is wider than {WIDTH} px: {widths}"
        assert not widths["clipped"], f"{name}: content cut off in {widths['clipped']}"
        assert not widths["beyond"], f"{name}: content beyond the right edge: {widths['beyond']}"

    def text(self) -> str:
        return " ".join(self.page.inner_text("body").split())

    def log_in(self, username: str, device: TOTPDevice) -> None:
        self.go("/admin/login/?next=/admin/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        self.page.fill("#id_otp_token", "000000" if _token(device) != "000000" else "111111")
        self.page.click("input[type=submit]")
        self.page.wait_for_load_state()
        text = self.text()
        # The same words as for a wrong password: the page does not say which part was wrong.
        assert "The username, password or one-time password is not right." in text, text
        assert "token" not in text.lower()
        assert "OTP Device" not in text
        assert "Get OTP Challenge" not in text
        assert self.page.locator("#id_otp_device").count() == 0
        assert "One-time password" in text
        assert "authenticator app" in text
        self.shot("wrong-otp")
        self.page.fill("#id_password", PASSWORD)
        self.page.fill("#id_otp_token", _token(device))
        self.shot("login")
        self.page.click("input[type=submit]")
        self.page.wait_for_selector("#dashboard")


def _token(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _row_of(tour: Tour, kid: str):
    return tour.page.locator("#result_list tbody tr", has_text=kid)


def _check_dashboard(tour: Tour, countries: list[str], *, chart: bool = True, name: str = "dashboard") -> str:
    tour.shot(name)
    text = tour.text()
    shown = tour.page.locator("#dashboard-countries tbody tr td:first-child").all_inner_texts()
    assert shown == countries
    assert "(none)" not in text
    assert "No DSCs" not in text
    # seeded 90 s before the test: in minutes; right after an upload's publication: "just now"
    age = r"\(just now\)" if name == "dashboard-after-upload" else r"\(\d+ min ago\)"
    assert re.search(age, tour.page.inner_text("#publication-status")), "a relative age"
    assert not RAW_TIMEDELTA.search(text)
    assert "None available" not in text  # Django's "Recent actions" (LogEntry) is replaced by the audit log's
    assert tour.page.locator("#recent-changes li").count() >= 1
    if not chart:
        assert "No trusted DSC expires in the next 12 months." in text
        assert tour.page.locator("#expiry-chart").count() == 0
        return text
    # the expiry chart: months with their years and a count axis
    years = tour.page.locator("#expiry-chart text.year").all_text_contents()
    assert years
    assert all(re.fullmatch(r"20\d\d", year) for year in years)
    assert tour.page.locator("#expiry-chart text.tick").count() >= 2
    return text


def _check_dsc_list(tour: Tour, keys: admin_world.World, countries: set[str]) -> str:
    tour.go("/admin/trustlist/signercertificate/")
    tour.shot("dsc-list")
    text = tour.text()
    assert set(tour.page.locator("#result_list tbody td.field-country").all_inner_texts()) == countries
    old = _row_of(tour, keys.old.kid)
    old_text = " ".join(old.inner_text().split())
    assert "XA DSC 0" in old_text
    assert "Ministry of Health, XA" in old_text
    assert serial_of(keys.old_issued) in old_text
    assert "XA CSCA, XA" in old_text
    assert "test results, vaccinations and recoveries" in old_text
    assert "DSC" in old_text
    assert f"sequence {keys.first_sequence}" in old_text
    assert re.search(r"\d+ days left", old_text)
    assert "Dsc" not in text
    assert '["' not in text
    return text


def test_country_admin(live_server, browser, world, client):
    keys, alice = world["keys"], Tour(browser, live_server.url, "country-admin")
    alice.log_in("alice", world["devices"]["alice"])
    _check_dashboard(alice, ["XA"], chart=False)  # XA's one DSC expires in a year

    # upload: a refusal (XB's DSC, signed with XB's key, is not XA's), shown once
    foreign = keys.xb.dsc(at=timezone.now())
    alice.go("/admin/trustlist/signercertificate/upload/")
    assert "Signed upload (pasted)" in alice.text()
    assert "Cms" not in alice.text()
    assert "`" not in alice.text()
    alice.page.select_option("#id_country", "XA")
    alice.page.fill("#id_cms", keys.xb.cms_b64(foreign.der).decode())
    alice.page.click("input[type=submit]")
    alice.page.wait_for_load_state()
    alice.shot("upload-refused")
    assert alice.text().count("Refused (UPLOAD_CERT_UNKNOWN)") == 1
    assert alice.page.locator(".errornote").count() == 1

    # upload: a success, a DSC that expires in 20 days
    before = Publication.objects.published().newest()
    soon = keys.xa.dsc(at=timezone.now(), not_after=timezone.now() + dt.timedelta(days=20, hours=-1))
    alice.go("/admin/trustlist/signercertificate/upload/")
    alice.page.select_option("#id_country", "XA")
    alice.page.fill("#id_cms", keys.xa.cms_b64(soon.der).decode())
    alice.shot("upload")
    alice.page.click("input[type=submit]")
    alice.page.wait_for_selector(".messagelist .success")
    alice.shot("uploaded")
    assert "by alice" in alice.text()
    listed = {e["thumbprint"] for e in client.get("/trustList/DSC/XA", **keys.xa.headers()).json()}
    assert thumbprint(soon.der) in listed
    # Publish what is pending (the upload's own eager task may have done it), then a renewal
    # that changes nothing: the row must name the sequence whose published delta holds it.
    service.publish()
    renewal = service.publish(force=True)
    assert before is not None
    publishing = admin_world.deltas_touching(thumbprint(soon.der), before.id + 1, renewal.id)
    assert publishing, "a delta after the upload holds the DSC"
    assert publishing[0] < renewal.id
    soon_row = SignerCertificate.objects.get(thumbprint=thumbprint(soon.der))

    alice.go("/admin/")
    _check_dashboard(alice, ["XA"], name="dashboard-after-upload")
    assert alice.page.locator("#dashboard-countries td.soon").inner_text() == "1"

    text = _check_dsc_list(alice, keys, {"XA"})
    row = _row_of(alice, soon_row.kid)
    row_text = " ".join(row.inner_text().split())
    assert "20 days left" in row_text
    assert "vaccinations" in row_text
    assert "by alice" in row_text
    assert f"sequence {publishing[0]}" in row_text
    assert f"sequence {renewal.id}" not in text
    assert row.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor") == HIGHLIGHT
    assert (
        _row_of(alice, keys.old.kid).locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
        != HIGHLIGHT
    )
    assert keys.foreign.kid not in text

    # revoke the old DSC, with its confirmation
    alice.go(f"/admin/trustlist/signercertificate/{keys.old.pk}/change/")
    alice.shot("dsc-detail")
    detail = alice.text()
    assert "XA DSC 0" in detail
    assert serial_of(keys.old_issued) in detail
    assert "by the country's backend (API)" in detail
    assert f"sequence {keys.first_sequence}" in detail
    alice.page.click("#revoke-link")
    alice.page.fill("#id_reason", "key compromised")
    alice.shot("revoke")
    alice.page.click("input[type=submit]")  # without the confirmation box: the form stays, nothing revoked
    assert alice.page.url.endswith("/revoke/")
    assert SignerCertificate.objects.get(pk=keys.old.pk).revoked_at is None
    alice.page.check("#id_confirm")
    alice.page.click("input[type=submit]")
    alice.page.wait_for_selector(".messagelist .success")
    alice.shot("revoked")
    revoked = alice.text()
    assert "key compromised" in revoked
    assert "revoked" in revoked
    assert "by alice" in revoked
    listed = {e["thumbprint"] for e in client.get("/trustList/DSC/XA", **keys.xa.headers()).json()}
    assert keys.old.thumbprint not in listed, "the revoked DSC left the trust list"

    # a refused upload of the revoked DSC, then its history: newest first, from the audit log
    alice.go("/admin/trustlist/signercertificate/upload/")
    alice.page.select_option("#id_country", "XA")
    alice.page.fill("#id_cms", keys.xa.cms_b64(keys.old_issued.der).decode())
    alice.page.click("input[type=submit]")
    alice.page.wait_for_load_state()
    assert alice.text().count("Refused (ALREADY_REVOKED)") == 1
    alice.go(f"/admin/trustlist/signercertificate/{keys.old.pk}/history/")
    alice.shot("history")
    history = alice.page.locator("#history tbody tr td.what").all_inner_texts()
    assert history == ["Upload refused", "Revoked", "Uploaded"]
    assert "no change history" not in alice.text().lower()
    assert "key compromised" in alice.text()

    # the audit log itself is the auditors'; other countries' DSCs do not exist for her
    response = alice.go("/admin/audit/auditevent/")
    assert response.status == 403
    alice.shot("audit-events-forbidden")
    assert "This page is not for your role" in alice.text()
    response = alice.go(f"/admin/trustlist/signercertificate/{keys.foreign.pk}/change/")
    assert response.status == 404
    alice.shot("other-country-404")
    assert "There is nothing here that your account may see" in alice.text()
    response = alice.go(f"/admin/trustlist/signercertificate/{keys.foreign.pk}/revoke/")
    assert response.status == 404
    assert SignerCertificate.objects.get(pk=keys.foreign.pk).revoked_at is None


def test_auditor(live_server, browser, world):
    keys, audrey = world["keys"], Tour(browser, live_server.url, "auditor")
    audrey.log_in("audrey", world["devices"]["audrey"])
    _check_dashboard(audrey, ["XA", "XB"])
    _check_dsc_list(audrey, keys, {"XA", "XB"})

    audrey.go(f"/admin/trustlist/signercertificate/{keys.foreign.pk}/change/")
    audrey.shot("dsc-detail")
    assert "XB DSC 0" in audrey.text()
    assert audrey.page.locator("#revoke-link").count() == 0
    audrey.go(f"/admin/trustlist/signercertificate/{keys.foreign.pk}/history/")
    audrey.shot("history")
    assert audrey.page.locator("#history tbody tr td.what").all_inner_texts() == ["Uploaded"]
    assert audrey.go("/admin/trustlist/signercertificate/upload/").status == 404
    assert audrey.go(f"/admin/trustlist/signercertificate/{keys.old.pk}/revoke/").status == 404
    audrey.shot("revoke-404")
    assert "Not found" in audrey.text()

    _check_audit_log(audrey)


def test_operator(live_server, browser, world):
    keys, otto = world["keys"], Tour(browser, live_server.url, "operator")
    otto.log_in("otto", world["devices"]["otto"])
    text = _check_dashboard(otto, ["XA", "XB"])
    sections = otto.page.locator("#content-main .module caption").all_inner_texts()
    assert "ONE-TIME PASSWORD DEVICES" in [s.upper() for s in sections]
    assert "FAILED LOGINS AND LOCKOUTS" in [s.upper() for s in sections]
    assert "OTP_TOTP" not in text.upper().split()
    assert "AXES" not in text.upper().split()
    _check_dsc_list(otto, keys, {"XA", "XB"})

    otto.go(f"/admin/trustlist/signercertificate/{keys.old.pk}/change/")
    otto.shot("dsc-detail")
    assert "XA DSC 0" in otto.text()
    assert otto.page.locator("#revoke-link").count() == 0  # operators onboard; revoking is the country's
    otto.go(f"/admin/trustlist/signercertificate/{keys.old.pk}/history/")
    otto.shot("history")
    assert otto.page.locator("#history tbody tr td.what").all_inner_texts() == ["Uploaded"]
    assert otto.go("/admin/trustlist/signercertificate/upload/").status == 404
    otto.shot("upload-404")

    otto.go("/admin/countries/trustedparty/")
    otto.shot("onboarded-parties")
    types = set(otto.page.locator("#result_list td.field-certificate_type").all_inner_texts())
    assert types == {"AUTHENTICATION", "UPLOAD", "CSCA"}
    assert "XA CSCA, XA" in otto.text()
    otto.page.locator("#result_list tbody tr th a").first.click()
    otto.page.wait_for_load_state()
    otto.shot("onboarded-party-detail")
    assert "suspend…" in otto.text().lower()  # the operator may suspend it (object tools are upper case)
    assert re.search(r"X[AB] (CSCA|UPLOAD|TLS)", otto.text())  # its subject
    otto.page.click("text=History")
    otto.page.wait_for_load_state()
    otto.shot("onboarded-party-history")
    assert otto.page.locator("#history tbody tr td.what").all_inner_texts() == ["Onboarded"]

    _check_audit_log(otto)


def _check_audit_log(tour: Tour) -> None:
    tour.go("/admin/audit/auditevent/")
    tour.shot("audit-events")
    indexes = [int(i) for i in tour.page.locator("#result_list tbody th.field-leaf_index").all_inner_texts()]
    assert indexes
    assert indexes == sorted(indexes, reverse=True), "newest first"
    assert indexes[0] == AuditEvent.objects.order_by("-leaf_index").values_list("leaf_index", flat=True).first()
    tour.page.locator("#result_list tbody th.field-leaf_index a").first.click()
    tour.page.wait_for_load_state()
    tour.shot("audit-event-detail")
    assert "Leaf index" in tour.text()


def test_country_admin_rules(live_server, browser, world, client):
    """Alice uploads a rule made offline (a refusal first), reads it with its timeline, a second
    version as a file, sees the first become valid (the server's clock moved on), and deletes it."""
    import json

    import time_machine

    from rules.models import ValidationRule
    from tests.test_rules_api import post_rule, rule_for

    keys, alice = world["keys"], Tour(browser, live_server.url, "country-admin-rules")
    now = timezone.now().replace(microsecond=0)

    def rule(days: int, version: str, country: str = "XA") -> bytes:
        """tests/test_rules_api.py's rule as ``country``'s, dated from the real clock (the live
        server's), in two languages."""
        start, end = now + dt.timedelta(days=days), now + dt.timedelta(days=days + 30)
        changes = {"ValidFrom": f"{start:%Y-%m-%dT%H:%M:%SZ}", "ValidTo": f"{end:%Y-%m-%dT%H:%M:%SZ}"}
        description = [{"lang": "en", "desc": "At most one v-event."}, {"lang": "fr", "desc": "Au plus un v."}]
        return json.dumps(rule_for(country, Version=version, Description=description, **changes)).encode()

    assert post_rule(client, keys.xb, rule(3, "1.0.0", "XB")).status_code == 201
    foreign = ValidationRule.objects.get(country="XB")
    alice.log_in("alice", world["devices"]["alice"])

    alice.go("/admin/rules/validationrule/")
    alice.shot("rules-empty")
    assert alice.page.locator("#result_list").count() == 0  # XB's rule does not exist for her
    alice.page.click("#upload-rule-link")
    alice.page.wait_for_load_state()
    assert "openssl cms -sign" in alice.text()
    alice.page.select_option("#id_country", "XA")
    alice.page.fill("#id_cms", keys.xb.cms_b64(rule(3, "1.0.0")).decode())  # signed with XB's key
    alice.page.click("input[type=submit]")
    alice.page.wait_for_load_state()
    alice.shot("rule-upload-refused")
    assert alice.text().count("Refused (UPLOAD_CERT_UNKNOWN)") == 1

    alice.page.fill("#id_cms", keys.xa.cms_b64(rule(3, "1.0.0")).decode())
    alice.shot("rule-upload")
    alice.page.click("input[type=submit]")
    alice.page.wait_for_selector(".messagelist .success")
    alice.shot("rule-uploaded")
    text = alice.text()
    assert "Uploaded rule VR-XA-0000 version 1.0.0" in text
    assert "At most one v-event." in text
    assert "Au plus un v." in text
    assert '"var": "payload.v.1"' in alice.page.inner_text("pre.logic")
    assert "by alice" in text
    assert alice.page.locator("#timeline tbody tr").all_inner_texts()[0].split()[:2] == ["1.0.0", "(this"]

    # a second version, as a file
    alice.go("/admin/rules/validationrule/upload/")
    alice.page.select_option("#id_country", "XA")
    cms_file = {"name": "rule.cms", "mimeType": "text/plain", "buffer": keys.xa.cms_b64(rule(5, "1.1.0"))}
    alice.page.set_input_files("#id_cms_file", files=[cms_file])
    alice.page.click("input[type=submit]")
    alice.page.wait_for_selector(".messagelist .success")
    states = alice.page.locator("#timeline tbody td .state").all_inner_texts()
    assert states == ["upcoming", "upcoming"]

    # four days on, the first version is the one valid now
    with time_machine.travel(now + dt.timedelta(days=4), tick=True):
        alice.log_in("alice", world["devices"]["alice"])  # the session of four days ago has ended
        alice.go("/admin/rules/validationrule/")
        alice.shot("rules-list")
        assert alice.page.locator("#result_list tbody td.field-state_now").all_inner_texts() == [
            "current",
            "upcoming",
        ]
        alice.page.locator("#result_list tbody tr", has_text="1.0.0").locator("th a").click()
        alice.page.wait_for_load_state()
        alice.shot("rule-timeline")
        valid_now = alice.page.locator("#timeline tbody tr.valid-now")
        assert valid_now.count() == 1
        assert valid_now.inner_text().split()[0] == "1.0.0"
        assert "valid now" in valid_now.inner_text()
        now_line = alice.page.locator("#timeline .now").first.bounding_box()
        first_bar = valid_now.locator(".bar").bounding_box()
        assert first_bar["x"] <= now_line["x"] <= first_bar["x"] + first_bar["width"], "now falls in its window"

        # delete every version, after confirming
        alice.page.click("#delete-rule-link")
        alice.page.wait_for_load_state()
        alice.shot("rule-delete")
        assert "Delete every version of rule VR-XA-0000 (1.0.0, 1.1.0)?" in alice.text()
        alice.page.click("input[type=submit]")  # without the confirmation box: nothing is deleted
        assert alice.page.url.endswith("/delete-rule/")
        assert ValidationRule.objects.filter(country="XA").count() == 2
        alice.page.check("#id_confirm")
        alice.page.click("input[type=submit]")
        alice.page.wait_for_selector(".messagelist .success")
        alice.shot("rule-deleted")
        assert "Deleted rule VR-XA-0000 (2 versions)" in alice.text()
        assert not ValidationRule.objects.filter(country="XA").exists()
        assert client.get("/rules/XA", **keys.xa.headers()).json() == {}

        response = alice.go(f"/admin/rules/validationrule/{foreign.pk}/change/")
        assert response.status == 404
        assert alice.go(f"/admin/rules/validationrule/{foreign.pk}/delete-rule/").status == 404
    assert ValidationRule.objects.filter(pk=foreign.pk).exists()


def test_operator_value_sets(live_server, browser, world):
    """Otto imports the EU's value sets from a file (a malformed file first, which changes nothing)
    and reads one; the list shows each set's code count."""
    import json

    from rules.models import ValueSet
    from tests.test_rules_valuesets_and_publication import VALUESETS

    otto = Tour(browser, live_server.url, "operator-valuesets")
    otto.log_in("otto", world["devices"]["otto"])
    otto.go("/admin/rules/valueset/")
    otto.page.click("#import-valuesets-link")
    otto.page.wait_for_load_state()
    bad = {"name": "bad.json", "mimeType": "application/json", "buffer": b'{"ok-id": ["a", "a"]}'}
    otto.page.set_input_files("#id_file", files=[bad])
    otto.page.click("input[type=submit]")
    otto.page.wait_for_load_state()
    otto.shot("import-refused")
    assert otto.text().count("Refused (VALUESET_INVALID)") == 1
    assert not ValueSet.objects.exists()

    otto.page.set_input_files("#id_file", VALUESETS)
    otto.page.click("input[type=submit]")
    otto.page.wait_for_selector(".messagelist .success")
    otto.shot("list")
    expected = json.loads(VALUESETS.read_text())
    row = otto.page.locator("#result_list tbody tr", has_text="vaccines-covid-19-names")
    assert row.locator("td.field-code_count").inner_text() == str(len(expected["vaccines-covid-19-names"]))
    row.locator("th a").click()
    otto.page.wait_for_load_state()
    otto.shot("detail")
    assert '"valueSetId": "vaccines-covid-19-names"' in otto.page.inner_text("pre.document")
    assert "by otto" in otto.text()
