"""The API's exception handler: the problem report (gateway.problems) and, for a refusal nothing
has recorded yet, its audit event (gateway.audit.refusals says which refusals are recorded)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
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
    record_request_refusal(request, response.status_code, response.data)
    return response


def record_request_refusal(request: HttpRequest, status: int, body: dict[str, Any], *, people: bool = False) -> bool:
    """Record the refusal of ``request`` (answered ``status`` with the problem ``body``) as a
    ``REQUEST`` event when someone is known to be asking: the client certificate it presented
    (authenticated or not yet), or, with ``people``, the person logged in to the admin. Anonymous
    refusals are not recorded (docs/audit.md, "Refusals"). Returns whether it was recorded."""
    identity = getattr(request, IDENTITY_ATTRIBUTE, None)
    thumb = identity.thumbprint if identity is not None else presented_thumbprint(request)
    asking: dict[str, str] = {}
    if thumb:
        asking = {"country": identity.country if identity is not None else "", "authentication_thumbprint": thumb}
    elif people and getattr(request, "user", None) is not None and request.user.is_authenticated:
        asking = {"actor": request.user.get_username()}
    if not asking:
        return False
    record_rejection(
        action=Action.REQUEST,
        at=timezone.now(),
        reason=body.get("reason", ""),
        details={
            "status": status,
            "code": body.get("code", ""),
            "method": request.method,
            "path": request.path[:200],
            "detail": str(body.get("details", ""))[:500],
        },
        **asking,
    )
    return True
