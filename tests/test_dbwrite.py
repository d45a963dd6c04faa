"""gateway/dbwrite.py: inserts without the ORM's per-call compilation, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_save, pre_save

from gateway import dbwrite
from gateway.audit.models import AuditEvent, AuditNode
from gateway.outbox.models import Change, TrustState
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
WRITTEN_BY_DBWRITE = (SignerCertificate, AuditEvent, AuditNode, Change)


@pytest.mark.parametrize("model", WRITTEN_BY_DBWRITE)
def test_models_written_here_have_no_save_hooks(model):
    # dbwrite skips Model.save: a signal receiver or a custom save would silently not run.
    assert not pre_save.has_listeners(model)
    assert not post_save.has_listeners(model)
    assert model.save is Model.save


def test_insert_prepares_values_as_the_orm_does():
    change = dbwrite.insert(Change(kind="UPLOAD", at=AT, country="XA", thumbprint="ab" * 32))
    stored = Change.objects.get(pk=change.pk)
    assert (stored.kind, stored.at, stored.country, stored.thumbprint) == ("UPLOAD", AT, "XA", "ab" * 32)
    assert stored.published_at is None
    assert not change._state.adding


def test_insert_along_runs_the_other_statements_too():
    with transaction.atomic():
        change = dbwrite.insert(
            Change(kind="UPLOAD", at=AT),
            along=[
                None,
                dbwrite.rows_statement(AuditNode, [{"level": 1, "index": 7, "hash": b"\x01" * 32}]),
                ('UPDATE "outbox_change" SET "kind" = %s WHERE "kind" = %s', ["OTHER", "NONE"]),
            ],
        )
    assert Change.objects.filter(pk=change.pk).exists()
    assert bytes(AuditNode.objects.get(level=1, index=7).hash) == b"\x01" * 32


def test_insert_after_inserts_only_if_the_update_changed_a_row():
    increment = ('UPDATE "outbox_truststate" SET "version" = "version" + 1 WHERE "id" = %s', [1])
    assert dbwrite.insert_after(Change(kind="UPLOAD", at=AT), increment) is None
    assert Change.objects.count() == 0
    TrustState.objects.create(pk=1, version=5)
    change = dbwrite.insert_after(Change(kind="UPLOAD", at=AT, country="XB"), increment)
    assert change is not None
    assert Change.objects.get(pk=change.pk).country == "XB"
    assert TrustState.objects.get(pk=1).version == 6
