"""TNG's trusted-reference API: ``/trust/reference`` (upload or update, delete),
``/trust/reference/{uuid}`` and ``/trustList/references``. As in TNG, every route needs an
onboarded AUTHENTICATION certificate and no role; an upload or a deletion is also signed by one of
the country's UPLOAD certificates. Authenticate, read the request, call a service, render."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
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
    bool_param,
    list_param,
)
from gateway.audit.models import Action
from gateway.pki.errors import Reason
from gateway.problems import validation_problem
from references import checks, listing, services
from references.api.problems import not_found_problem, reference_problem
from references.models import TrustedReference


class TrustedReferenceSerializer(serializers.Serializer):
    """TNG's TrustedReferenceDto with its federation fields, and ``signature`` (ours)."""

    uuid = serializers.UUIDField()
    domain = serializers.CharField()
    version = serializers.IntegerField(help_text="1, then one more for every update (TNG: always 1)")
    country = serializers.CharField()
    type = serializers.ChoiceField(checks.ReferenceType.values)
    url = serializers.CharField()
    service = serializers.CharField()
    thumbprint = serializers.CharField()
    name = serializers.CharField()
    sslPublicKey = serializers.CharField()  # noqa: N815 - TNG's field name
    contentType = serializers.CharField()  # noqa: N815
    signatureType = serializers.ChoiceField(checks.SignatureType.values)  # noqa: N815
    referenceVersion = serializers.CharField(allow_blank=True)  # noqa: N815
    signature = serializers.CharField(
        help_text="base64 of the attached CMS the country's UPLOAD key signed: its payload is the reference as "
        "uploaded (extension: TNG keeps no CMS)"
    )
    sourceGateway = serializers.CharField(required=False, help_text="only for a federated reference (none here)")  # noqa: N815


PAYLOAD = (
    "base64 of an attached CMS, signed by one of the country's UPLOAD keys, over the JSON of TNG's "
    "TrustedReferenceDto: url (http or https, 1-100), country (the caller's), type (DCC|FHIR), service (1-1024), "
    "thumbprint (hex, 1-64), name (1-512), sslPublicKey (1-2048), contentType (1-512), signatureType "
    "(CMS|JWS|NONE), referenceVersion (0-64), optional domain (default DDCC) and optional uuid (the caller's "
    "reference this replaces)."
)
_CHANGE_RESPONSES = {403: ProblemReportSerializer, 404: ProblemReportSerializer}
_LIST_PARAMETERS = [
    OpenApiParameter("country", str, many=True, description="two-letter country codes"),
    OpenApiParameter("domain", str, many=True),
    OpenApiParameter("referenceType", str, many=True, description="DCC, FHIR"),
    OpenApiParameter("signatureType", str, many=True, description="CMS, JWS, NONE"),
    OpenApiParameter("withFederation", bool, description="accepted; no reference here is federated"),
]


class TrustedReferenceView(APIView):
    """``POST`` uploads or updates a reference, ``DELETE`` deletes one."""

    parser_classes: list[Any] = []
    schema = CmsBodyAutoSchema()

    @extend_schema(
        operation_id="uploadTrustedReference",
        summary="Upload a trusted reference, or update one of the caller's (payload uuid)",
        description=PAYLOAD + " 201 with an empty body, as TNG; Location and ETag name the reference's uuid "
        "(extensions).",
        request=CMS_REQUEST,
        responses={201: None, **_CHANGE_RESPONSES, **BODY_PROBLEM_RESPONSES},
    )
    def post(self, request: Request) -> HttpResponse:
        row, _created = serve_signed(  # 201 for an update too, as TNG
            request,
            action=Action.REFERENCE_UPLOAD,
            parties=services.PARTIES,
            service=services.upload_reference,
            problem=reference_problem,
        )
        response = HttpResponse(status=201)
        response["Location"] = reverse("trust-reference-item", args=[row.uuid])
        response["ETag"] = row.uuid  # as /revocation-list names its batches (DGCG PR #145)
        return response

    @extend_schema(
        operation_id="deleteTrustedReference",
        summary="Delete one of the caller's trusted references: the CMS's payload is {\"uuid\": ...}",
        request=CMS_REQUEST,
        responses={204: None, **_CHANGE_RESPONSES, **BODY_PROBLEM_RESPONSES},
    )
    def delete(self, request: Request) -> HttpResponse:
        serve_signed(
            request,
            action=Action.REFERENCE_DELETE,
            parties=services.PARTIES,
            service=services.delete_reference,
            problem=reference_problem,
        )
        return HttpResponse(status=204)


class TrustedReferenceItemView(APIView):
    @extend_schema(
        operation_id="getTrustedReference",
        summary="One trusted reference, any country's (TNG: 400 when there is none)",
        responses={
            200: TrustedReferenceSerializer,
            400: OpenApiResponse(
                ProblemReportSerializer,
                description="Not a lower-case UUID (0x001), or no reference has it (0x000, TNG's "
                '"Requested Entity could not be found")',
            ),
            **{status: response for status, response in PROBLEM_RESPONSES.items() if status != 400},
        },
    )
    def get(self, request: Request, uuid: str) -> HttpResponse:
        authenticate(request._request, at=timezone.now())  # noqa: SLF001
        if not checks.UUID.fullmatch(uuid):
            raise validation_problem("uuid: must be a lower-case UUID", reason=Reason.REFERENCE_UUID_INVALID)
        row = TrustedReference.objects.filter(uuid=uuid).first()
        if row is None:
            raise not_found_problem(uuid)
        return _json(listing.render(row))


class TrustedReferenceListView(APIView):
    @extend_schema(
        operation_id="getTrustedReferences",
        summary="Every country's trusted references that match the filters (each a list: repeat or comma-separate)",
        parameters=_LIST_PARAMETERS,
        responses={200: TrustedReferenceSerializer(many=True), **PROBLEM_RESPONSES},
    )
    def get(self, request: Request) -> HttpResponse:
        authenticate(request._request, at=timezone.now())  # noqa: SLF001
        found = listing.search(
            countries=list_param(request, "country"),
            domains=list_param(request, "domain"),
            reference_types=list_param(request, "referenceType"),
            signature_types=list_param(request, "signatureType"),
            with_federation=bool_param(request, "withFederation"),
        )
        return _json(found)


def _json(value: Any) -> HttpResponse:
    response = HttpResponse(json.dumps(value), content_type="application/json")
    response["Cache-Control"] = CACHE_CONTROL
    return response
