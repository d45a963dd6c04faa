"""What every room's DGCG-style API shares: the problem report's wire shape and the responses
each kind of endpoint documents (OpenAPI), and reading a CMS request body (DGCG sends base64 text
as ``application/cms`` or ``application/cms-text``; DELETE carries one too)."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request

from gateway.pki.errors import Reason
from gateway.problems import Problem, validation_problem


class ProblemReportSerializer(serializers.Serializer):
    code = serializers.CharField()
    problem = serializers.CharField()
    sendValue = serializers.CharField()  # noqa: N815 - DGCG's field name
    details = serializers.CharField()
    reason = serializers.CharField(required=False, help_text="stable name of the failed check (extension)")


CMS_CONTENT_TYPES = ("application/cms", "application/cms-text")
CACHE_CONTROL = "private, no-cache"  # authenticated content: revalidate with If-None-Match

# 414 and 429 come from the servers in front of the application, as their own HTML pages: an
# over-long request line (gunicorn's limit_request_line or nginx's header buffers) and the
# per-client-certificate rate limit (nginx limit_req, docs/identity.md).
PROBLEM_RESPONSES = {
    400: OpenApiResponse(ProblemReportSerializer, description="Invalid request (named reason)"),
    401: OpenApiResponse(ProblemReportSerializer, description="No or unknown client certificate (0x400/0x402)"),
    403: OpenApiResponse(ProblemReportSerializer, description="Missing role (0x403)"),
    (414, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="URI too long (the servers in front)"),
    (429, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="Rate limit per client certificate (nginx)"),
}
# Requests with a body: a body over GATEWAY_MAX_BODY_BYTES is refused before anything else, by
# the gateway (a problem report, BODY_TOO_LARGE) or by the TLS terminator in front of it, whose
# limit (nginx client_max_body_size) is the same and which answers with its own HTML page; a
# body of another media type is refused with 415 (UNSUPPORTED_MEDIA_TYPE).
BODY_PROBLEM_RESPONSES = {
    **PROBLEM_RESPONSES,
    (413, "application/json"): OpenApiResponse(ProblemReportSerializer, description="Body too large"),
    (413, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="Body too large (the TLS terminator)"),
    415: OpenApiResponse(ProblemReportSerializer, description="Unsupported media type"),
}


def cms_body(request: Request) -> bytes:
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type not in CMS_CONTENT_TYPES:
        raise Problem(
            415,
            "0x001",
            "Unsupported Media Type",
            details=f"expected one of {', '.join(CMS_CONTENT_TYPES)}",
            reason=Reason.UNSUPPORTED_MEDIA_TYPE,
        )
    return request._request.body  # noqa: SLF001 - raw bytes, already bounded by BoundedBodyMiddleware


CMS_REQUEST = {"application/cms": OpenApiTypes.STR, "application/cms-text": OpenApiTypes.STR}


class CmsBodyAutoSchema(AutoSchema):
    """DGCG revokes with ``DELETE`` and a CMS body, which drf-spectacular leaves out of the schema
    (it documents bodies of POST, PUT and PATCH only): document the body clients must send."""

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        body = super()._get_request_body(direction)
        if body is None and self.method == "DELETE":
            return {
                "content": {media_type: {"schema": {"type": "string"}} for media_type in CMS_CONTENT_TYPES},
                "required": True,
            }
        return body


def if_modified_since(request: Request) -> dt.datetime | None:
    """The ``If-Modified-Since`` header: ISO 8601 as DGCG parses it (its revocation list pages by
    the last item's ``date``, with its fraction of a second), and RFC 1123 as its OpenAPI examples
    show (RFC 9110 §13.1.3). A time without an offset is UTC; an unreadable one is INVALID_DATE."""
    raw = request.headers.get("If-Modified-Since")
    if raw is None:
        return None
    value: dt.datetime | None
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        try:
            value = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            value = None
    if value is None:
        raise validation_problem(f"unparsable If-Modified-Since {raw!r}", reason=Reason.INVALID_DATE)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def list_param(request: Request, name: str) -> list[str]:
    """A TNG list parameter: repeated (``?country=XA&country=XB``) or comma-separated
    (``?country=XA,XB``), blanks dropped."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        # The values are compared with database columns: a NUL, which PostgreSQL cannot hold in
        # text, made the query fail with a 500; no control character belongs in a filter value.
        if not raw.isprintable():
            raise validation_problem(f"{name} must not contain control characters", reason=Reason.INVALID_PARAMETER)
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def bool_param(request: Request, name: str) -> bool:
    """A boolean parameter (TNG's ``withFederation``): true or false, default false."""
    raw = request.query_params.get(name, "false").strip().lower()
    if raw not in ("true", "false"):
        raise validation_problem(f"{name} must be true or false", reason=Reason.INVALID_PARAMETER)
    return raw == "true"
