"""Bounded request bodies.

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only against Content-Length; a chunked request
(no Content-Length, gunicorn sets ``wsgi.input_terminated``) would be read whole. We read at
most limit+1 bytes ourselves before any view runs, so every body is bounded however it is sent.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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
                    return _too_large("Content-Length is not a number", status=400, reason="BAD_CONTENT_LENGTH")
                if int(declared) > limit:
                    return _too_large(f"body of {declared} bytes exceeds the limit of {limit} bytes")
            data = request._stream.read(limit + 1)  # noqa: SLF001 - the only way to bound a chunked read
            if len(data) > limit:
                return _too_large(f"body exceeds the limit of {limit} bytes")
            request._body = data  # noqa: SLF001
            request._stream = io.BytesIO(data)  # noqa: SLF001
        return self.get_response(request)


def _too_large(details: str, *, status: int = 413, reason: str = "BODY_TOO_LARGE") -> HttpResponse:
    return Problem(
        status,
        "0x001",
        "Request body too large" if status == 413 else "Validation Error",
        details=details,
        reason=reason,
    ).response()
