"""The API's exception handler: the problem report (gateway.problems) and, for a refusal nothing
has recorded yet, its audit event (gateway.audit.refusals says which refusals are recorded)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.response import Response

from countries.identity import IDENTITY_ATTRIBUTE, presented_thumbprint
from gateway import problems
from gateway.audit.models import Action
from gateway.audit.services import record_rejection


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Server errors (5xx) are not refusals: they are logged. A refusal of a request that presented
    no client certificate is not recorded (nginx limits it per address only: docs/audit.md)."""
    response = problems.drf_exception_handler(exc, context)
    if response is None or not 400 <= response.status_code < 500 or getattr(exc, "audited", False):
        return response
    request = context["request"]._request  # noqa: SLF001 - Django's request under DRF's
    identity = getattr(request, IDENTITY_ATTRIBUTE, None)
    thumb = identity.thumbprint if identity is not None else presented_thumbprint(request)
    if not thumb:
        return response
    body = response.data
    record_rejection(
        action=Action.REQUEST,
        at=timezone.now(),
        reason=body.get("reason", ""),
        country=identity.country if identity is not None else "",
        authentication_thumbprint=thumb,
        details={
            "status": response.status_code,
            "code": body.get("code", ""),
            "method": request.method,
            "path": request.path[:200],
            "detail": str(body.get("details", ""))[:500],
        },
    )
    return response
