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


def _signer(number: int, **changes: object) -> SignerCertificate:
    values: dict[str, object] = {
        "country": "XA",
        "thumbprint": f"{number:064x}",
        "kid": f"k{number:011d}",
        "custom_kid": None,
        "raw_data": bytes([number % 256]) * 40 + b"\x00\\\t\n",  # bytes COPY's text form must escape
        "signature": "",
        "uploader_thumbprint": "",
        "usages": ["v", "t"],
        "public_key_jwk": {"kty": "EC", "crv": "P-256", "x": "a\tb\\c\nd", "é": "ü"},
        "not_before": AT,
        "not_after": AT + dt.timedelta(days=365),
        "created_at": AT,
        "source_gateway": "peer.example",
        "source_sequence": 7,
    }
    values.update(changes)
    return SignerCertificate(**values)


COMPARED = (
    "uuid",
    "country",
    "thumbprint",
    "kid",
    "custom_kid",
    "raw_data",
    "usages",
    "public_key_jwk",
    "properties",
    "not_before",
    "not_after",
    "created_at",
    "revoked_at",
    "source_gateway",
    "source_origin",
    "source_sequence",
    "group",
    "domain",
    "version",
)


def _stored(thumb: str) -> tuple[object, ...]:
    row = SignerCertificate.objects.get(thumbprint=thumb)
    return tuple(
        bytes(value) if isinstance(value, memoryview) else value for value in map(row.__getattribute__, COMPARED)
    )


def test_insert_many_writes_rows_as_the_orm_writes_them():
    # COPY on PostgreSQL, bulk_create elsewhere: either way, each row reads back as a save() of it.
    by_orm = _signer(1, custom_kid="tng-kid", revoked_at=AT)
    by_orm.save()
    copied = _signer(2, custom_kid="tng-kid-2", revoked_at=AT)
    written = dbwrite.insert_many(SignerCertificate, iter([copied, _signer(3)]))
    assert written == 2
    expected = dict(zip(COMPARED, _stored(by_orm.thumbprint), strict=True))
    actual = dict(zip(COMPARED, _stored(copied.thumbprint), strict=True))
    for name in ("uuid", "thumbprint", "kid", "custom_kid", "raw_data"):
        expected.pop(name), actual.pop(name)
    assert actual == expected
    assert _stored(copied.thumbprint)[COMPARED.index("raw_data")] == bytes(copied.raw_data)
    assert _stored(copied.thumbprint)[COMPARED.index("uuid")] == copied.uuid
    assert SignerCertificate.objects.filter(source_gateway="peer.example").count() == 3


def test_insert_many_of_nothing_writes_nothing():
    assert dbwrite.insert_many(SignerCertificate, []) == 0
    assert not SignerCertificate.objects.exists()


def test_insert_many_is_one_statement_on_postgresql(django_assert_max_num_queries):
    rows = (_signer(number) for number in range(10, 60))
    with django_assert_max_num_queries(1 if dbwrite.connection.vendor == "postgresql" else 50):
        assert dbwrite.insert_many(SignerCertificate, rows, chunk=10) == 50
    assert SignerCertificate.objects.count() == 50
