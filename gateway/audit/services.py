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
            "country": storable(country[:2]),
            "reason": storable(str(reason)[:64]),
            "actor": storable(actor[:255]),
            "authentication_thumbprint": authentication_thumbprint[:64],
            "uploader_thumbprint": uploader_thumbprint[:64],
            "subject_thumbprint": subject_thumbprint[:64],
            "details": _storable_tree(json.loads(json.dumps(details or {}, default=str))),
        }
    )


def storable(text: str) -> str:
    """``text`` as the log can keep it: a refused request's path, header or field may carry a NUL,
    which PostgreSQL's text and jsonb cannot hold (shown as U+2400 SYMBOL FOR NULL), or a lone
    surrogate, which UTF-8 cannot encode (kept as its backslash escape)."""
    return text.replace("\x00", "\u2400").encode("utf-8", "backslashreplace").decode("utf-8")


def _storable_tree(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(key): _storable_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable_tree(item) for item in value]
    return value


def record_rejection(**kwargs: Any) -> AuditEvent:
    """Record a refusal. Runs after the failed work rolled back, in a transaction of its own,
    so that the event survives while nothing of the refused change does."""
    with transaction.atomic():
        return record_event(outcome=Outcome.REJECTED, **kwargs)
