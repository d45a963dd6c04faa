"""Upload and revocation of signer certificates: DGCG's checks in DGCG's order, then ours.

DGCG (SignerInformationService): 1 uploader is an UPLOAD certificate of the authenticated
country, 2 the DSC names exactly that country, 3 a CSCA of the country signed it, 4 not
already present, 5 no kid collision. TNG adds group/domain/property checks between 2 and 3.
Then the policy checks DGCG lacks (gateway.pki.policy). The first failure wins; a refusal
stores nothing and is audited.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from countries.identity import ClientIdentity
from countries.models import CertificateType, TrustedParty
from countries.services import verified_parties_by_type
from countries.trust_anchor import certificate_of
from gateway import dbwrite
from gateway.audit.models import Action, Outcome
from gateway.audit.services import record_event, record_rejection
from gateway.outbox.services import record_change
from gateway.pki import cms
from gateway.pki.certs import (
    certificate_der,
    dcc_usages,
    kid,
    load_der_certificate,
    public_jwk,
    single_country,
    thumbprint,
)
from gateway.pki.chain import find_issuing_csca
from gateway.pki.errors import Reason, Rejected
from gateway.pki.policy import check_dsc
from trustlist import trust
from trustlist.models import Group, SignerCertificate
from trustlist.policy import configured_policy


@dataclass(frozen=True)
class UploadOptions:
    """TNG /trustedCertificate fields; the DGCG endpoint uses the defaults."""

    group: str = Group.DSC
    domain: str = "DCC"
    properties: Mapping[str, str] = field(default_factory=dict)
    custom_kid: str | None = None


@dataclass(frozen=True)
class _Checked:
    message: cms.SignedMessage
    certificate: x509.Certificate
    der: bytes
    thumbprint: str


# The onboarded rows each endpoint needs, read with the identity (countries.identity.authenticate).
UPLOAD_PARTIES = (CertificateType.UPLOAD, CertificateType.CSCA, CertificateType.DECA)
REVOKE_PARTIES = (CertificateType.UPLOAD,)


def upload_signer_certificate(
    *, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, options: UploadOptions | None = None, actor: str = ""
) -> SignerCertificate:
    options = options or UploadOptions()
    checked: _Checked | None = None
    try:
        checked = _parse(cms_der)
        issuer_type = trust.issuer_type(options.group)
        parties = verified_parties_by_type(
            country=identity.country,
            certificate_types=[CertificateType.UPLOAD, issuer_type],
            prefetched=identity.prefetched,
        )
        _check_uploader(checked, identity, parties[CertificateType.UPLOAD])
        if options.group == Group.DSC:
            _check_country(checked, identity)
        _check_options(options)
        issuers = parties[issuer_type]
        issuer_certs = [certificate_of(party) for party in issuers]
        policy = configured_policy()
        issuer = find_issuing_csca(
            checked.certificate,
            issuer_certs,
            country=identity.country,
            at=at,
            require_valid_csca=policy.require_valid_csca,
        )
        try:
            check_dsc(
                checked.certificate,
                at=at,
                policy=policy,
                is_onboarded_csca=checked.der in {certificate_der(c) for c in issuer_certs},
            )
        except Rejected:
            # DGCG's checks 4 and 5 (duplicate, kid) come before our policy checks: report them
            # first. Only refusals pay for this query; an accepted upload is checked by the
            # unique indexes of its insert instead (see _store).
            _check_not_present(checked, options)
            raise
        return _store(checked, identity, options, at, actor, issuer_thumbprint=thumbprint(certificate_der(issuer)))
    except Rejected as exc:
        _audit_refusal(Action.UPLOAD, exc, identity, checked, at, actor, group=options.group)
        raise


def upload_signed_text(*, identity: ClientIdentity, text: str, at: dt.datetime, actor: str) -> SignerCertificate:
    """An upload a person pasted or chose as a file (the admin): the base64 of the CMS, with line
    breaks tolerated. Text that is not base64 is refused and recorded like any other upload refusal."""
    try:
        cms_der = cms.decode_base64_body("".join(text.split()))
    except Rejected as exc:
        _audit_refusal(Action.UPLOAD, exc, identity, None, at, actor, group=Group.DSC)
        raise
    return upload_signer_certificate(identity=identity, cms_der=cms_der, at=at, actor=actor)


def revoke_signer_certificate(
    *, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, reason: str = "revoked by country", actor: str = ""
) -> tuple[SignerCertificate, bool]:
    """Revoke the DSC the CMS names. Returns the row and whether this call changed it (a repeated
    revocation of the same DSC is answered like the first, as in DGCG, and changes nothing)."""
    checked: _Checked | None = None
    try:
        checked = _parse(cms_der)
        uploaders = verified_parties_by_type(
            country=identity.country, certificate_types=[CertificateType.UPLOAD], prefetched=identity.prefetched
        )[CertificateType.UPLOAD]
        _check_uploader(checked, identity, uploaders)
        _check_country(checked, identity)
        with transaction.atomic():
            row = (
                SignerCertificate.objects.select_for_update()
                .filter(thumbprint=checked.thumbprint, country=identity.country)
                .first()
            )
            if row is None:
                raise Rejected(Reason.NOT_FOUND, "The certificate doesn't exists in the database.")
            changed = _revoke_row(
                row,
                stored_reason=reason,
                at=at,
                actor=actor,
                reason=reason,
                country=identity.country,
                authentication_thumbprint=identity.thumbprint,
                uploader_thumbprint=thumbprint(checked.message.signer_der),
            )
            return row, changed
    except Rejected as exc:
        _audit_refusal(Action.REVOKE, exc, identity, checked, at, actor)
        raise


def revoke_by_person(*, row_id: int, reason: str, actor: str, at: dt.datetime) -> SignerCertificate:
    """A country admin revokes one of the country's DSCs in the admin (permission checked by
    the caller through countries.permissions). Revoking twice changes nothing."""
    with transaction.atomic():
        row = SignerCertificate.objects.select_for_update().get(pk=row_id)
        _revoke_row(
            row,
            stored_reason=reason or "revoked by country admin",
            at=at,
            actor=actor,
            reason=reason,
            country=row.country,
            details={"via": "admin"},
        )
        return row


def _revoke_row(
    row: SignerCertificate, *, stored_reason: str, at: dt.datetime, actor: str, reason: str, **event: Any
) -> bool:
    """Revoke a row locked by the caller's transaction (once: a repeat changes nothing and is
    recorded as UNCHANGED), record the audit event and, when it changed, the outbox change.
    The audit head, then the trust state: the order every change takes its locks in (an upload
    and a revocation that took them the other way round deadlocked)."""
    changed = row.revoked_at is None
    if changed:
        row.revoked_at, row.revocation_reason = at, stored_reason
        row.save(update_fields=["revoked_at", "revocation_reason"])
    record_event(
        action=Action.REVOKE,
        outcome=Outcome.SUCCESS if changed else Outcome.UNCHANGED,
        at=at,
        actor=actor,
        reason=reason,
        subject_thumbprint=row.thumbprint,
        **event,
    )
    if changed:
        record_change(kind="REVOKE", at=at, country=row.country, thumbprint=row.thumbprint)
    return changed


def decode_cms_body(
    body: bytes, *, identity: ClientIdentity, at: dt.datetime, action: Action, actor: str = ""
) -> bytes:
    """The base64 CMS of an upload or a revocation (dgc-lib's converter); a refusal is recorded as
    the service's own checks record theirs."""
    try:
        return cms.decode_base64_body(body)
    except Rejected as exc:
        _audit_refusal(action, exc, identity, None, at, actor)
        raise


def _audit_refusal(
    action: Action,
    exc: Rejected,
    identity: ClientIdentity,
    checked: _Checked | None,
    at: dt.datetime,
    actor: str,
    **details: str,
) -> None:
    record_rejection(
        action=action,
        at=at,
        country=identity.country,
        reason=exc.reason,
        actor=actor,
        authentication_thumbprint=identity.thumbprint,
        uploader_thumbprint=thumbprint(checked.message.signer_der) if checked else "",
        subject_thumbprint=checked.thumbprint if checked else "",
        details={"detail": exc.detail, **details},
    )


def _parse(cms_der: bytes) -> _Checked:
    message = cms.parse_attached(cms_der)
    try:
        certificate = load_der_certificate(message.payload)
    except Rejected as exc:
        raise Rejected(
            Reason.CMS_PAYLOAD_NOT_CERTIFICATE, "CMS Message payload needs to be a DER encoded X509 certificate"
        ) from exc
    return _Checked(message, certificate, message.payload, thumbprint(message.payload))


def _check_uploader(checked: _Checked, identity: ClientIdentity, uploads: list[TrustedParty]) -> None:
    signer_thumbprint = thumbprint(checked.message.signer_der)
    if not any(party.thumbprint == signer_thumbprint for party in uploads):
        raise Rejected(
            Reason.UPLOAD_CERT_UNKNOWN,
            f"Could not find upload certificate with hash {signer_thumbprint} and country {identity.country}",
        )


def _check_country(checked: _Checked, identity: ClientIdentity) -> None:
    if single_country(checked.certificate) != identity.country:
        raise Rejected(Reason.COUNTRY_MISMATCH, "Uploaded certificate is not issued for uploader country.")


def _check_options(options: UploadOptions) -> None:
    if options.group not in Group.values:
        raise Rejected(Reason.GROUP_NOT_ALLOWED, f"group {options.group!r} is not allowed")
    if options.domain not in settings.GATEWAY_TRUSTED_CERTIFICATE_DOMAINS:
        raise Rejected(Reason.DOMAIN_NOT_ALLOWED, f"domain {options.domain!r} is not allowed")
    unknown = sorted(set(options.properties) - set(settings.GATEWAY_TRUSTED_CERTIFICATE_PROPERTIES))
    if unknown:
        raise Rejected(Reason.PROPERTY_NOT_ALLOWED, f"properties not allowed: {', '.join(unknown)}")


def _check_not_present(checked: _Checked, options: UploadOptions) -> None:
    """DGCG checks 4 and 5 in one query: the same certificate (duplicate, or revoked), or another
    one with the same kid or custom kid (collision). Asked only once an upload is refused (by a
    policy check or by a unique index of the insert), to name the reason."""
    clash = Q(thumbprint=checked.thumbprint) | Q(kid=kid(checked.der))
    if options.custom_kid:
        clash |= Q(custom_kid=options.custom_kid)
    rows = list(SignerCertificate.objects.filter(clash).values_list("thumbprint", "revoked_at")[:3])
    for row_thumbprint, revoked_at in rows:
        if row_thumbprint == checked.thumbprint:
            if revoked_at is not None:
                raise Rejected(Reason.ALREADY_REVOKED, "Uploaded certificate was revoked and cannot be uploaded again")
            raise Rejected(Reason.ALREADY_EXISTS, "Uploaded certificate already exists")
    if rows:
        raise Rejected(Reason.KID_EXISTS, "A certificate with KID of uploaded certificate already exists")


def _store(
    checked: _Checked,
    identity: ClientIdentity,
    options: UploadOptions,
    at: dt.datetime,
    actor: str,
    *,
    issuer_thumbprint: str,
) -> SignerCertificate:
    signature = base64.b64encode(cms.detach(checked.message.cms_der)).decode("ascii")
    try:
        with transaction.atomic():
            row = dbwrite.insert(  # the statement is built once (gateway.dbwrite): every upload inserts
                SignerCertificate(
                    country=identity.country,
                    thumbprint=checked.thumbprint,
                    kid=kid(checked.der),
                    custom_kid=options.custom_kid or None,
                    raw_data=checked.der,
                    signature=signature,
                    uploader_thumbprint=thumbprint(checked.message.signer_der),
                    group=options.group,
                    domain=options.domain,
                    properties=dict(options.properties),
                    not_before=checked.certificate.not_valid_before_utc,
                    not_after=checked.certificate.not_valid_after_utc,
                    usages=list(dcc_usages(checked.certificate)),
                    public_key_jwk=public_jwk(checked.certificate),
                    issuer_thumbprint=issuer_thumbprint,
                    created_at=at,
                )
            )
            record_event(
                action=Action.UPLOAD,
                outcome=Outcome.SUCCESS,
                at=at,
                country=identity.country,
                actor=actor,
                authentication_thumbprint=identity.thumbprint,
                uploader_thumbprint=row.uploader_thumbprint,
                subject_thumbprint=row.thumbprint,
                details={"kid": row.kid, "group": row.group},
            )
            record_change(kind="UPLOAD", at=at, country=row.country, thumbprint=row.thumbprint)
    except IntegrityError:
        # The unique indexes on thumbprint, kid and custom kid are DGCG's checks 4 and 5: the
        # insert is the transaction's first statement, so nothing else was written. Name the
        # clash (duplicate, revoked, kid) as the checks do.
        _check_not_present(checked, options)
        raise Rejected(Reason.ALREADY_EXISTS, "Uploaded certificate already exists") from None
    return row
