"""The DGCG/TNG-compatible HTTP API: authenticate, check the request's shape, call a service,
render. Wire details follow DGCG's and TNG's OpenAPI specifications
(eu-digital-green-certificates/dgc-gateway, WorldHealthOrganization/tng-gateway; docs/api.md)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from countries.identity import authenticate
from countries.uploaders import decode_signed_body
from gateway.api import (
    BODY_PROBLEM_RESPONSES,
    CACHE_CONTROL,
    CMS_REQUEST,
    PROBLEM_RESPONSES,
    CmsBodyAutoSchema,
    bool_param,
    cms_body,
    if_modified_since,
    list_param,
)
from gateway.audit.models import Action
from gateway.conditional import none_match_hit
from gateway.pki.errors import Reason, Rejected
from gateway.problems import Problem, validation_problem
from trustlist import rendering, services
from trustlist.api import problems
from trustlist.api.serializers import (
    ProblemReportSerializer,
    TrustedCertificateRequestSerializer,
    TrustedCertificateTrustListSerializer,
    TrustListEntrySerializer,
)


def _now() -> dt.datetime:
    return timezone.now()


class SignerCertificateView(APIView):
    """DGCG ``/signerCertificate``: upload (POST) and revoke (DELETE) a DSC."""

    parser_classes: list[Any] = []
    schema = CmsBodyAutoSchema()

    @extend_schema(
        operation_id="uploadSignerCertificate",
        summary="Upload a DSC: base64 of an attached CMS over its DER, signed with the country's UPLOAD key",
        request=CMS_REQUEST,
        responses={201: None, 409: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        at = _now()
        identity = authenticate(request._request, at=at, parties=services.UPLOAD_PARTIES)  # noqa: SLF001
        body = cms_body(request)
        try:
            services.upload_signer_certificate(
                identity=identity,
                cms_der=decode_signed_body(body, identity=identity, at=at, action=Action.UPLOAD),
                at=at,
            )
        except Rejected as exc:
            raise problems.recorded(problems.upload_problem(exc, identity)) from exc
        return HttpResponse(status=201)

    @extend_schema(
        operation_id="revokeSignerCertificate",
        summary="Revoke a DSC: the CMS wraps the DSC to revoke",
        request=CMS_REQUEST,
        responses={204: None, 404: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def delete(self, request: Request) -> HttpResponse:
        return _revoke(request)


class SignerCertificateDeleteAliasView(SignerCertificateView):
    """``POST /signerCertificate/delete``: DGCG's alias for clients that cannot send DELETE bodies."""

    http_method_names = ["post", "options"]

    @extend_schema(
        operation_id="revokeSignerCertificateAlias",
        summary="Alias of DELETE /signerCertificate",
        request=CMS_REQUEST,
        responses={204: None, 404: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        return _revoke(request)


class TrustedCertificateView(APIView):
    """TNG ``/trustedCertificate``: upload with group/domain/properties (JSON) and revoke (CMS)."""

    schema = CmsBodyAutoSchema()

    @extend_schema(
        operation_id="uploadTrustedCertificate",
        request=TrustedCertificateRequestSerializer,
        responses={201: None, 409: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        at = _now()
        identity = authenticate(request._request, at=at, parties=services.UPLOAD_PARTIES)  # noqa: SLF001
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise Problem(
                415,
                "0x001",
                "Unsupported Media Type",
                details="expected application/json",
                reason=Reason.UNSUPPORTED_MEDIA_TYPE,
            )
        serializer = TrustedCertificateRequestSerializer(data=request.data)
        if not serializer.is_valid():
            raise validation_problem(json.dumps(serializer.errors), reason=Reason.INVALID_REQUEST)
        data = serializer.validated_data
        options = services.UploadOptions(
            group=data.get("group") or "DSC",
            domain=data.get("domain") or settings.GATEWAY_TRUSTED_CERTIFICATE_DEFAULT_DOMAIN,
            properties=data.get("properties") or {},
            custom_kid=data.get("kid") or None,
        )
        try:
            cms_der = decode_signed_body(
                data["cms"].encode("ascii", "replace"), identity=identity, at=at, action=Action.UPLOAD
            )
            services.upload_signer_certificate(identity=identity, cms_der=cms_der, at=at, options=options)
        except Rejected as exc:
            raise problems.recorded(problems.tng_upload_problem(exc, identity)) from exc
        return HttpResponse(status=201)

    @extend_schema(
        operation_id="revokeTrustedCertificate",
        request=CMS_REQUEST,
        responses={204: None, 404: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def delete(self, request: Request) -> HttpResponse:
        return _revoke(request)


class TrustedCertificateDeleteAliasView(APIView):
    parser_classes: list[Any] = []

    @extend_schema(
        operation_id="revokeTrustedCertificateAlias",
        request=CMS_REQUEST,
        responses={204: None, 404: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        return _revoke(request)


def _revoke(request: Request) -> HttpResponse:
    """DGCG's revoke, shared by DELETE /signerCertificate, /trustedCertificate and their aliases."""
    at = _now()
    identity = authenticate(request._request, at=at, parties=services.REVOKE_PARTIES)  # noqa: SLF001
    body = cms_body(request)
    try:
        services.revoke_signer_certificate(
            identity=identity,
            cms_der=decode_signed_body(body, identity=identity, at=at, action=Action.REVOKE),
            at=at,
        )
    except Rejected as exc:
        raise problems.recorded(problems.revoke_problem(exc, identity)) from exc
    return HttpResponse(status=204)


# --- downloads ---------------------------------------------------------------------------------

PAGE_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 0}, description="0-based page (DGCG)"),
    OpenApiParameter(
        "pagesize", {"type": "integer", "minimum": 1}, description="entries per page, default 100 when page is given"
    ),
    OpenApiParameter(
        "If-Modified-Since",
        str,
        OpenApiParameter.HEADER,
        description="ISO 8601 or RFC 1123: delta mode, revoked DSCs included with rawData null",
    ),
    OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description="strong ETag of a previous response"),
]


class TrustListView(APIView):
    """DGCG ``GET /trustList[/{type}[/{country}]]``."""

    @extend_schema(
        operation_id="downloadTrustList",
        parameters=PAGE_PARAMETERS,
        responses={200: TrustListEntrySerializer(many=True), 304: None, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, certificate_type: str | None = None, country: str | None = None) -> HttpResponse:
        at = _now()
        authenticate(request._request, at=at)  # noqa: SLF001
        if certificate_type is not None:
            certificate_type = certificate_type.upper()
            if certificate_type not in rendering.CLASSIC_TYPES:
                raise validation_problem(f"unknown certificate type {certificate_type}", reason=Reason.INVALID_TYPE)
        if country is not None:
            if len(country) != 2 or not (country.isascii() and country.isalpha()):
                raise validation_problem("country must be 2 letters", reason=Reason.INVALID_COUNTRY)
            country = country.upper()
        page, pagesize = _paging(request)
        since = if_modified_since(request)
        if since is not None:
            body = rendering.classic(certificate_type, country, since).body(page, pagesize)
            return _json(body)
        slot = rendering.cached(
            ("classic", certificate_type, country), lambda: rendering.classic(certificate_type, country)
        )
        return _conditional(request, slot, page, pagesize)


TYPE_PARAMETER = OpenApiParameter(
    "certificate_type",
    {"type": "string", "enum": sorted(rendering.CLASSIC_TYPES)},
    OpenApiParameter.PATH,
    description="certificate type (case-insensitive)",
)
COUNTRY_PARAMETER = OpenApiParameter(
    "country",
    {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    OpenApiParameter.PATH,
    description="ISO 3166-1 alpha-2 code or a virtual country (case-insensitive)",
)


class TrustListByTypeView(TrustListView):
    @extend_schema(
        operation_id="downloadTrustListByType",
        parameters=[TYPE_PARAMETER, *PAGE_PARAMETERS],
        responses={200: TrustListEntrySerializer(many=True), 304: None, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, certificate_type: str | None = None, country: str | None = None) -> HttpResponse:
        return super().get(request, certificate_type, country)


class TrustListByTypeAndCountryView(TrustListView):
    @extend_schema(
        operation_id="downloadTrustListByTypeAndCountry",
        parameters=[TYPE_PARAMETER, COUNTRY_PARAMETER, *PAGE_PARAMETERS],
        responses={200: TrustListEntrySerializer(many=True), 304: None, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, certificate_type: str | None = None, country: str | None = None) -> HttpResponse:
        return super().get(request, certificate_type, country)


class TngTrustListView(APIView):
    """TNG ``GET /trustList/certificate``."""

    @extend_schema(
        operation_id="downloadTrustedCertificates",
        parameters=[
            OpenApiParameter("group", str, many=True),
            OpenApiParameter("country", str, many=True),
            OpenApiParameter("domain", str, many=True),
            OpenApiParameter("withFederation", bool),
        ],
        responses={200: TrustedCertificateTrustListSerializer(many=True), 304: None, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> HttpResponse:
        at = _now()
        authenticate(request._request, at=at)  # noqa: SLF001
        groups, countries, domains = (list_param(request, name) for name in ("group", "country", "domain"))
        with_federation = bool_param(request, "withFederation")
        key = ("tng", tuple(groups), tuple(countries), tuple(domains), with_federation)
        slot = rendering.cached(key, lambda: rendering.tng_certificates(groups, countries, domains, with_federation))
        return _conditional(request, slot, None, None)


class CountryListView(APIView):
    @extend_schema(
        operation_id="downloadCountryList",
        responses={200: serializers.ListSerializer(child=serializers.CharField()), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> HttpResponse:
        authenticate(request._request, at=_now())  # noqa: SLF001
        return _json(json.dumps(rendering.country_list()).encode())


def _json(body: bytes, status: int = 200) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Cache-Control"] = CACHE_CONTROL
    return response


def _conditional(request: Request, slot: Any, page: int | None, pagesize: int | None) -> HttpResponse:
    if page is None:
        body, etag = rendering.full_body_and_etag(slot)
    else:
        body = slot.rendered.body(page, pagesize)
        etag = None
    if etag is not None and none_match_hit(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
        response["ETag"] = etag
        response["Cache-Control"] = CACHE_CONTROL
        return response
    response = _json(body)
    if etag is not None:
        response["ETag"] = etag
    return response


def _paging(request: Request) -> tuple[int | None, int | None]:
    raw_page, raw_size = request.query_params.get("page"), request.query_params.get("pagesize")
    if raw_page is None and raw_size is None:
        return None, None
    try:
        page = int(raw_page) if raw_page is not None else 0
        size = int(raw_size) if raw_size is not None else 100
    except ValueError as exc:
        raise validation_problem("page and pagesize must be integers", reason=Reason.INVALID_PAGING) from exc
    if page < 0 or size < 1:
        raise validation_problem("page must be >= 0 and pagesize >= 1", reason=Reason.INVALID_PAGING)
    return page, size
