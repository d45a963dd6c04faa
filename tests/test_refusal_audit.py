"""Every refusal the API gives is recorded once in the audit log, under the reason its problem
report names, with the client when it was authenticated; nothing of the refused request is stored.
Anonymous reads of public files are not recorded (gateway.audit.refusals, docs/audit.md)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason
from tests.helpers import upload
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Refusal:
    """A request the API refuses, the status and reason it answers with, and who it refuses."""

    name: str
    send: Callable[[Client, object], object]
    status: int
    reason: Reason
    action: Action
    authenticated: bool = True


def _cms(client, xa, body, content_type="application/cms", method="post", path="/signerCertificate"):
    return getattr(client, method)(path, body, content_type=content_type, **xa.headers())


def _tng(client, xa, body, content_type="application/json"):
    return client.post("/trustedCertificate", body, content_type=content_type, **xa.headers())


def _get(path, **headers):
    return lambda client, xa: client.get(path, **xa.headers(**headers))


def _as_person(client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("visitor", is_staff=True))
    return client


def _revocation(xa):
    """XA's backend with DGCG's three revocation roles, stored as set-up (not through the audited
    grant_role: the walk counts the refusal's events only)."""
    from countries.models import Role, TrustedParty, TrustedPartyRole

    party = TrustedParty.objects.get(country="XA", certificate_type="AUTHENTICATION")
    TrustedPartyRole.objects.bulk_create(TrustedPartyRole(trusted_party=party, role=role) for role in Role)
    return xa


def _dsc_cms(xa) -> str:
    return xa.cms_b64(xa.dsc().der).decode()


REFUSALS = [
    # who the client is (countries.identity)
    Refusal(
        "no identity",
        lambda client, xa: client.get("/trustList"),
        401,
        Reason.MISSING_CLIENT_IDENTITY,
        Action.AUTHENTICATE,
        authenticated=False,
    ),
    Refusal(
        "unknown certificate",
        lambda client, xa: client.get(
            "/trustList", HTTP_X_SSL_CLIENT_SHA256="ab" * 32, HTTP_X_SSL_CLIENT_DN="CN=someone,C=XA"
        ),
        401,
        Reason.CLIENT_NOT_ONBOARDED,
        Action.AUTHENTICATE,
        authenticated=False,
    ),
    Refusal(
        "no country in the certificate",
        lambda client, xa: client.get("/trustList", **xa.headers(HTTP_X_SSL_CLIENT_DN="CN=XA TLS")),
        400,
        Reason.CLIENT_COUNTRY_MISSING,
        Action.AUTHENTICATE,
        authenticated=False,
    ),
    # the request's shape (views and the exception handler)
    Refusal(
        "DGCG upload of another media type",
        lambda client, xa: _cms(client, xa, "x", content_type="text/plain"),
        415,
        Reason.UNSUPPORTED_MEDIA_TYPE,
        Action.REQUEST,
    ),
    Refusal(
        "DGCG revocation of another media type",
        lambda client, xa: _cms(client, xa, "x", content_type="text/plain", method="delete"),
        415,
        Reason.UNSUPPORTED_MEDIA_TYPE,
        Action.REQUEST,
    ),
    Refusal(
        "TNG upload of another media type",
        lambda client, xa: _tng(client, xa, "x", content_type="application/cms"),
        415,
        Reason.UNSUPPORTED_MEDIA_TYPE,
        Action.REQUEST,
    ),
    Refusal(
        "TNG upload of invalid JSON",
        lambda client, xa: _tng(client, xa, "{"),
        400,
        Reason.MALFORMED_BODY,
        Action.REQUEST,
    ),
    Refusal(
        "TNG upload without cms",
        lambda client, xa: _tng(client, xa, json.dumps({"group": "DSC"})),
        400,
        Reason.INVALID_REQUEST,
        Action.REQUEST,
    ),
    Refusal(
        "TNG upload with an over-long kid",
        lambda client, xa: _tng(client, xa, json.dumps({"cms": _dsc_cms(xa), "kid": "k" * 500})),
        400,
        Reason.INVALID_REQUEST,
        Action.REQUEST,
    ),
    Refusal(
        "TNG upload with properties not an object",
        lambda client, xa: _tng(client, xa, json.dumps({"cms": _dsc_cms(xa), "properties": ["not", "an", "object"]})),
        400,
        Reason.INVALID_REQUEST,
        Action.REQUEST,
    ),
    Refusal("unknown type", _get("/trustList/FOO"), 400, Reason.INVALID_TYPE, Action.REQUEST),
    Refusal("three-letter country", _get("/trustList/DSC/XAB"), 400, Reason.INVALID_COUNTRY, Action.REQUEST),
    # a NUL travels into the event's details, which PostgreSQL's jsonb cannot hold as such; the
    # path is refused before any view (countries.paths), so before authentication: the event names
    # the presented certificate, not yet its country
    Refusal(
        "country with a NUL",
        _get("/trustList/DSC/X%00"),
        400,
        Reason.INVALID_PATH,
        Action.REQUEST,
        authenticated=False,
    ),
    Refusal("negative page", _get("/trustList?page=-1"), 400, Reason.INVALID_PAGING, Action.REQUEST),
    Refusal(
        "unreadable If-Modified-Since",
        _get("/trustList/DSC", HTTP_IF_MODIFIED_SINCE="yesterday"),
        400,
        Reason.INVALID_DATE,
        Action.REQUEST,
    ),
    Refusal(
        "method the endpoint lacks",
        lambda client, xa: client.put("/trustList", **xa.headers()),
        405,
        Reason.METHOD_NOT_ALLOWED,
        Action.REQUEST,
        authenticated=False,  # refused before the view authenticates
    ),
    # what the services check (they record with the uploader and the subject)
    Refusal(
        "upload that is not base64",
        lambda client, xa: _cms(client, xa, "%%%"),
        400,
        Reason.INVALID_BASE64,
        Action.UPLOAD,
    ),
    Refusal(
        "upload that is not a CMS",
        lambda client, xa: _cms(client, xa, base64.b64encode(b"not a cms").decode()),
        400,
        Reason.CMS_PARSE,
        Action.UPLOAD,
    ),
    Refusal(
        "revocation of a DSC never uploaded",
        lambda client, xa: _cms(client, xa, _dsc_cms(xa), method="delete"),
        404,
        Reason.NOT_FOUND,
        Action.REVOKE,
    ),
    # the revocation-list API (revocation/): its roles, its header, its batches
    Refusal(
        "revocation list without the role",
        _get("/revocation-list", HTTP_IF_MODIFIED_SINCE="2026-01-01T00:00:00Z"),
        403,
        Reason.ROLE_MISSING,
        Action.AUTHENTICATE,
    ),
    Refusal(
        "revocation list without If-Modified-Since",
        lambda client, xa: client.get("/revocation-list", **_revocation(xa).headers()),
        400,
        Reason.REVOCATION_SINCE_MISSING,
        Action.REQUEST,
    ),
    Refusal(
        "revocation batch never uploaded",
        lambda client, xa: client.get(
            "/revocation-list/00000000-0000-4000-8000-000000000000", **_revocation(xa).headers()
        ),
        404,
        Reason.REVOCATION_BATCH_NOT_FOUND,
        Action.REQUEST,
    ),
    Refusal(
        "revocation batch that is not JSON",
        lambda client, xa: _cms(_revocation(xa) and client, xa, xa.cms_b64(b"{"), path="/revocation-list"),
        400,
        Reason.REVOCATION_NOT_JSON,
        Action.REVOCATION_BATCH_UPLOAD,
    ),
    Refusal(
        "revocation deletion of a batch never uploaded",
        lambda client, xa: _cms(
            _revocation(xa) and client,
            xa,
            xa.cms_b64(b'{"batchId": "00000000-0000-4000-8000-000000000000"}'),
            method="delete",
            path="/revocation-list",
        ),
        404,
        Reason.REVOCATION_BATCH_NOT_FOUND,
        Action.REVOCATION_BATCH_DELETE,
    ),
    # in front of the views (gateway.middleware) and the audit log's own endpoint
    Refusal(
        "body too large",
        lambda client, xa: _cms(client, xa, "A" * (70 * 1024)),
        413,
        Reason.BODY_TOO_LARGE,
        Action.REQUEST,
        authenticated=False,  # refused before authentication
    ),
    Refusal(
        "audit leaves for a person who is not an auditor",
        lambda client, xa: _as_person(client).get("/audit/leaves"),
        403,
        Reason.NOT_AN_AUDITOR,
        Action.REQUEST,
        authenticated=False,  # a person, not a country backend
    ),
    # odd characters the log must keep (PostgreSQL's text holds no NUL, UTF-8 no lone surrogate)
    Refusal(
        "the six characters of a NUL's escape in the path",
        lambda client, xa: client.put("/trustList/DSC/%5Cu0000", **xa.headers()),
        405,
        Reason.METHOD_NOT_ALLOWED,
        Action.REQUEST,
        authenticated=False,
    ),
    Refusal(
        "TNG upload with a lone surrogate in a property name",
        lambda client, xa: _tng(client, xa, json.dumps({"cms": _dsc_cms(xa), "properties": {"\ud800": "x"}})),
        400,
        Reason.PROPERTY_NOT_ALLOWED,
        Action.UPLOAD,
    ),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[refusal.name for refusal in REFUSALS])
def test_every_refusal_is_recorded_once_under_its_reason(client, xa, refusal):
    before = AuditEvent.objects.count()
    stored = SignerCertificate.objects.count()
    response = refusal.send(client, xa)

    assert response.status_code == refusal.status, response.content
    assert response.json()["reason"] == refusal.reason
    events = list(AuditEvent.objects.order_by("leaf_index")[before:])
    assert len(events) == 1, [(event.action, event.reason) for event in events]
    event = events[0]
    assert (event.outcome, event.action, event.reason) == (Outcome.REJECTED, refusal.action, refusal.reason)
    if refusal.authenticated:
        assert (event.country, event.authentication_thumbprint) == ("XA", thumbprint(xa.auth.der))
    assert SignerCertificate.objects.count() == stored


def test_a_duplicate_upload_is_recorded_with_its_subject(client, xa):
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    before = AuditEvent.objects.count()
    response = upload(client, xa, xa.cms_b64(dsc.der))
    assert (response.status_code, response.json()["reason"]) == (409, Reason.ALREADY_EXISTS)
    (event,) = AuditEvent.objects.order_by("leaf_index")[before:]
    assert (event.outcome, event.reason, event.subject_thumbprint) == (
        Outcome.REJECTED,
        Reason.ALREADY_EXISTS,
        thumbprint(dsc.der),
    )


ANONYMOUS = [
    ("get", "/publication/index.jws"),
    ("get", "/publication/sequences/1/delta.json"),
    ("get", "/audit/checkpoint"),
    ("get", "/audit/leaves"),  # no one logged in
    ("put", "/api/schema"),  # refused for its method, with no client certificate
    ("put", "/trustList"),
]


@pytest.mark.parametrize(("method", "path"), ANONYMOUS)
def test_anonymous_requests_are_answered_but_not_recorded(client, xa, method, path):
    before = AuditEvent.objects.count()
    response = getattr(client, method)(path)
    assert 400 <= response.status_code < 500  # a clear refusal, never a 500
    assert AuditEvent.objects.count() == before
