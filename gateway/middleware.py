"""Bounded request bodies.

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only against Content-Length, and reads nothing of a
chunked request (no Content-Length; gunicorn marks its input ``wsgi.input_terminated``). We
read at most limit+1 bytes ourselves before any view runs, from the server's own stream for
chunked requests, so every body is bounded however it is sent, and chunked uploads work.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from gateway.audit import refusals
from gateway.audit.models import Action
from gateway.pki.errors import Reason
from gateway.problems import Problem

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BoundedBodyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in _BODY_METHODS:
            limit = settings.GATEWAY_MAX_BODY_BYTES
            declared = request.META.get("CONTENT_LENGTH") or ""
            if declared:
                if not declared.isdigit():
                    return _refuse(400, "Content-Length is not a number", Reason.BAD_CONTENT_LENGTH)
                if int(declared) > limit:
                    return _refuse(
                        413, f"body of {declared} bytes exceeds the limit of {limit} bytes", Reason.BODY_TOO_LARGE
                    )
                stream = request._stream  # noqa: SLF001 - Django's stream, limited to Content-Length
            elif request.META.get("wsgi.input_terminated"):
                stream = request.META["wsgi.input"]  # chunked: the server ends the stream at the last chunk
            else:
                stream = io.BytesIO()
            data = stream.read(limit + 1)
            if len(data) > limit:
                return _refuse(413, f"body exceeds the limit of {limit} bytes", Reason.BODY_TOO_LARGE)
            request._body = data  # noqa: SLF001
            request._stream = io.BytesIO(data)  # noqa: SLF001
        return self.get_response(request)


def _refuse(status: int, details: str, reason: str) -> HttpResponse:
    # Refused before authentication, so the event names no country; it is still recorded.
    problem = Problem(
        status,
        "0x001",
        "Request body too large" if status == 413 else "Validation Error",
        details=details,
        reason=reason,
    )
    return refusals.refuse(problem, action=Action.REQUEST, at=timezone.now(), details={"detail": details}).response()
