"""Serving a DGCG request a country signs (a rule, a revocation batch, their deletions): who asks
(the TLS identity, with the roles the endpoint needs), the base64 CMS body (a refusal of it
recorded), the room's service, and a refusal turned into the room's problem report, marked as
recorded (the service wrote its audit event)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from django.utils import timezone
from rest_framework.request import Request

from countries.identity import ClientIdentity, authenticate
from countries.uploaders import decode_signed_body
from gateway.api import cms_body
from gateway.audit.models import Action
from gateway.pki.errors import Rejected
from gateway.problems import Problem, recorded

T = TypeVar("T")


def serve_signed(
    request: Request,
    *,
    action: Action,
    parties: Sequence[str],
    service: Callable[..., T],
    problem: Callable[[Rejected, str], Problem],
    roles: Iterable[str] = (),
) -> T:
    """``service(identity=, cms_der=, at=)``'s answer, or its refusal as ``problem(exc, country)``."""
    at: dt.datetime = timezone.now()
    identity: ClientIdentity = authenticate(request._request, at=at, roles=roles, parties=parties)  # noqa: SLF001
    body = cms_body(request)
    try:
        cms_der = decode_signed_body(body, identity=identity, at=at, action=action)
        return service(identity=identity, cms_der=cms_der, at=at)
    except Rejected as exc:
        raise recorded(problem(exc, identity.country)) from exc
