"""DGCG's ``/cms-migration``: ``GET`` lists what the caller's country has stored, each entity with
the CMS that carries it; ``POST`` replaces one entity's CMS by a new one over the same payload,
signed with a (renewed) UPLOAD key of the country. Authenticate, read the request, call the
service, render (docs/api.md, "CMS migration")."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.views import APIView

from countries.identity import authenticate
from gateway.api import BODY_PROBLEM_RESPONSES, CACHE_CONTROL, PROBLEM_RESPONSES, ProblemReportSerializer
from gateway.pki.errors import Rejected
from gateway.problems import recorded, validation_problem
from migration import services
from migration.problems import migration_problem


class CmsPackageSerializer(serializers.Serializer):
    """DGCG's CmsPackageDto (for the schema; requests are read by ``services.parse_request``)."""

    cms = serializers.CharField(help_text="base64 of an attached CMS over the entity's payload, by an UPLOAD key")
    entityId = serializers.IntegerField(min_value=1)  # noqa: N815 - DGCG's field name
    type = serializers.ChoiceField([str(member) for member in services.EntityType])


class CmsMigrationView(APIView):
    parser_classes: list[Any] = [JSONParser]

    @extend_schema(
        operation_id="getCmsPackages",
        summary="The caller's country's DSCs, revocation batches and rules, each with the CMS that carries it",
        responses={200: CmsPackageSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> HttpResponse:
        identity = authenticate(request._request, at=timezone.now())  # noqa: SLF001
        body = json.dumps([package.wire() for package in services.packages(identity.country)])
        response = HttpResponse(body, content_type="application/json")
        response["Cache-Control"] = CACHE_CONTROL
        return response

    @extend_schema(
        operation_id="updateCmsPackage",
        summary="Replace one entity's CMS by a new one over the same payload, signed by an UPLOAD key of the country",
        request=CmsPackageSerializer,
        responses={204: None, 409: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        at = timezone.now()
        identity = authenticate(request._request, at=at, parties=services.PARTIES)  # noqa: SLF001
        try:
            package = services.parse_request(request.data)
        except Rejected as exc:
            raise validation_problem(exc.detail, reason=exc.reason) from exc
        try:
            services.migrate(identity=identity, request=package, at=at)
        except Rejected as exc:
            problem = migration_problem(
                exc, entity_type=package.type, entity_id=package.entity_id, country=identity.country
            )
            raise recorded(problem) from exc
        return HttpResponse(status=204)
