"""Onboarding services: every change to trusted parties goes through here.

Each function is one transaction that checks, writes, appends the audit event and the
outbox row. Refusals raise :class:`~gateway.pki.errors.Rejected` and are audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from countries import trust_anchor
from countries.codes import is_valid_country
from countries.identity import PrefetchedParties
from countries.models import CertificateType, Membership, Role, Status, TrustedParty, TrustedPartyRole
from countries.policy import configured_policy
from gateway.audit.models import Action, Outcome
from gateway.audit.services import record_event, record_rejection
from gateway.outbox.services import record_change
from gateway.pki import onboarding
from gateway.pki.certs import read_certificate, subject_countries, thumbprint
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import Findings, findings_detail
from gateway.pki.policy import check_encoding
from gateway.signing.anchors import configured_trust_anchors


def onboard(
    *, country: str, certificate_type: str, der: bytes, signature_b64: str, actor: str, at: dt.datetime
) -> TrustedParty:
    """Onboard a country's certificate with the trust anchor's detached CMS over its DER."""
    thumb = thumbprint(der) if der else ""
    try:
        party = _onboard(country, certificate_type, der, signature_b64, at, thumb, actor)
    except Rejected as exc:
        record_rejection(
            action=Action.ONBOARD,
            at=at,
            country=country,
            reason=exc.reason,
            actor=actor,
            subject_thumbprint=thumb,
            details={"type": certificate_type, "detail": exc.detail},
        )
        raise
    return party


@transaction.atomic
def _onboard(
    country: str, certificate_type: str, der: bytes, signature_b64: str, at: dt.datetime, thumb: str, actor: str
) -> TrustedParty:
    if not is_valid_country(country):
        raise Rejected(
            Reason.INVALID_COUNTRY, f"{country!r} is neither ISO 3166-1 alpha-2 nor a configured virtual country"
        )
    if certificate_type not in CertificateType.values:
        raise Rejected(Reason.INVALID_CERTIFICATE_TYPE, f"unknown certificate type {certificate_type!r}")
    read = read_certificate(der)
    findings = Findings()
    check_encoding(read, findings, require_der=configured_policy().require_der)  # as for DSCs (docs/policy.md)
    cert = read.certificate
    if subject_countries(cert) != [country]:
        raise Rejected(Reason.COUNTRY_MISMATCH, f"certificate subject must have exactly one C={country}")
    onboarding.verify_onboarding(der, signature_b64, thumb, configured_trust_anchors())
    if TrustedParty.objects.filter(thumbprint=thumb).exists():
        raise Rejected(Reason.ALREADY_EXISTS, "this certificate is already onboarded")
    try:
        with transaction.atomic():
            party = TrustedParty.objects.create(
                country=country,
                certificate_type=certificate_type,
                thumbprint=thumb,
                raw_data=der,
                signature=signature_b64,
                created_at=at,
            )
    except IntegrityError as exc:  # a concurrent onboarding of the same certificate won
        raise Rejected(Reason.ALREADY_EXISTS, "this certificate is already onboarded") from exc
    details = {"type": certificate_type, **findings_detail(findings.as_tuple())}
    _party_event(Action.ONBOARD, party, actor=actor, at=at, details=details)
    record_change(kind="ONBOARD", at=at, country=country, thumbprint=thumb)
    return party


def set_status(*, party_id: int, status: Status, reason: str, actor: str, at: dt.datetime) -> TrustedParty:
    """Suspend, reactivate or remove an onboarded certificate. Removal is final and keeps the
    row (with time and reason) so that revocation lists can name it."""
    action = {Status.SUSPENDED: Action.SUSPEND, Status.ACTIVE: Action.REACTIVATE, Status.REMOVED: Action.REMOVE}[status]
    with transaction.atomic():
        party = TrustedParty.objects.select_for_update().get(pk=party_id)
        if party.status == Status.REMOVED or party.status == status:
            rejection = Rejected(Reason.INVALID_STATE, f"certificate is {party.status.lower()}")
        else:
            party.status, party.status_reason, party.status_changed_at = status, reason, at
            party.save(update_fields=["status", "status_reason", "status_changed_at"])
            _party_event(action, party, actor=actor, at=at, reason=reason)
            record_change(kind=action, at=at, country=party.country, thumbprint=party.thumbprint)
            return party
    raise _party_refusal(action, party, rejection, actor=actor, at=at, details={"detail": rejection.detail})


def grant_role(*, party_id: int, role: Role, actor: str, at: dt.datetime) -> TrustedPartyRole:
    with transaction.atomic():
        party = TrustedParty.objects.select_for_update().get(pk=party_id)
        if party.certificate_type != CertificateType.AUTHENTICATION:
            rejection = Rejected(Reason.INVALID_STATE, "roles are granted to AUTHENTICATION certificates")
        else:
            granted, created = TrustedPartyRole.objects.get_or_create(trusted_party=party, role=role)
            if created:
                _party_event(Action.GRANT_ROLE, party, actor=actor, at=at, details={"role": role})
            return granted
    raise _party_refusal(Action.GRANT_ROLE, party, rejection, actor=actor, at=at, details={"role": role})


def revoke_role(*, party_id: int, role: Role, actor: str, at: dt.datetime) -> None:
    with transaction.atomic():
        party = TrustedParty.objects.get(pk=party_id)
        deleted, _ = TrustedPartyRole.objects.filter(trusted_party=party, role=role).delete()
        if deleted:
            _party_event(Action.REVOKE_ROLE, party, actor=actor, at=at, details={"role": role})


def _party_event(
    action: Action, party: TrustedParty, *, actor: str, at: dt.datetime, reason: str = "", details: dict | None = None
) -> None:
    """The audit event of a change to an onboarded certificate, in the caller's transaction."""
    record_event(
        action=action,
        outcome=Outcome.SUCCESS,
        at=at,
        country=party.country,
        actor=actor,
        reason=reason,
        subject_thumbprint=party.thumbprint,
        details=details,
    )


