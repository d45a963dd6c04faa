"""DGCG's revocation-list API: ``/revocation-list`` (upload, list, delete), its delete alias and
``/revocation-list/{batchId}``. Each endpoint declares its role (DGCG's RevocationUploader,
RevocationListReader, RevocationDeleter). Authenticate, read the request, call a service, render."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from countries.identity import authenticate
from countries.models import Role
from countries.signed_requests import serve_signed
from gateway.api import (
    BODY_PROBLEM_RESPONSES,
    CACHE_CONTROL,
    CMS_REQUEST,
    PROBLEM_RESPONSES,
    CmsBodyAutoSchema,
    ProblemReportSerializer,
    if_modified_since,
)
from gateway.audit.models import Action
from gateway.pki.errors import Reason
from revocation import batches, listing, services
from revocation.api.problems import request_problem, revocation_problem
from revocation.models import RevocationBatch

_CHANGE_RESPONSES = {403: ProblemReportSerializer, 404: ProblemReportSerializer, 410: ProblemReportSerializer}
SINCE = OpenApiParameter(
    "If-Modified-Since",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="ISO 8601: batches changed after it (the last item's date pages on)",
)


class RevocationListView(APIView):
    """``POST`` uploads a batch, ``GET`` lists batches changed since a moment, ``DELETE`` deletes one."""

    parser_classes: list[Any] = []
    schema = CmsBodyAutoSchema()

    @extend_schema(
        operation_id="uploadRevocationBatch",
        summary="Upload a revocation batch: base64 of an attached CMS over the batch JSON, by an UPLOAD key",
        request=CMS_REQUEST,
        responses={201: None, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        batch = serve_signed(
            request,
            action=Action.REVOCATION_BATCH_UPLOAD,
            roles=[Role.REVOCATION_UPLOADER],
            parties=services.PARTIES,
            service=services.upload_batch,
            problem=revocation_problem,
        )
        response = HttpResponse(status=201)
        response["ETag"] = batch.batch_id  # DGCG's PR #145: the uploader deletes by it later
        return response

    @extend_schema(
        operation_id="downloadBatchList",
        summary="The batches changed after If-Modified-Since, oldest change first, 1,000 at most",
        parameters=[SINCE],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description='{"more": bool, "batches": [...]}'),
            204: None,
            **PROBLEM_RESPONSES,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        at = timezone.now()
        authenticate(request._request, at=at, roles=[Role.REVOCATION_LIST_READER])  # noqa: SLF001
        since = if_modified_since(request)
        if since is None:
            raise request_problem(
                400, "If-Modified-Since required", Reason.REVOCATION_SINCE_MISSING, "send If-Modified-Since"
            )
        if since > at:
            raise request_problem(
                400, "Invalid Date", Reason.REVOCATION_SINCE_FUTURE, "If-Modified-Since is in the future"
            )
        page, more = listing.page_after(since)
        if not page:
            return HttpResponse(status=204)
        response = HttpResponse(json.dumps(listing.render_page(page, more)), content_type="application/json")
        response["Cache-Control"] = CACHE_CONTROL
        return response

    @extend_schema(
        operation_id="deleteRevocationBatch",
        summary='Delete a batch (soft): the CMS\'s payload is {"batchId": ...}',
        request=CMS_REQUEST,
        responses={204: None, **_CHANGE_RESPONSES, **BODY_PROBLEM_RESPONSES},
    )
    def delete(self, request: Request) -> HttpResponse:
        return _delete(request)


class RevocationDeleteAliasView(APIView):
    parser_classes: list[Any] = []

    @extend_schema(
        operation_id="deleteRevocationBatchAlias",
        request=CMS_REQUEST,
        responses={204: None, **_CHANGE_RESPONSES, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        return _delete(request)


class RevocationBatchView(APIView):
    @extend_schema(
        operation_id="downloadBatch",
        summary="One batch: the base64 CMS as uploaded",
        responses={
            (200, "application/cms-text"): OpenApiResponse(OpenApiTypes.STR),
            404: ProblemReportSerializer,
            410: ProblemReportSerializer,
            **PROBLEM_RESPONSES,
        },
    )
    def get(self, request: Request, batch_id: str) -> HttpResponse:
        authenticate(request._request, at=timezone.now(), roles=[Role.REVOCATION_LIST_READER])  # noqa: SLF001
        if not batches.BATCH_ID.fullmatch(batch_id):
            raise request_problem(
                400, "Invalid JSON values", Reason.REVOCATION_BATCH_ID_INVALID, "batchId must be a lower-case UUID"
            )
        batch = RevocationBatch.objects.filter(batch_id=batch_id).only("batch_id", "deleted", "cms").first()
        if batch is None:
            raise request_problem(404, "Batch does not exist.", Reason.REVOCATION_BATCH_NOT_FOUND, batch_id)
        if batch.deleted:
            raise request_problem(410, "Batch already deleted.", Reason.REVOCATION_BATCH_DELETED, batch_id)
        response = HttpResponse(batch.cms, content_type="application/cms-text")
        response["ETag"] = batch.batch_id
        response["Cache-Control"] = CACHE_CONTROL
        return response


def _delete(request: Request) -> HttpResponse:
    serve_signed(
        request,
        action=Action.REVOCATION_BATCH_DELETE,
        roles=[Role.REVOCATION_DELETER],
        parties=services.PARTIES,
        service=services.delete_batch,
        problem=revocation_problem,
    )
    return HttpResponse(status=204)
