"""The admin through the production-like stack (tests/conftest.py's shared stack: nginx with TLS on
a port that is not 443, gunicorn on a unix socket, PostgreSQL, Redis, Celery).

A country admin logs in in Chromium with a password and a one-time password, uploads a DSC and
revokes it: the CSRF check passes although nginx listens on a port the proxied Host used to drop.
The login's limits count failures per username and the client's address as nginx saw it, which a
client cannot choose, through nginx or past it.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable
from http.client import HTTPConnection, HTTPSConnection
from urllib.parse import parse_qs, urlencode, urlsplit

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


def _login(open_stack, connect: Callable[[], HTTPConnection], username: str, headers: dict[str, str]) -> int:
    """A browser's login with a wrong password on connections from ``connect``: the login page
    for its CSRF cookie and token, then the form, from the public origin. The answer's status."""

    def exchange(method: str, body: str | None, extra: dict[str, str]) -> tuple[int, dict[str, str], str]:
        connection = connect()
        try:
            connection.request(method, "/admin/login/", body=body, headers={**headers, **extra})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            connection.close()

    _, page_headers, page = exchange("GET", None, {})
    cookie = page_headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": "wrong", "otp_token": "1"})
    status, _, _ = exchange(
        "POST",
        form,
        {
            "Cookie": cookie,
            "Origin": f"https://{open_stack.host}:{open_stack.port}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    return status


def _attempts(open_stack, username: str) -> list[tuple[str | None, int]]:
    rows = open_stack.sql(
        "SELECT ip_address, failures_since_start FROM axes_accessattempt "  # the lock's counters
        f"WHERE username = '{username}' ORDER BY ip_address"
    )
    return [(None if address is None else str(address), failures) for address, failures in rows]


def test_the_clients_address_reaches_the_login_and_a_forged_one_does_not(open_stack, settings):
    def from_address(source: str) -> Callable[[], HTTPConnection]:
        return lambda: HTTPSConnection(
            open_stack.host, open_stack.port, context=open_stack.context(), source_address=(source, 0), timeout=30
        )

    # Each failure claims another address; nginx replaces the claim with the one it saw.
    for number in range(settings.AXES_FAILURE_LIMIT):
        forged = {"X-Real-IP": f"198.51.100.{number + 1}", "X-Forwarded-For": f"198.51.100.{number + 1}"}
        status = _login(open_stack, from_address("127.0.0.1"), "ghost", forged)
        assert status == (429 if number + 1 == settings.AXES_FAILURE_LIMIT else 200)
    assert _attempts(open_stack, "ghost") == [("127.0.0.1", settings.AXES_FAILURE_LIMIT)]
    # Locked at 127.0.0.1, the username is not locked at another address (loopback has them all).
    assert _login(open_stack, from_address("127.0.0.2"), "ghost", {}) == 200
    assert _attempts(open_stack, "ghost") == [("127.0.0.1", settings.AXES_FAILURE_LIMIT), ("127.0.0.2", 1)]


def test_past_nginx_without_its_secret_the_address_header_is_not_believed(open_stack):
    # Straight to gunicorn's socket (as only nginx should), claiming HTTPS and an address.
    host = f"{open_stack.host}:{open_stack.port}"
    claims = {"Host": host, "X-Forwarded-Proto": "https", "X-Real-IP": "198.51.100.50"}
    assert _login(open_stack, open_stack.unix_connection, "phantom", claims) == 200
    assert _attempts(open_stack, "phantom") == [(None, 1)]
