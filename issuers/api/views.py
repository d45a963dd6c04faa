"""``GET /trustList/issuers`` (DGCG and TNG): the trusted issuers, authenticated as every trust
list download is, filtered by ``country``, ``domain`` (each repeated or comma-separated) and
``withFederation``; a strong ETag answers ``If-None-Match`` with 304 (docs/api.md)."""

from __future__ import annotations

import hashlib
import json

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from countries.identity import authenticate
from gateway.api import CACHE_CONTROL, PROBLEM_RESPONSES, bool_param, list_param
from gateway.conditional import none_match_hit
from gateway.pki.errors import Reason
from gateway.problems import validation_problem
from issuers import listing
from issuers.api.serializers import TrustedIssuerSerializer


class TrustedIssuersView(APIView):
    @extend_schema(
        operation_id="downloadTrustedIssuers",
        summary="Trusted issuers (HTTP and DID) whose trust-anchor signature verifies",
        parameters=[
            OpenApiParameter(
                "country", str, many=True, description="2-letter countries (case-insensitive): repeat or comma-separate"
            ),
            OpenApiParameter("domain", str, many=True, description="domains (e.g. DCC): repeat or comma-separate"),
            OpenApiParameter(
                "withFederation", bool, description="also issuers imported from peer gateways (with sourceGateway)"
            ),
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description="strong ETag of a response"),
        ],
        responses={200: TrustedIssuerSerializer(many=True), 304: None, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> HttpResponse:
        authenticate(request._request, at=timezone.now())  # noqa: SLF001
        countries = [_country(value) for value in list_param(request, "country")]
        domains = list_param(request, "domain")
        with_federation = bool_param(request, "withFederation")
        issuers = listing.served(countries=countries, domains=domains, with_federation=with_federation)
        body = json.dumps([listing.api_entry(issuer) for issuer in issuers], separators=(",", ":")).encode()
        etag = f'"{hashlib.sha256(body).hexdigest()}"'
        if none_match_hit(request.headers.get("If-None-Match", ""), etag):
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(body, content_type="application/json")
        response["ETag"] = etag
        response["Cache-Control"] = CACHE_CONTROL
        return response


def _country(value: str) -> str:
    """DGCG's 2-character countries (its @Size check, 400 0x001), upper-cased as /trustList's are."""
    if len(value) != 2 or not (value.isascii() and value.isalpha()):
        raise validation_problem(f"country {value[:8]!r} is not 2 letters", reason=Reason.INVALID_COUNTRY)
    return value.upper()
