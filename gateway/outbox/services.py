"""Writing the outbox and reading the trust state version."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F

from gateway.outbox.models import Change, TrustState
from gateway.outbox.signals import change_committed

STATE_ID = 1


def record_change(*, kind: str, at: dt.datetime, country: str = "", thumbprint: str = "") -> Change:
    """Call inside the transaction that changes trust state, as its last write: the state row
    is locked from here to the commit, so keeping this last keeps the lock short."""
    change = Change.objects.create(kind=kind, at=at, country=country, thumbprint=thumbprint)
    transaction.on_commit(lambda: change_committed.send(sender=Change, change_id=change.pk))
    updated = TrustState.objects.filter(pk=STATE_ID).update(version=F("version") + 1, changed_at=at)
    if not updated:
        TrustState.objects.create(pk=STATE_ID, version=1, changed_at=at)
    return change


def trust_state_version() -> int:
    state = TrustState.objects.filter(pk=STATE_ID).values_list("version", flat=True).first()
    return state or 0
