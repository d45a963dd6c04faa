"""The admin through the production-like stack (tests/conftest.py's shared stack: nginx with TLS on
a port that is not 443, gunicorn on a unix socket, PostgreSQL, Redis, Celery).

A country admin logs in in Chromium with a password and a one-time password, uploads a DSC and
revokes it: the CSRF check passes although nginx listens on a port the proxied Host used to drop.
"""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django_otp.oath import totp

from gateway.pki import issuance
from gateway.pki.certs import certificate_der, thumbprint
from tests.conftest import SHOTS

pytestmark = pytest.mark.e2e

PASSWORD = "a stack admin's long passphrase"


@pytest.fixture(scope="module")
def kim(open_stack) -> bytes:
    """kim, XA's country admin in the stack's database, set up as the README says; her TOTP key."""
    open_stack.manage(
        "add_person", "kim", "--email", "kim@health.xa.example", env={"GATEWAY_PERSON_PASSWORD": PASSWORD}
    )
    uri = open_stack.manage("add_otp_device", "kim").splitlines()[0]
    open_stack.manage("grant_membership", "kim", "--country", "XA", "--role", "ADMIN")
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def test_a_country_admin_logs_in_uploads_and_revokes_through_nginx(open_stack, browser, kim):
    assert open_stack.port != 443, "the port must show in the origin"
    base = f"https://{open_stack.host}:{open_stack.port}"
    # The stack's own CA issued nginx's certificate; the browser is not told about it.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "kim")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", f"{totp(kim):06d}")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    page.screenshot(path=SHOTS / "stack-after-login.png", full_page=True)
    page.wait_for_selector("#dashboard")
    assert page.url == f"{base}/admin/"

    xa = open_stack.country("XA")
    issued = issuance.issue(
        issuance.name("admin through nginx", "XA"), at=dt.datetime.now(dt.UTC), issuer=xa.csca, days=30
    )
    der = certificate_der(issued.certificate)
    page.goto(f"{base}/admin/trustlist/signercertificate/upload/")
    page.select_option("#id_country", "XA")
    page.fill("#id_cms", xa.cms_b64(der).decode())
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    [(pk,)] = open_stack.sql(f"SELECT id FROM trustlist_signercertificate WHERE thumbprint = '{thumbprint(der)}'")

    page.goto(f"{base}/admin/trustlist/signercertificate/{pk}/change/")
    page.click("#revoke-link")
    page.fill("#id_reason", "revoked through nginx")
    page.check("#id_confirm")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    page.screenshot(path=SHOTS / "stack-revoked.png", full_page=True)
    assert "revoked through nginx" in page.inner_text("body")
    context.close()

    listed = open_stack.request("GET", "/trustList/DSC/XA", cert=xa.auth).json()
    assert thumbprint(der) not in {entry["thumbprint"] for entry in listed}
    events = open_stack.sql(
        "SELECT action, outcome, actor FROM audit_auditevent "
        f"WHERE subject_thumbprint = '{thumbprint(der)}' ORDER BY leaf_index"
    )
    assert events == [("UPLOAD", "SUCCESS", "admin:kim"), ("REVOKE", "SUCCESS", "admin:kim")]


def test_the_host_is_the_clients_and_redirects_name_the_public_origin(open_stack):
    # nginx passes on the Host the client named (port included); Django refuses one not its own.
    assert open_stack.request("GET", "/admin/login/").status == 200
    assert open_stack.request("GET", "/admin/login/", headers={"Host": "gateway.evil.example"}).status == 400
    # A plain request that reaches gunicorn (only nginx should) is sent to the public origin.
    connection = open_stack.unix_connection()
    connection.request("GET", "/admin/login/", headers={"Host": "localhost"})
    response = connection.getresponse()
    response.read()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{open_stack.host}:{open_stack.port}/admin/login/"
