"""Auditors' read API: checkpoints and RFC 9162 proofs are public (as in Certificate
Transparency: they reveal hashes only); leaf contents need the audit view permission."""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from gateway.audit import log, refusals
from gateway.audit.models import Action, AuditEvent, Checkpoint
from gateway.pki.errors import Reason
from gateway.problems import Problem, validation_problem

MAX_LEAVES = 1000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _int(request: HttpRequest, name: str, default: int | None = None) -> int:
    raw = request.GET.get(name)
    if raw is None and default is not None:
        return default
    try:
        return int(raw or "")
    except ValueError as exc:
        raise validation_problem(f"{name} must be an integer", reason=Reason.INVALID_PARAMETER) from exc


def _guard(view):  # type: ignore[no-untyped-def]
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[no-untyped-def]
        try:
            return view(request, *args, **kwargs)
        except Problem as problem:
            return problem.response()
        except ValueError as exc:
            return validation_problem(str(exc), reason=Reason.OUT_OF_RANGE).response()

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return require_safe(wrapped)


@_guard
def latest_checkpoint(request: HttpRequest) -> HttpResponse:
    checkpoint = Checkpoint.objects.first()
    if checkpoint is None:
        return Problem(404, "0x001", "Not Found", details="no checkpoint yet", reason=Reason.NO_CHECKPOINT).response()
    return JsonResponse(log.exported(checkpoint))


@_guard
def checkpoints(request: HttpRequest) -> HttpResponse:
    since = _int(request, "since_size", 0)
    rows = Checkpoint.objects.filter(tree_size__gte=since).order_by("tree_size", "id")[:MAX_LEAVES]
    return JsonResponse({"checkpoints": [log.exported(row) for row in rows]})


@_guard
def inclusion(request: HttpRequest) -> HttpResponse:
    index, size = _int(request, "index"), _int(request, "size")
    proof = log.inclusion_proof(index, size)
    leaf = AuditEvent.objects.filter(leaf_index=index).values_list("leaf_hash", flat=True).first()
    return JsonResponse(
        {
            "index": index,
            "size": size,
            "leafHash": _b64(bytes(leaf or b"")),
            "root": _b64(log.root_at(size)),
            "proof": [_b64(p) for p in proof],
        }
    )


@_guard
def consistency(request: HttpRequest) -> HttpResponse:
    first, second = _int(request, "first"), _int(request, "second")
    proof = log.consistency_proof(first, second)
    return JsonResponse(
        {
            "first": first,
            "second": second,
            "firstRoot": _b64(log.root_at(first)),
            "secondRoot": _b64(log.root_at(second)),
            "proof": [_b64(p) for p in proof],
        }
    )


@_guard
def leaves(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated or not request.user.has_perm("audit.view_auditevent"):
        refused = Problem(403, "0x403", "Forbidden", details="auditors only", reason=Reason.NOT_AN_AUDITOR)
        if not request.user.is_authenticated:
            return refused.response()  # anonymous: not recorded (gateway.audit.refusals)
        # A person who is not an auditor asking for what only auditors read: recorded.
        actor = request.user.get_username()
        return refusals.refuse(refused, action=Action.REQUEST, at=timezone.now(), actor=actor).response()
    start = _int(request, "start", 0)
    count = min(max(_int(request, "count", 100), 1), MAX_LEAVES)
    rows = AuditEvent.objects.filter(leaf_index__gte=start).order_by("leaf_index")[:count]
    return JsonResponse(
        {
            "leaves": [
                {
                    "index": row.leaf_index,
                    "leafBytes": _b64(bytes(row.leaf_bytes)),
                    "leafHash": _b64(bytes(row.leaf_hash)),
                }
                for row in rows
            ]
        }
    )