def _party_refusal(
    action: Action, party: TrustedParty, rejection: Rejected, *, actor: str, at: dt.datetime, details: dict
) -> Rejected:
    """Record a refused change to an onboarded certificate (after its transaction rolled back)."""
    record_rejection(
        action=action,
        at=at,
        country=party.country,
        actor=actor,
        reason=rejection.reason,
        subject_thumbprint=party.thumbprint,
        details=details,
    )
    return rejection


def verified_parties_by_type(
    *, country: str, certificate_types: list[str], prefetched: PrefetchedParties | None = None
) -> dict[str, list[TrustedParty]]:
    """The same for several types, in one query, or none when the identity check already read
    the rows (``prefetched``); they are re-verified here either way."""
    rows: Iterable[TrustedParty]
    if prefetched is not None and prefetched.covers(certificate_types):
        rows = (row for row in prefetched.rows if row.certificate_type in certificate_types)
    else:
        rows = TrustedParty.objects.active().local().for_country(country).filter(certificate_type__in=certificate_types)
    found: dict[str, list[TrustedParty]] = {certificate_type: [] for certificate_type in certificate_types}
    for party in trust_anchor.verified(rows):
        found[party.certificate_type].append(party)
    return found


def save_membership(membership: Membership, *, actor: str, at: dt.datetime) -> Membership:
    with transaction.atomic():
        membership.save()
        _membership_event(membership, "MEMBERSHIP_SAVED", actor=actor, at=at)
    return membership


def delete_membership(membership: Membership, *, actor: str, at: dt.datetime) -> None:
    with transaction.atomic():
        _membership_event(membership, "MEMBERSHIP_DELETED", actor=actor, at=at)
        membership.delete()


def _membership_event(membership: Membership, reason: str, *, actor: str, at: dt.datetime) -> None:
    record_event(
        action=Action.ADMIN,
        outcome=Outcome.SUCCESS,
        at=at,
        country=membership.country,
        actor=actor,
        reason=reason,
        details={"user": str(membership.user), "role": membership.role},
    )
