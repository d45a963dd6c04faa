"""The DGCG problem report ``{code, problem, sendValue, details}`` and its mapping.

Every error the API returns goes through :class:`Problem`. We add one field, ``reason``: the
stable name of the failed check (see gateway.pki.errors.Reason), so that clients and auditors
need not parse the human text. Clients that only know the DGCG fields ignore it.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from gateway.pki.errors import Reason

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait when the database is unavailable (a restart or a failover).
RETRY_AFTER_SECONDS = 5


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        problem: str,
        *,
        send_value: str = "",
        details: str = "",
        reason: str = "",
        audited: bool = False,
    ) -> None:
        super().__init__(f"{status} {code} {problem}")
        # True once the refusal's audit event is written (gateway.audit.refusals), so the
        # exception handler does not record it a second time.
        self.audited = audited
        self.status = status
        self.code = code
        self.problem = problem
        # Echoed input (a field name, a DN) may hold a lone surrogate, which no UTF-8 body can
        # carry: it is sent as its backslash escape.
        self.send_value = _sendable(send_value)
        self.details = _sendable(details)
        self.reason = str(reason)  # plain text in every renderer (DRF's YAML one knows no enums)

    def body(self) -> dict[str, str]:
        body = {"code": self.code, "problem": self.problem, "sendValue": self.send_value, "details": self.details}
        if self.reason:
            body["reason"] = self.reason
        return body

    def response(self) -> HttpResponse:
        return HttpResponse(json.dumps(self.body()), status=self.status, content_type="application/json")


def _sendable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def unavailable_problem() -> Problem:
    """The database cannot be reached: nothing was stored (or, if the connection broke during
    the commit, the identical retry is answered 409), so the client retries later."""
    return Problem(
        503,
        "0x008",
        "Service Unavailable",
        details=f"the database is unavailable; retry in {RETRY_AFTER_SECONDS} seconds",
        reason=Reason.DATABASE_UNAVAILABLE,
    )


def validation_problem(details: str, *, reason: str = "VALIDATION") -> Problem:
    return Problem(400, "0x001", "Validation Error", details=details, reason=reason)


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Problem):
        return Response(exc.body(), status=exc.status)
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc)
        return Response(unavailable_problem().body(), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return Response(
            Problem(
                415, "0x001", "Unsupported Media Type", details=str(exc.detail), reason=Reason.UNSUPPORTED_MEDIA_TYPE
            ).body(),
            status=415,
        )
    if isinstance(exc, drf_exceptions.ParseError):
        return Response(validation_problem(str(exc.detail), reason=Reason.MALFORMED_BODY).body(), status=400)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return Response(
            Problem(
                405, "0x001", "Method Not Allowed", details=str(exc.detail), reason=Reason.METHOD_NOT_ALLOWED
            ).body(),
            status=405,
        )
    if isinstance(exc, drf_exceptions.APIException):
        return Response(
            Problem(
                exc.status_code, "0x001", "Request Error", details=str(exc.detail), reason=Reason.REQUEST_ERROR
            ).body(),
            status=exc.status_code,
        )
    return None


def for_people(request: HttpRequest) -> bool:
    """Is ``request`` for the admin? People there are answered with a page, not the API's
    problem report."""
    return request.path.startswith(reverse("admin:index"))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if for_people(request):
        # The page says as little as the JSON does (another country's object and a missing one
        # read the same).
        return render(request, "404.html", status=404)
    return Problem(404, "0x001", "Not Found", details=request.path, reason=Reason.NO_SUCH_ENDPOINT).response()


def handler500(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, outside DRF's views too (middleware).
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        response = unavailable_problem().response()
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    logger.error("internal error on %s", request.path)
    return Problem(500, "0x008", "Internal Server Error", reason=Reason.INTERNAL_ERROR).response()


def recorded(problem: Problem) -> Problem:
    """Mark the problem of a refusal whose audit event a service already wrote, so that the API's
    exception handler (countries.refusals) does not record it again."""
    problem.audited = True
    return problem
