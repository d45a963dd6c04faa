"""Adding, suspending, reactivating and removing trusted issuers: every change one function, one
transaction with its audit event and an outbox row (publication then publishes the ``issuers``
artifact again); every refusal a named reason, audited, with nothing stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from countries.codes import is_valid_country
from gateway.audit.models import Action, Outcome
from gateway.audit.refusals import record_refused
from gateway.audit.services import record_event
from gateway.outbox.services import record_change
from gateway.pki.errors import Reason, Rejected
from gateway.signing.anchors import configured_trust_anchors
from issuers import fields, signatures
from issuers.models import IssuerStatus, TrustedIssuer

ISSUER_CHANGE = "ISSUER"  # outbox kind: the "issuers" artifact (issuers.content)


def add_issuer(
    *,
    country: str,
    name: str,
    url: str,
    url_type: str,
    signature: str,
    actor: str,
    at: dt.datetime,
    domain: str = "DCC",
    thumbprint: str = "",
    ssl_public_key: str = "",
    key_storage_type: str = "",
) -> TrustedIssuer:
    """Add an issuer whose string the trust anchor signed offline (``ta_sign_issuer``), in either
    form (``issuers.signatures``); the row records which."""
    signature = signature.strip()
    thumbprint = thumbprint.strip().lower()
    try:
        fields.check_signed_fields(country, name, url, url_type)
        fields.check_other_fields(
            domain=domain, thumbprint=thumbprint, ssl_public_key=ssl_public_key, key_storage_type=key_storage_type
        )
        fields.check_signature_text(signature)
        form = signatures.form_of(country, name, url, url_type, signature, configured_trust_anchors())
        with transaction.atomic():
            if TrustedIssuer.objects.local().filter(country=country, url=url, url_type=url_type).exists():
                raise Rejected(Reason.ISSUER_EXISTS, f"{country} has a {url_type} issuer at this URL already")
            issuer = TrustedIssuer.objects.create(
                country=country,
                name=name,
                url=url,
                url_type=url_type,
                domain=domain,
                thumbprint=thumbprint,
                ssl_public_key=ssl_public_key,
                key_storage_type=key_storage_type,
                signature=signature,
                signed_form=form,
                created_at=at,
            )
            _event(Action.ISSUER_ADD, issuer, actor=actor, at=at, details={"form": form, "domain": domain})
    except IntegrityError:  # added meanwhile by another transaction: the unique index decides
        exc = Rejected(Reason.ISSUER_EXISTS, f"{country} has a {url_type} issuer at this URL already")
        _refused(Action.ISSUER_ADD, exc, country=country, actor=actor, at=at, details=_given(url, url_type, name))
        raise exc from None
    except Rejected as exc:
        _refused(Action.ISSUER_ADD, exc, country=country, actor=actor, at=at, details=_given(url, url_type, name))
        raise
    return issuer


def set_status(issuer_id: int, status: str, *, reason: str = "", actor: str, at: dt.datetime) -> TrustedIssuer:
    """Suspend (no longer served nor published, kept) or reactivate an issuer."""
    action = {IssuerStatus.SUSPENDED: Action.ISSUER_SUSPEND, IssuerStatus.ACTIVE: Action.ISSUER_REACTIVATE}[
        IssuerStatus(status)
    ]
    with transaction.atomic():
        issuer = TrustedIssuer.objects.select_for_update().filter(pk=issuer_id).first()
        if issuer is not None and issuer.status != status and not issuer.source_gateway:
            issuer.status, issuer.status_reason, issuer.status_changed_at = status, reason[:255], at
            issuer.save(update_fields=["status", "status_reason", "status_changed_at"])
            _event(action, issuer, actor=actor, at=at, reason=reason)
            return issuer
    raise _refusal(action, issuer, issuer_id, actor=actor, at=at)


def remove_issuer(issuer_id: int, *, reason: str = "", actor: str, at: dt.datetime) -> None:
    """Remove an issuer for good (the audit log keeps what it was); adding it again takes a new
    signature ceremony's entry as any new issuer does."""
    with transaction.atomic():
        issuer = TrustedIssuer.objects.select_for_update().filter(pk=issuer_id).first()
        if issuer is not None and not issuer.source_gateway:
            _event(Action.ISSUER_REMOVE, issuer, actor=actor, at=at, reason=reason)
            issuer.delete()
            return
    raise _refusal(Action.ISSUER_REMOVE, issuer, issuer_id, actor=actor, at=at)


def republish(*, at: dt.datetime) -> None:
    """Ask publication to read the issuers again: what verifies changed without a change of any
    row (the signature audit found an entry that stopped or started verifying, e.g. after the
    configured trust anchors changed), so the published artifact follows what is served."""
    with transaction.atomic():
        record_change(kind=ISSUER_CHANGE, at=at)


def _event(
    action: Action, issuer: TrustedIssuer, *, actor: str, at: dt.datetime, reason: str = "", details: Any = None
) -> None:
    """The audit event of a change, then the outbox row (the last write), in the caller's transaction."""
    record_event(
        action=action,
        outcome=Outcome.SUCCESS,
        at=at,
        country=issuer.country,
        actor=actor,
        reason=reason,
        details={
            "uuid": str(issuer.uuid),
            "name": issuer.name[:200],
            "type": issuer.url_type,
            "url": issuer.url[:300],
            **(details or {}),
        },
    )
    record_change(kind=ISSUER_CHANGE, at=at, country=issuer.country)


def _refusal(action: Action, issuer: TrustedIssuer | None, issuer_id: int, *, actor: str, at: dt.datetime) -> Rejected:
    if issuer is None:
        exc = Rejected(Reason.ISSUER_NOT_FOUND, f"no trusted issuer {issuer_id}")
        _refused(action, exc, country="", actor=actor, at=at, details={"id": issuer_id})
        return exc
    if issuer.source_gateway:
        exc = Rejected(Reason.INVALID_STATE, f"imported from {issuer.source_gateway}: changed only by its sync")
    else:
        exc = Rejected(Reason.INVALID_STATE, f"the issuer is {issuer.status.lower()} already")
    _refused(
        action,
        exc,
        country=issuer.country,
        actor=actor,
        at=at,
        details={"uuid": str(issuer.uuid), **_given(issuer.url, issuer.url_type, issuer.name)},
    )
    return exc


def _refused(action: Action, exc: Rejected, *, country: str, actor: str, at: dt.datetime, details: dict) -> None:
    """Record a refusal in a transaction of its own (the refused change rolled back). A country
    that is not one (not ISO 3166-1 nor virtual) stays in the details, not the event's column."""
    if not is_valid_country(country):
        details = {**details, "country": country[:8]} if country else details
        country = ""
    record_refused(exc, action=action, at=at, country=country, actor=actor, details=details)


def _given(url: str, url_type: str, name: str) -> dict[str, str]:
    return {"url": url[:300], "type": url_type[:16], "name": name[:200]}
