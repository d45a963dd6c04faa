"""Revocation batches in the admin (issue 19, part 4), persona by persona: alice (admin of XA) sees
XA's batches and deletes one after confirming (soft, through the service, audited); bob (admin of
XB) gets 404 for XA's; vera (viewer of XA) sees them and cannot delete; audrey (auditor) and otto
(operator) see every country's and delete none. Time is frozen at tests.factory.NOW."""

from __future__ import annotations

import datetime as dt

import pytest

from countries.permissions import Do, can, countries_for
from gateway.audit.models import Action, AuditEvent, Outcome
from revocation.models import RevocationBatch
from tests import admin_world
from tests.conftest import otp_login
from tests.test_revocation_api import ROLES, batch, delete_batch, grant, post_batch

pytestmark = pytest.mark.django_db
BATCHES = "/admin/revocation/revocationbatch/"


@pytest.fixture
def people(django_user_model):
    return admin_world.personas(django_user_model)


@pytest.fixture
def rxa(xa):
    grant(xa, *ROLES)
    return xa


@pytest.fixture
def rxb(xb):
    grant(xb, *ROLES)
    return xb


@pytest.fixture
def batches(client, rxa, rxb) -> dict[str, RevocationBatch]:
    """One batch of XA (3 entries, expiring 2026-07-01) and one of XB, uploaded through the API."""
    assert post_batch(client, rxa, batch("XA", count=3)).status_code == 201
    assert post_batch(client, rxb, batch("XB")).status_code == 201
    return {row.country: row for row in RevocationBatch.objects.all()}


def as_(client, user):
    otp_login(client, user)
    return client


@pytest.mark.parametrize(
    ("name", "view", "delete_xa", "countries"),
    [
        ("alice", True, True, ["XA"]),
        ("bob", False, False, ["XB"]),
        ("vera", True, False, ["XA"]),
        ("audrey", True, False, None),
        ("otto", True, False, None),
    ],
)
def test_who_may_see_and_delete_xas_batches(people, name, view, delete_xa, countries):
    user = people[name]
    assert can(user, Do.VIEW_REVOCATION, "XA") is view
    assert can(user, Do.DELETE_REVOCATION, "XA") is delete_xa
    assert countries_for(user, Do.VIEW_REVOCATION) == countries


def test_a_country_admin_sees_her_batches_and_deletes_one_after_confirming(client, people, batches, rxa):
    own, foreign = batches["XA"], batches["XB"]
    as_(client, people["alice"])
    listing = client.get(BATCHES).content.decode()
    assert own.batch_id in listing
    assert foreign.batch_id not in listing
    assert "active" in listing
    page = client.get(f"{BATCHES}{own.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "delete-batch-link" in text
    assert "UNKNOWN_KID" in text
    assert "UCI" in text
    confirm = client.get(f"{BATCHES}{own.pk}/delete-batch/")
    assert confirm.status_code == 200
    assert "3 entries" in confirm.content.decode()
    unconfirmed = client.post(f"{BATCHES}{own.pk}/delete-batch/", {})
    assert unconfirmed.status_code == 200
    assert not RevocationBatch.objects.get(pk=own.pk).deleted
    done = client.post(f"{BATCHES}{own.pk}/delete-batch/", {"confirm": "on"})
    assert done.status_code == 302
    row = RevocationBatch.objects.get(pk=own.pk)
    assert (row.deleted, row.cms) == (True, "")
    event = AuditEvent.objects.filter(action=Action.REVOCATION_BATCH_DELETE, outcome=Outcome.SUCCESS).get()
    assert (event.actor, event.country, event.details["batchId"]) == ("admin:alice", "XA", own.batch_id)
    assert "deleted" in client.get(BATCHES).content.decode()
    assert client.get(f"{BATCHES}{own.pk}/delete-batch/").status_code == 404  # nothing left to delete
    history = client.get(f"{BATCHES}{own.pk}/history/").content.decode()
    assert "Revocation batch deleted" in history
    assert "Revocation batch uploaded" in history


def test_a_batch_deleted_meanwhile_is_not_deleted_again(client, people, batches, rxa):
    own = batches["XA"]
    as_(client, people["alice"])
    assert client.get(f"{BATCHES}{own.pk}/delete-batch/").status_code == 200
    assert delete_batch(client, rxa, own.batch_id).status_code == 204  # the backend, meanwhile
    as_(client, people["alice"])
    # The page alice had open posts now: the view sees a deleted batch and answers 404.
    assert client.post(f"{BATCHES}{own.pk}/delete-batch/", {"confirm": "on"}).status_code == 404


def test_the_service_refuses_a_second_deletion_by_name(batches):
    from gateway.pki.errors import Rejected
    from revocation import services
    from tests.factory import NOW

    own = batches["XA"]
    services.delete_by_person(own.batch_id, country="XA", at=NOW, actor="admin:alice")
    with pytest.raises(Rejected) as refused:
        services.delete_by_person(own.batch_id, country="XA", at=NOW, actor="admin:alice")
    assert refused.value.reason == "REVOCATION_BATCH_DELETED"
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.outcome, event.actor) == (
        Action.REVOCATION_BATCH_DELETE,
        Outcome.REJECTED,
        "admin:alice",
    )


def test_another_countrys_batch_does_not_exist_for_a_country_admin(client, people, batches):
    as_(client, people["bob"])
    foreign = batches["XA"]
    assert client.get(f"{BATCHES}{foreign.pk}/change/").status_code == 404
    assert client.get(f"{BATCHES}{foreign.pk}/delete-batch/").status_code == 404
    assert client.post(f"{BATCHES}{foreign.pk}/delete-batch/", {"confirm": "on"}).status_code == 404
    assert not RevocationBatch.objects.get(pk=foreign.pk).deleted


def test_a_viewer_sees_her_countrys_batches_but_cannot_delete(client, people, batches):
    as_(client, people["vera"])
    own = batches["XA"]
    page = client.get(f"{BATCHES}{own.pk}/change/")
    assert page.status_code == 200
    assert b"delete-batch-link" not in page.content
    assert client.post(f"{BATCHES}{own.pk}/delete-batch/", {"confirm": "on"}).status_code == 404
    assert client.get(f"{BATCHES}{batches['XB'].pk}/change/").status_code == 404
    assert not RevocationBatch.objects.filter(deleted=True).exists()


@pytest.mark.parametrize("name", ["audrey", "otto"])
def test_auditors_and_operators_see_every_batch_and_delete_none(client, people, batches, name):
    as_(client, people[name])
    listing = client.get(BATCHES).content.decode()
    assert batches["XA"].batch_id in listing
    assert batches["XB"].batch_id in listing
    page = client.get(f"{BATCHES}{batches['XA'].pk}/change/")
    assert page.status_code == 200
    assert b"delete-batch-link" not in page.content
    assert client.post(f"{BATCHES}{batches['XA'].pk}/delete-batch/", {"confirm": "on"}).status_code == 404
    assert not RevocationBatch.objects.filter(deleted=True).exists()


def test_the_state_column_and_filter(client, people, batches, frozen):
    frozen.move_to(dt.datetime(2026, 7, 2, tzinfo=dt.UTC))  # both batches past their expiry
    as_(client, people["otto"])
    expired = client.get(f"{BATCHES}?state=expired").content.decode()
    assert batches["XA"].batch_id in expired
    assert batches["XA"].batch_id not in client.get(f"{BATCHES}?state=active").content.decode()
