"""One answer for a wrong username, password or one-time password (countries/login.py): the same
words, the same page, and the same work behind it (hashes, HMACs, database statements), so that
neither the text nor the shape of the answer says which part was wrong. Which part it was goes
to the audit log only. (No timing here: bench/login_timing.py measures the times.)"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from countries.login import WRONG
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki.errors import Reason
from tests.conftest import PROXY

pytestmark = pytest.mark.django_db

PASSWORD = "alice's long passphrase"
HASHED: list[str] = []  # what CountingHasher was asked to do, in order


class CountingHasher(MD5PasswordHasher):
    """A fast hasher that notes every hash it computes (a real one's cost is the bench's)."""

    def encode(self, password: str, salt: str) -> str:
        HASHED.append("hash")
        return super().encode(password, salt)


@pytest.fixture
def alice(settings, django_user_model, frozen):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    user = django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    HASHED.clear()
    return user


def right_token(user) -> str:
    device = TOTPDevice.objects.get(user=user, name="phone")
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def wrong_token(user) -> str:
    return "000000" if right_token(user) != "000000" else "111111"


def attempt(client, username: str, password: str, token: str, address: str = "198.51.100.1"):
    return client.post(
        "/admin/login/",
        {"username": username, "password": password, "otp_token": token},
        REMOTE_ADDR=PROXY,
        headers={"X-Real-IP": address},
    )


def errors(response) -> list[str]:
    return re.findall(r'<p class="errornote">(.*?)</p>', response.content.decode(), re.S)


def page(response, username: str) -> str:
    """The page but for what differs by design: the CSRF token (masked anew for every answer)
    and the username typed, which the form shows again."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", response.content.decode())
    return text.replace(f'value="{username}"', 'value="USERNAME"')


def three_wrong(alice) -> dict[str, tuple[str, str, str]]:
    return {
        "unknown username": ("mallory", PASSWORD, right_token(alice)),
        "wrong password": ("alice", "not her passphrase", right_token(alice)),
        "wrong one-time password": ("alice", PASSWORD, wrong_token(alice)),
    }


def test_a_wrong_username_password_or_one_time_password_gets_one_answer(client, alice):
    answers = {name: attempt(client, *login) for name, login in three_wrong(alice).items()}
    assert {response.status_code for response in answers.values()} == {200}
    texts = {name: errors(response) for name, response in answers.items()}
    assert texts["unknown username"] == [WRONG]
    assert texts["wrong password"] == texts["unknown username"]  # byte for byte
    assert texts["wrong one-time password"] == texts["unknown username"]
    pages = {name: page(answers[name], login[0]) for name, login in three_wrong(alice).items()}
    assert len(set(pages.values())) == 1, "the whole page is the same"
    body = pages["wrong one-time password"]
    assert "invalid token" not in body.lower()  # django-otp's
    assert "correct username and password" not in body  # Django's own
    assert 'name="otp_device"' not in body  # a device list would say the password was right
    assert 'type="password" name="password" value' not in body  # nor the password shown again
    assert client.get("/admin/").status_code == 302


def _statement(sql: str) -> tuple[str, str]:
    """What a statement does to which table (a savepoint: to none)."""
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
    return sql.split()[0], table.group(1) if table else ""


def test_every_part_costs_the_same_whichever_was_wrong(client, alice, monkeypatch):
    tokens: list[int] = []
    original = TOTP.token
    monkeypatch.setattr(TOTP, "token", lambda self: tokens.append(1) or original(self))
    work = {}
    for number, (name, login) in enumerate(three_wrong(alice).items()):
        HASHED.clear()
        tokens.clear()
        with CaptureQueriesContext(connection) as queries:
            attempt(client, *login, address=f"198.51.100.{number + 1}")  # each a first failure there
        # The audit log's own statements depend on its size (a new leaf may complete subtrees);
        # that each case records one event is the next test's. The order differs (django-axes
        # hears of a wrong password before the one-time password's turn, of a wrong one after).
        statements = sorted(_statement(q["sql"]) for q in queries.captured_queries if '"audit_' not in q["sql"])
        work[name] = (len(HASHED), len(tokens), statements)
    assert work["unknown username"][:2] == (1, 3)  # one password hash; the HMACs of three time steps
    assert ("UPDATE", "otp_totp_totpdevice") in work["unknown username"][2]  # a device's failure count
    assert work["wrong password"] == work["unknown username"]
    assert work["wrong one-time password"] == work["unknown username"]


def test_which_part_was_wrong_is_recorded_for_the_auditors(client, alice):
    for login in three_wrong(alice).values():
        attempt(client, *login)
    events = AuditEvent.objects.filter(action=Action.AUTHENTICATE).order_by("leaf_index")
    assert [(e.outcome, e.reason) for e in events] == [(Outcome.REJECTED, Reason.LOGIN_FAILED)] * 3
    assert [e.details for e in events] == [
        # a username that names no account may be a password typed in the wrong field: not kept
        {"username": "", "address": "198.51.100.1", "failed": "username or password"},
        {"username": "alice", "address": "198.51.100.1", "failed": "username or password"},
        {"username": "alice", "address": "198.51.100.1", "failed": "one-time password"},
    ]


def test_a_wrong_one_time_password_counts_toward_the_lock(client, alice, settings, frozen):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        last = attempt(client, "alice", PASSWORD, wrong_token(alice))
    assert last.status_code == 429
    frozen.shift(30)
    assert attempt(client, "alice", PASSWORD, right_token(alice)).status_code == 429


def test_right_credentials_of_an_account_that_may_not_use_the_admin_get_the_same_answer(client, alice):
    alice.is_staff = False
    alice.save()
    refused = attempt(client, "alice", PASSWORD, right_token(alice))
    assert errors(refused) == [WRONG]
    assert AuditEvent.objects.get(action=Action.AUTHENTICATE).details["failed"] == "account"


def test_the_right_three_log_in(client, alice):
    assert attempt(client, "alice", PASSWORD, right_token(alice)).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert not AuditEvent.objects.filter(action=Action.AUTHENTICATE).exists()


def test_a_person_with_two_authenticators_logs_in_with_either_without_choosing(client, alice, frozen):
    spare = TOTPDevice.objects.create(user=alice, name="spare", confirmed=True)
    code = f"{totp(spare.bin_key, step=spare.step, t0=spare.t0, digits=spare.digits):06d}"
    assert attempt(client, "alice", PASSWORD, code).status_code == 302
    assert client.get("/admin/").status_code == 200
    client.logout()
    frozen.shift(30)
    assert attempt(client, "alice", PASSWORD, right_token(alice)).status_code == 302
