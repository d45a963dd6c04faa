"""The admin login's limits, from several addresses (README, "People"; docs/identity.md, "The
client's address"): failures lock a username at one address, never everywhere; the address is
nginx's X-Real-IP only when the request came through the proxy (its address and secret), the
request's own address otherwise."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from countries.identity import client_address
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki.errors import Reason
from tests.conftest import PROXY

pytestmark = pytest.mark.django_db

PASSWORD = "alice's long passphrase"
SECRET = "the proxy's secret"


@pytest.fixture
def alice(settings, django_user_model, frozen):
    # Every attempt hashes a password: the fast hasher keeps these tests quick (the real one's
    # cost is what bench/login_timing.py measures).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


def token(user) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def log_in(client, *, password: str, otp: str = "000000", remote: str = PROXY, real_ip: str | None = None):
    """One login as alice; ``remote`` is the connection's address, ``real_ip`` the X-Real-IP sent."""
    headers = {} if real_ip is None else {"X-Real-IP": real_ip}
    data = {"username": "alice", "password": password, "otp_token": otp}
    return client.post("/admin/login/", data, REMOTE_ADDR=remote, headers=headers)


def fail(client, times: int, **where) -> list[int]:
    """``times`` logins with a wrong password; their statuses."""
    return [log_in(client, password="wrong", **where).status_code for _ in range(times)]


# --- which address -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "headers", "secret", "trusted", "expected"),
    [
        # through the proxy: nginx's X-Real-IP
        (PROXY, {"X-Real-IP": "198.51.100.7"}, "", [f"{PROXY}/32"], "198.51.100.7"),
        (PROXY, {}, "", [f"{PROXY}/32"], PROXY),  # a proxy that names no one: its own address
        # from anywhere else the header is the client's say-so: the connection's address counts
        ("203.0.113.9", {"X-Real-IP": "198.51.100.7"}, "", [f"{PROXY}/32"], "203.0.113.9"),
        # with a proxy secret, the proxy's address alone is not enough
        (PROXY, {"X-Real-IP": "198.51.100.7"}, SECRET, [f"{PROXY}/32"], PROXY),
        (
            PROXY,
            {"X-Real-IP": "198.51.100.7", "X-Gateway-Proxy-Secret": SECRET},
            SECRET,
            [f"{PROXY}/32"],
            "198.51.100.7",
        ),
        # gunicorn's unix socket (REMOTE_ADDR empty): nginx's word with its secret, else no address
        ("", {"X-Real-IP": "198.51.100.7", "X-Gateway-Proxy-Secret": SECRET}, SECRET, ["unix"], "198.51.100.7"),
        ("", {"X-Real-IP": "198.51.100.7"}, SECRET, ["unix"], None),
        ("", {"X-Real-IP": "198.51.100.7", "X-Gateway-Proxy-Secret": "a guess"}, SECRET, ["unix"], None),
        # an address is an address: IPv6 written canonically, anything else is none
        (PROXY, {"X-Real-IP": "2001:DB8:0:0::1"}, "", [f"{PROXY}/32"], "2001:db8::1"),
        (PROXY, {"X-Real-IP": "alice's laptop"}, "", [f"{PROXY}/32"], None),
    ],
)
def test_the_address_is_nginxs_only_through_the_proxy(settings, remote, headers, secret, trusted, expected):
    settings.GATEWAY_PROXY_SECRET = secret
    settings.GATEWAY_TRUSTED_PROXIES = trusted
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=remote, headers=headers)
    assert client_address(request) == expected


# --- the lock per username and address -------------------------------------------------------------


def test_failures_lock_the_username_at_that_address_only(client, alice, settings, frozen):
    statuses = fail(client, settings.AXES_FAILURE_LIMIT, real_ip="198.51.100.1")
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the last failure locks
    frozen.shift(30)  # a fresh one-time password
    locked = log_in(client, password=PASSWORD, otp=token(alice), real_ip="198.51.100.1")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "3600"  # the cool-off, from this (refused) attempt on
    assert "Too many failed logins for this username from your address" in locked.content.decode()
    assert 'id="login-form"' in locked.content.decode()  # the login page, not a bare text
    assert client.get("/admin/").status_code == 302  # not logged in
    # Alice elsewhere (or an attacker's failures elsewhere) is not locked out by them.
    elsewhere = log_in(client, password=PASSWORD, otp=token(alice), real_ip="198.51.100.2")
    assert elsewhere.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1"}


def test_a_client_that_bypasses_the_proxy_cannot_choose_its_address(client, alice, settings, frozen):
    for number in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, password="wrong", remote="203.0.113.9", real_ip=f"198.51.100.{number + 10}")
    frozen.shift(30)
    dodging = log_in(client, password=PASSWORD, otp=token(alice), remote="203.0.113.9", real_ip="198.51.100.99")
    assert dodging.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_without_the_proxys_secret_the_header_names_no_one(client, alice, settings, frozen):
    # gunicorn's socket: nginx sends its secret; a request without it (from whoever reached the
    # socket) cannot pick addresses to spread its failures over.
    settings.GATEWAY_TRUSTED_PROXIES = ["unix"]
    settings.GATEWAY_PROXY_SECRET = SECRET
    for number in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, password="wrong", remote="", real_ip=f"198.51.100.{number + 10}")
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [None]
    # nginx's requests, with the secret, are counted per the address it names.
    frozen.shift(30)
    response = client.post(
        "/admin/login/",
        {"username": "alice", "password": PASSWORD, "otp_token": token(alice)},
        REMOTE_ADDR="",
        headers={"X-Real-IP": "198.51.100.1", "X-Gateway-Proxy-Secret": SECRET},
    )
    assert response.status_code == 302


