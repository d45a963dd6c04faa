"""Writing the outbox and reading the trust state version."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, connection, transaction

from gateway import dbwrite
from gateway.outbox.models import Change, TrustState
from gateway.outbox.signals import change_committed

STATE_ID = 1


def record_change(*, kind: str, at: dt.datetime, country: str = "", thumbprint: str = "", scope: str = "") -> Change:
    """Call inside the transaction that changes trust state, as its last write: the state row
    is locked from here to the commit, so keeping this last keeps the lock short.

    The state row is locked *before* the outbox row takes its id, so outbox ids are handed out
    in commit order: a reader that sees change N sees every change below N. The publisher relies
    on it (its high-water mark is the highest id its snapshot sees, and each delta holds the
    changes above the previous one's); taking the id first, a transaction could commit id 11
    while id 10 still waited for the lock, and a publication in between would skip 10 for good.
    """
    with transaction.atomic(savepoint=False):  # no savepoint inside the caller's transaction
        row = Change(kind=kind, at=at, country=country, thumbprint=thumbprint, scope=scope)
        change = dbwrite.insert_after(row, _increment(at))  # one round trip on PostgreSQL
        if change is None:
            try:
                with transaction.atomic():  # the first change ever (or since a test flushed the table)
                    TrustState.objects.create(pk=STATE_ID, version=1, changed_at=at)
            except IntegrityError:  # created meanwhile by a transaction that has committed since
                dbwrite.execute(*_increment(at))
            change = dbwrite.insert(row)
    transaction.on_commit(lambda: change_committed.send(sender=Change, change_id=change.pk))
    return change


def _increment(at: dt.datetime) -> dbwrite.Statement:
    """The trust state's version goes up by one; the UPDATE locks its row until the commit."""
    changed_at = TrustState._meta.get_field("changed_at").get_db_prep_save(at, connection)  # noqa: SLF001
    return (
        'UPDATE "outbox_truststate" SET "version" = "version" + 1, "changed_at" = %s WHERE "id" = %s',
        [changed_at, STATE_ID],
    )


def trust_state_version() -> int:
    state = TrustState.objects.filter(pk=STATE_ID).values_list("version", flat=True).first()
    return state or 0
