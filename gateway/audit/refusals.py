"""The one path by which the gateway's refusals of a request reach the audit log.

Which refusals are recorded (docs/audit.md, "Refusals"):
- the checks of a service record their own refusal with what they know (uploader, subject)
  before it becomes a problem report;
- authentication refusals (countries.identity), a body refused before any view runs (too large,
  bad Content-Length), and a person refused the audit log's leaves go through :func:`refuse`;
- every other problem of the API (media type, request shape, paging, method) is recorded by the
  API's exception handler (countries.refusals) when the request presented a client certificate.
Requests that present none and are refused for their shape, and anonymous reads of public files,
are not: nginx rate-limits per client certificate, so an anonymous flood must not grow the log.

A problem whose event was written is marked ``audited``, so no refusal is recorded twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.audit.models import Action
from gateway.audit.services import record_rejection
from gateway.pki.errors import Rejected
from gateway.problems import Problem


def refuse(
    problem: Problem, *, action: Action, at: dt.datetime, details: dict[str, Any] | None = None, **event: str
) -> Problem:
    """Record ``problem`` as a refusal under its reason (``details`` default to its code) and return
    it marked as recorded. ``event``: the audit event's other fields (country, thumbprints, actor)."""
    record_rejection(
        action=action,
        at=at,
        reason=problem.reason,
        details={"code": problem.code} if details is None else details,
        **event,
    )
    problem.audited = True
    return problem


def record_refused(exc: Rejected, *, action: Action, at: dt.datetime, **event: Any) -> None:
    """Record a service's refusal under its named reason, with its detail among ``details``;
    ``event``: the audit event's other fields (country, actor, thumbprints, details)."""
    details = {**event.pop("details", {}), "detail": exc.detail}
    record_rejection(action=action, at=at, reason=exc.reason, details=details, **event)
