"""The one place that writes audit events: each becomes the next leaf of the Merkle log (gateway.audit.log)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import transaction

from gateway.audit import log
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.observability import metrics


def record_event(
    *,
    action: Action,
    outcome: Outcome,
    at: dt.datetime,
    country: str = "",
    reason: str = "",
    actor: str = "",
    authentication_thumbprint: str = "",
    uploader_thumbprint: str = "",
    subject_thumbprint: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the Merkle log in the caller's transaction (success) or on its own
    (rejection). The only writer of audit events, so also where the metrics count them."""
    metrics.count_event(action=str(action), outcome=str(outcome), country=country[:2], reason=str(reason)[:64])
    return log.append(
        {
            "at": at,
            "action": str(action),
            "outcome": str(outcome),
            "country": country[:2],
            "reason": str(reason)[:64],
            "actor": actor[:255],
            "authentication_thumbprint": authentication_thumbprint[:64],
            "uploader_thumbprint": uploader_thumbprint[:64],
            "subject_thumbprint": subject_thumbprint[:64],
            # PostgreSQL's jsonb cannot hold U+0000, which a refused request's path or text may
            # carry: it is kept as the six characters of its escape instead.
            "details": json.loads(json.dumps(details or {}, default=str).replace("\\u0000", "\\\\u0000")),
        }
    )


def record_rejection(**kwargs: Any) -> AuditEvent:
    """Record a refusal. Runs after the failed work rolled back, in a transaction of its own,
    so that the event survives while nothing of the refused change does."""
    with transaction.atomic():
        return record_event(outcome=Outcome.REJECTED, **kwargs)
