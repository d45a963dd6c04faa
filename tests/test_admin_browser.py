"""End to end in a real headless Chromium (Playwright, Debian's browser): a country admin logs in
with a one-time password, uploads a DSC CMS, revokes it, sees it leave the trust list, and is
refused another country's DSC. Screenshots go to test-output/admin/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from countries.models import Membership, MembershipRole
from gateway.pki.certs import thumbprint
from tests.helpers import upload
from trustlist.models import SignerCertificate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "admin"


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (scripts/ensure-services installs it)"
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield instance
        instance.close()
        # While Playwright's event loop runs in this thread, Django's connections are per context
        # (asgiref.local): the ORM calls made meanwhile used a connection of their own. Close it
        # here, in that context, or it outlives the test and blocks dropping the test database.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def world(pki, client, django_user_model):
    xa, xb = pki.country("XA"), pki.country("XB")
    alice = django_user_model.objects.create_user("alice", password="correct horse", is_staff=True)
    Membership.objects.create(user=alice, country="XA", role=MembershipRole.ADMIN)
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    foreign = xb.dsc(at=timezone.now())
    assert upload(client, xb, xb.cms_b64(foreign.der)).status_code == 201
    return {
        "xa": xa,
        "alice": alice,
        "device": device,
        "foreign": SignerCertificate.objects.get(thumbprint=thumbprint(foreign.der)),
    }


def test_country_admin_uploads_revokes_and_is_refused_elsewhere(live_server, browser, world, client):
    xa, device = world["xa"], world["device"]
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct horse")
    page.fill("#id_otp_token", f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}")
    page.screenshot(path=SHOTS / "1-login.png")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    page.screenshot(path=SHOTS / "1b-after-login.png")
    page.wait_for_selector("#dashboard")
    page.screenshot(path=SHOTS / "2-dashboard.png", full_page=True)

    dsc = xa.dsc(at=timezone.now())
    page.goto(f"{live_server.url}/admin/trustlist/signercertificate/upload/")
    page.select_option("#id_country", "XA")
    page.fill("#id_cms", xa.cms_b64(dsc.der).decode())
    page.screenshot(path=SHOTS / "3-upload.png")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    page.screenshot(path=SHOTS / "4-uploaded.png", full_page=True)
    listed = {e["thumbprint"] for e in client.get("/trustList/DSC/XA", **xa.headers()).json()}
    assert thumbprint(dsc.der) in listed

    page.click("#revoke-link")
    page.fill("#id_reason", "key compromised")
    page.click("input[type=submit]")  # without the confirmation box: the form stays, nothing revoked
    assert page.url.endswith("/revoke/")
    assert SignerCertificate.objects.get(thumbprint=thumbprint(dsc.der)).revoked_at is None
    page.check("#id_confirm")
    page.screenshot(path=SHOTS / "5-revoke-confirm.png")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    page.screenshot(path=SHOTS / "6-revoked.png", full_page=True)
    assert "key compromised" in page.content()
    listed = {e["thumbprint"] for e in client.get("/trustList/DSC/XA", **xa.headers()).json()}
    assert thumbprint(dsc.der) not in listed, "the revoked DSC left the trust list"

    response = page.goto(f"{live_server.url}/admin/trustlist/signercertificate/{world['foreign'].pk}/change/")
    assert response.status == 404
    page.screenshot(path=SHOTS / "7-other-country-404.png")
    response = page.goto(f"{live_server.url}/admin/trustlist/signercertificate/{world['foreign'].pk}/revoke/")
    assert response.status == 404
    world["foreign"].refresh_from_db()
    assert world["foreign"].revoked_at is None
