"""Auditors read, filter and export the audit log in the admin; nobody can change it there."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.contrib.auth.models import Group

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.audit.roles import AUDITORS
from gateway.audit.services import record_event
from tests.conftest import otp_login
from tests.factory import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    for country in ("XA", "XB", "XA"):
        record_event(
            action=Action.UPLOAD, outcome=Outcome.SUCCESS, at=NOW, country=country, subject_thumbprint="f" * 64
        )
    record_event(action=Action.REVOKE, outcome=Outcome.REJECTED, at=NOW, country="XB", reason="NOT_FOUND")


@pytest.fixture
def auditor(client, django_user_model):
    user = django_user_model.objects.create_user("audrey", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITORS))
    otp_login(client, user)
    return user


def test_auditor_lists_and_filters(client, auditor, events):
    page = client.get("/admin/audit/auditevent/?country=XA")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 2
    page = client.get("/admin/audit/auditevent/?action__exact=REVOKE")
    assert [e.reason for e in page.context["cl"].result_list] == ["NOT_FOUND"]
    assert client.get("/admin/audit/finding/").status_code == 200
    assert client.get("/admin/audit/checkpoint/").status_code == 200


def test_auditor_exports_csv_and_json(client, auditor, events):
    ids = [str(pk) for pk in AuditEvent.objects.values_list("pk", flat=True)]
    response = client.post("/admin/audit/auditevent/", {"action": "export_csv", "_selected_action": ids})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["leaf_index"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[0]["country"] == "XA"
    response = client.post("/admin/audit/auditevent/", {"action": "export_json", "_selected_action": ids})
    data = json.loads(response.content)
    assert data[3]["reason"] == "NOT_FOUND"
    assert len(data[0]["leaf_hash"]) == 44


def test_nobody_can_change_or_delete_events(client, admin_user, events):
    otp_login(client, admin_user)
    admin_client = client
    event = AuditEvent.objects.first()
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"country": "ZZ"}).status_code == 403
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    event.refresh_from_db()
    assert event.country == "XA"


def test_staff_without_the_role_sees_nothing(client, django_user_model, events):
    user = django_user_model.objects.create_user("bob", password="x", is_staff=True)
    otp_login(client, user)
    assert client.get("/admin/audit/auditevent/").status_code == 403


def test_events_are_listed_newest_first(client, auditor, events):
    page = client.get("/admin/audit/auditevent/")
    indexes = [event.leaf_index for event in page.context["cl"].result_list]
    assert indexes == sorted(indexes, reverse=True)
    assert indexes[0] == AuditEvent.objects.order_by("-leaf_index").first().leaf_index


def test_csv_export_neutralises_formulas(client, auditor, pki, db):
    """A client certificate's country, a username, a reason: texts from outside, which a
    spreadsheet must not evaluate (gateway.csv_export). Ordinary cells are exported unchanged."""
    client.get(  # an unknown certificate whose subject's C is a formula: a recorded refusal
        "/trustList", HTTP_X_SSL_CLIENT_SHA256="ab" * 32, HTTP_X_SSL_CLIENT_DN="/CN=someone/C==1+2"
    )
    hostile = AuditEvent.objects.get(authentication_thumbprint="ab" * 32)
    assert hostile.country == "=1"  # stored as sent (what was presented is evidence)
    for actor in ("@SUM(1+1)", "+cmd|' /C calc'!A0", "-2+3", "\tleading tab", "\rleading return"):
        record_event(action=Action.REQUEST, outcome=Outcome.REJECTED, at=NOW, country="XA", actor=actor)
    record_event(action=Action.UPLOAD, outcome=Outcome.SUCCESS, at=NOW, country="XA", actor="Zoë O'Neil")
    ids = [str(pk) for pk in AuditEvent.objects.values_list("pk", flat=True)]
    response = client.post("/admin/audit/auditevent/", {"action": "export_csv", "_selected_action": ids})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))

    exported = {row["leaf_index"]: row for row in rows}
    assert exported[str(hostile.leaf_index)]["country"] == "'=1"
    assert [row["actor"] for row in rows if row["country"] == "XA"] == [
        "'@SUM(1+1)",
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'\tleading tab",
        "'\rleading return",
        "Zoë O'Neil",  # an ordinary cell is exported as it is
    ]
    assert all(row["leaf_index"].isdigit() for row in rows)  # numbers stay numbers
    assert rows[-1]["details"] == "{}"
    assert rows[0]["at"].startswith("20")


def test_every_action_reads_in_words():
    """The event list names events in words (gateway/audit/words.py): no action falls back to its code."""
    from gateway.audit.words import event_in_words

    for action in Action:
        fallback = {f"{action} {outcome}".capitalize() for outcome in Outcome}
        assert any(event_in_words(action, outcome) not in fallback for outcome in Outcome), action


def test_rule_and_value_set_events_read_in_words_with_what_they_concern(client, auditor):
    record_event(
        action=Action.RULE_DELETE,
        outcome=Outcome.SUCCESS,
        at=NOW,
        country="XA",
        actor="admin:alice",
        details={"identifier": "VR-XA-0001", "versions": ["1.0.0", "1.1.0"]},
    )
    record_event(
        action=Action.VALUESET_IMPORT,
        outcome=Outcome.REJECTED,
        at=NOW,
        reason="VALUESET_INVALID",
        actor="admin:otto",
        details={"source": "admin upload: bad.json", "detail": "not JSON"},
    )
    page = client.get("/admin/audit/auditevent/")
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in page.content.decode().split("<tr")[2:]]
    assert "Value-set import refused VALUESET_IMPORT REJECTED - VALUESET_INVALID admin:otto" in rows[0]
    assert rows[0].endswith("admin upload: bad.json")
    assert "Rule deleted (every version) RULE_DELETE SUCCESS XA - admin:alice VR-XA-0001 1.0.0, 1.1.0" in rows[1]
