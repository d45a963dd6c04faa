"""DGCG's rules and value-set API: ``/rules`` (upload, delete, download by country) and
``/valuesets`` (ids, one set). Authenticate, read the request, call a service, render."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from countries.identity import authenticate
from countries.signed_requests import serve_signed
from gateway.api import (
    BODY_PROBLEM_RESPONSES,
    CACHE_CONTROL,
    CMS_REQUEST,
    PROBLEM_RESPONSES,
    CmsBodyAutoSchema,
    ProblemReportSerializer,
)
from gateway.audit.models import Action
from gateway.pki.errors import Reason
from gateway.problems import Problem
from rules import rendering, services
from rules.api.problems import rule_problem


class RulesView(APIView):
    """``POST /rules`` uploads a rule version, ``DELETE /rules`` deletes every version of one."""

    parser_classes: list[Any] = []
    schema = CmsBodyAutoSchema()

    @extend_schema(
        operation_id="uploadValidationRule",
        summary="Upload a rule version: base64 of an attached CMS over the rule JSON, by an UPLOAD key",
        request=CMS_REQUEST,
        responses={201: None, 403: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        return _upload(request)

    @extend_schema(
        operation_id="deleteValidationRules",
        summary="Delete every version of a rule: the CMS's payload is the rule identifier",
        request=CMS_REQUEST,
        responses={204: None, 403: ProblemReportSerializer, 404: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def delete(self, request: Request) -> HttpResponse:
        return _delete(request)


class RulesDeleteAliasView(APIView):
    parser_classes: list[Any] = []

    @extend_schema(
        operation_id="deleteValidationRulesAlias",
        request=CMS_REQUEST,
        responses={204: None, 403: ProblemReportSerializer, 404: ProblemReportSerializer, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        return _delete(request)


class RulesOfCountryView(APIView):
    @extend_schema(
        operation_id="downloadValidationRules",
        summary="A country's rules: per identifier, the version valid now and those still to come",
        responses={200: OpenApiTypes.OBJECT, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, country: str) -> HttpResponse:
        at = timezone.now()
        authenticate(request._request, at=at)  # noqa: SLF001 - any country's backend may read any country's
        return _json(json.dumps(rendering.rules_of(country, at)).encode())


class ValueSetsView(APIView):
    @extend_schema(
        operation_id="downloadValueSetIds",
        responses={200: serializers.ListSerializer(child=serializers.CharField()), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> HttpResponse:
        authenticate(request._request, at=timezone.now())  # noqa: SLF001
        return _json(json.dumps(rendering.value_set_ids()).encode())


class ValueSetView(APIView):
    @extend_schema(
        operation_id="downloadValueSet",
        responses={200: OpenApiTypes.OBJECT, 404: ProblemReportSerializer, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, value_set_id: str) -> HttpResponse:
        authenticate(request._request, at=timezone.now())  # noqa: SLF001
        document = rendering.value_set(value_set_id)
        if document is None:
            raise Problem(
                404, "0x100", "Valueset not found", details=value_set_id[:64], reason=Reason.VALUESET_NOT_FOUND
            )
        return _json(document.encode("utf-8"))


def _upload(request: Request) -> HttpResponse:
    serve_signed(
        request, action=Action.RULE_UPLOAD, parties=services.PARTIES, service=services.upload_rule, problem=rule_problem
    )
    return HttpResponse(status=201)


def _delete(request: Request) -> HttpResponse:
    serve_signed(
        request, action=Action.RULE_DELETE, parties=services.PARTIES, service=services.delete_rule, problem=rule_problem
    )
    return HttpResponse(status=204)


def _json(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = CACHE_CONTROL
    return response
