"""The one path by which the gateway's refusals of a request reach the audit log.

Which refusals are recorded (docs/audit.md, "Refusals"):
- every problem report of the API (all its endpoints authenticate the client): the checks of a
  service record their own refusal with what they know (uploader, subject) before it becomes a
  problem report, and every other problem (authentication, media type, request shape, paging,
  method) is recorded here, by :func:`exception_handler`, with the client's country and
  certificate when it was authenticated;
- a body refused before any view runs (too large, bad Content-Length);
- a person refused the audit log's leaves.
Anonymous reads of public files (``/publication/``, the audit checkpoint and proofs, health,
metrics) are not: a missing file is no act of a client, and recording every such request would let
anyone grow the log at will.

A problem whose event was written is marked ``audited``, so no refusal is recorded twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework.response import Response

from gateway import problems
from gateway.audit.models import Action
from gateway.audit.services import record_rejection
from gateway.problems import Problem

# Set by countries.identity.authenticate on the request it authenticated (a ClientIdentity).
IDENTITY_ATTRIBUTE = "gateway_identity"


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


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler: the problem report (gateway.problems), and its audit event for
    a refusal nothing recorded yet. Server errors (5xx) are not refusals: they are logged."""
    response = problems.drf_exception_handler(exc, context)
    if response is None or not 400 <= response.status_code < 500 or getattr(exc, "audited", False):
        return response
    request = context["request"]
    identity = getattr(request._request, IDENTITY_ATTRIBUTE, None)  # noqa: SLF001 - Django's request
    body = response.data
    record_rejection(
        action=Action.REQUEST,
        at=timezone.now(),
        reason=body.get("reason", ""),
        country=getattr(identity, "country", ""),
        authentication_thumbprint=getattr(identity, "thumbprint", ""),
        details={
            "status": response.status_code,
            "code": body.get("code", ""),
            "method": request.method,
            "path": request.path[:200],
            "detail": str(body.get("details", ""))[:500],
        },
    )
    return response
