"""The public origin (GATEWAY_PUBLIC_ORIGIN, gateway/origin.py): how it is read, and that an
admin form posted from it passes Django's CSRF check even when the Host the application sees has
lost the port (as nginx's `$host` made it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from gateway.origin import Origin, parse_origin

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("text", "expected", "written"),
    [
        ("https://127.0.0.1:8443", Origin("https", "127.0.0.1", 8443), "https://127.0.0.1:8443"),
        ("https://Gateway.Example.org/", Origin("https", "gateway.example.org", None), "https://gateway.example.org"),
        (
            "https://gateway.example.org:443",
            Origin("https", "gateway.example.org", None),
            "https://gateway.example.org",
        ),
        ("http://localhost:80", Origin("http", "localhost", None), "http://localhost"),
        ("https://[::1]:8443", Origin("https", "::1", 8443), "https://[::1]:8443"),
    ],
)
def test_an_origin_is_written_as_browsers_send_it(text, expected, written):
    origin = parse_origin(text)
    assert origin == expected
    assert str(origin) == written


@pytest.mark.no_db
@pytest.mark.parametrize(
    "text",
    [
        "gateway.example.org",
        "ftp://gateway.example.org",
        "https://",
        "https://gateway.example.org/admin/",
        "https://gateway.example.org?x=1",
        "https://gateway.example.org#top",
        "https://user@gateway.example.org",
        "https://gateway.example.org:99999",
        "https://gateway.example.org:port",
    ],
)
def test_anything_but_an_origin_is_refused(text):
    with pytest.raises(ValueError, match=r"origin|[Pp]ort"):
        parse_origin(text)


def _settings_with(**env: str) -> dict:
    """The settings a process started with ``env`` derives (the module reads the environment once)."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'csrf': s.CSRF_TRUSTED_ORIGINS, 'ssl_host': s.SECURE_SSL_HOST, 'hosts': s.ALLOWED_HOSTS}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DJANGO_"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "gateway.settings", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.no_db
def test_the_origin_setting_names_the_trusted_origin_the_redirect_host_and_an_allowed_host():
    derived = _settings_with(GATEWAY_PUBLIC_ORIGIN="https://gateway.example.org:8443/")
    assert derived["csrf"] == ["https://gateway.example.org:8443"]
    assert derived["ssl_host"] == "gateway.example.org:8443"
    assert "gateway.example.org" in derived["hosts"]
    unset = _settings_with()
    assert unset["csrf"] == []
    assert unset["ssl_host"] is None


@pytest.mark.no_db
def test_a_bad_origin_stops_the_gateway_at_start():
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _settings_with(GATEWAY_PUBLIC_ORIGIN="gateway.example.org")
    assert "scheme://host[:port]" in failed.value.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(("trusted", "status"), [([], 403), (["https://127.0.0.1:8443"], 200)])
def test_a_login_form_from_the_public_origin_passes_the_csrf_check(settings, trusted, status):
    settings.CSRF_TRUSTED_ORIGINS = trusted
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/admin/login/", secure=True)
    token = page.cookies["csrftoken"].value
    # The Host lost the port on the way (nginx's $host), the browser's Origin has it.
    response = browser.post(
        "/admin/login/",
        {"csrfmiddlewaretoken": token, "username": "nobody", "password": "x", "otp_token": "123456"},
        secure=True,
        headers={"Origin": "https://127.0.0.1:8443", "Host": "127.0.0.1"},
    )
    assert response.status_code == status