# --- the wait per username, from every address together ---------------------------------------------


def test_failures_from_many_addresses_make_the_username_wait_not_lock(client, alice, settings, frozen):
    settings.GATEWAY_LOGIN_ACCOUNT_LIMIT = 6
    settings.GATEWAY_LOGIN_ACCOUNT_WINDOW = 600
    frozen.move_to("2026-06-01T12:07:00Z")  # 3 minutes before the window ends
    # An attacker with three addresses, each under the lock's limit of 5.
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert fail(client, 2, real_ip=address) == [200, 200]
    waiting = log_in(client, password=PASSWORD, otp=token(alice), real_ip="203.0.113.77")
    assert waiting.status_code == 429
    assert waiting["Retry-After"] == "180"
    assert "Please try again in 180 seconds." in waiting.content.decode()
    assert client.get("/admin/").status_code == 302
    # Held back unchecked: no failure counted against the new address, nothing for django-axes.
    assert not AccessAttempt.objects.filter(ip_address="203.0.113.77").exists()
    frozen.shift(180)  # the next window
    assert log_in(client, password=PASSWORD, otp=token(alice), real_ip="203.0.113.77").status_code == 302


def test_an_address_the_username_logged_in_from_lately_does_not_wait(client, alice, settings, frozen):
    settings.GATEWAY_LOGIN_ACCOUNT_LIMIT = 3
    assert log_in(client, password=PASSWORD, otp=token(alice), real_ip="192.0.2.10").status_code == 302
    client.logout()
    frozen.shift(86400)  # a day later, an attack from elsewhere
    fail(client, 3, real_ip="198.51.100.1")
    assert log_in(client, password=PASSWORD, otp=token(alice), real_ip="198.51.100.9").status_code == 429
    assert log_in(client, password=PASSWORD, otp=token(alice), real_ip="192.0.2.10").status_code == 302
    # ... but not one she used longer ago than GATEWAY_LOGIN_KNOWN_ADDRESS_DAYS
    client.logout()
    frozen.shift(86400 * settings.GATEWAY_LOGIN_KNOWN_ADDRESS_DAYS + 1)
    fail(client, 3, real_ip="198.51.100.1")
    assert log_in(client, password=PASSWORD, otp=token(alice), real_ip="192.0.2.10").status_code == 429


def test_the_wait_does_not_tell_whether_the_username_exists(client, alice, settings):
    settings.GATEWAY_LOGIN_ACCOUNT_LIMIT = 2
    answers = {}
    for username in ("alice", "nobody"):
        for _ in range(2):
            client.post("/admin/login/", {"username": username, "password": "x", "otp_token": "1"}, REMOTE_ADDR=PROXY)
        answers[username] = client.post(
            "/admin/login/", {"username": username, "password": "x", "otp_token": "1"}, REMOTE_ADDR=PROXY
        )
    assert answers["alice"].status_code == answers["nobody"].status_code == 429
    assert answers["alice"]["Retry-After"] == answers["nobody"]["Retry-After"]


def test_locks_and_waits_are_recorded_once_per_window_failures_each_time(client, alice, settings):
    settings.GATEWAY_LOGIN_ACCOUNT_LIMIT = 100
    fail(client, settings.AXES_FAILURE_LIMIT + 3, real_ip="198.51.100.1")  # the last three: locked
    settings.GATEWAY_LOGIN_ACCOUNT_LIMIT = settings.AXES_FAILURE_LIMIT
    fail(client, 3, real_ip="198.51.100.2")  # waits: the username had its failures in this window
    events = AuditEvent.objects.filter(action=Action.AUTHENTICATE).order_by("leaf_index")
    assert [e.reason for e in events] == [Reason.LOGIN_FAILED] * settings.AXES_FAILURE_LIMIT + [
        Reason.LOGIN_LOCKED,
        Reason.LOGIN_THROTTLED,
    ]
    assert {e.outcome for e in events} == {Outcome.REJECTED}
    assert events.last().details == {"username": "alice", "address": "198.51.100.2", "retry_after": 600}


def test_without_the_cache_no_one_waits_and_the_lock_still_holds(client, alice, settings, frozen, monkeypatch):
    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("Redis is down")

            return fail

    from countries import login_limits

    monkeypatch.setattr(login_limits, "cache", Down())
    settings.GATEWAY_LOGIN_ACCOUNT_LIMIT = 1
    assert fail(client, 2, real_ip="198.51.100.1") == [200, 200]  # no wait without the counters
    frozen.shift(30)
    assert log_in(client, password=PASSWORD, otp=token(alice), real_ip="198.51.100.2").status_code == 302
    client.logout()
    statuses = fail(client, settings.AXES_FAILURE_LIMIT, real_ip="198.51.100.3")
    assert statuses[-1] == 429  # django-axes' lock is in the database
