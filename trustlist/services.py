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
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from countries.identity import ClientIdentity
from countries.models import CertificateType
from countries.policy import configured_cms_policy, configured_policy
from countries.services import verified_parties_by_type
from countries.trust_anchor import certificate_of
from countries.uploaders import check_uploader, decode_signed_text, record_refusal, record_resigned, replaces
from gateway import dbwrite
from gateway.audit.models import Action, Outcome
from gateway.audit.services import record_event
from gateway.outbox.services import record_change
from gateway.pki import cms
from gateway.pki.certs import (
    ReadCertificate,
    certificate_der,
    dcc_usages,
    kid,
    public_jwk,
    read_certificate,
    single_country,
    thumbprint,
)
from gateway.pki.chain import find_issuing_csca
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import Finding, findings_detail, findings_json
from gateway.pki.policy import CMS_FINDINGS_ONLY, check_dsc
from trustlist import trust
from trustlist.models import Group, SignerCertificate


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
    read: ReadCertificate
    thumbprint: str

    @property
    def der(self) -> bytes:
        return self.read.der

    @property
    def certificate(self) -> x509.Certificate:
        return self.read.certificate

    @property
    def tbs_sha256(self) -> str:
        return hashlib.sha256(self.read.tbs).hexdigest()


# TNG's kid: at most 20 characters (its column); of the base64 alphabets, as a computed kid is
# (base64 of 8 bytes), so that no markup or whitespace reaches a verifier's display.
CUSTOM_KID = re.compile(r"[A-Za-z0-9+/=_-]{1,20}")
# A computed kid: base64 of the first 8 bytes of the certificate's SHA-256 (gateway.pki.certs.kid).
COMPUTED_KID = re.compile(r"[A-Za-z0-9+/]{11}=")

RESIGN_CHANGE = "RESIGN"  # outbox kind: a signer certificate re-signed (replace_signature)

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
        check_uploader(checked.message, identity, parties[CertificateType.UPLOAD], at)
        # Every group, not only DSC: a certificate is the uploader's own (TNG checks the
        # country for DSCs only; docs/api.md lists the difference).
        _check_country(checked, identity)
        _check_options(options)
        issuers = parties[issuer_type]
        issuer_certs = [certificate_of(party) for party in issuers]
        policy = configured_policy()
        issuer = find_issuing_csca(
            checked.read,
            issuer_certs,
            country=identity.country,
            at=at,
            require_valid_csca=policy.require_valid_csca,
        )
        try:
            findings = check_dsc(
                checked.read,
                at=at,
                policy=policy,
                is_onboarded_csca=checked.der in {certificate_der(c) for c in issuer_certs},
            )
        except Rejected:
            # DGCG's checks 4 and 5 (duplicate, kid) come before our policy checks: report them
            # first. Only refusals pay for this query; an accepted upload is checked by the
            # unique indexes of its insert instead (see _store).
            _check_not_present(checked, options, identity)
            raise
        if options.custom_kid:
            _check_kids_free(checked, options, identity)
        return _store(
            checked,
            identity,
            options,
            at,
            actor,
            issuer_thumbprint=thumbprint(certificate_der(issuer)),
            findings=checked.message.findings + findings,
        )
    except Rejected as exc:
        record_refusal(
            Action.UPLOAD,
            exc,
            identity,
            at=at,
            actor=actor,
            signer_der=checked.message.signer_der if checked else None,
            subject_thumbprint=checked.thumbprint if checked else "",
            group=options.group,
        )
        raise


def upload_signed_text(*, identity: ClientIdentity, text: str, at: dt.datetime, actor: str) -> SignerCertificate:
    """An upload a person pasted or chose as a file (the admin)."""
    cms_der = decode_signed_text(text, identity=identity, at=at, action=Action.UPLOAD, actor=actor)
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
        check_uploader(checked.message, identity, uploaders, at)
        _check_country(checked, identity)
        with transaction.atomic():
            row = (
                SignerCertificate.objects.select_for_update()
                .filter(thumbprint=checked.thumbprint, country=identity.country)
                .first()
            )
            if row is None:
                raise Rejected(Reason.NOT_FOUND, "The certificate doesn't exists in the database.")
            if settings.GATEWAY_REVOCATION_REQUIRE_FRESH_SIGNATURE:
                _check_fresh(checked, row)
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
        record_refusal(
            Action.REVOKE,
            exc,
            identity,
            at=at,
            actor=actor,
            signer_der=checked.message.signer_der if checked else None,
            subject_thumbprint=checked.thumbprint if checked else "",
        )
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


def replace_signature(
    *, row_id: int, message: cms.SignedMessage, country: str, at: dt.datetime, actor: str = "", via: str = ""
) -> bool:
    """A CMS migration of one of ``country``'s signer certificates (``migration.services``, which
    checked that a valid UPLOAD certificate of ``country`` signed ``message``): the stored signature
    becomes the new CMS, detached, if it signs exactly the stored certificate (DGCG compares
    nothing there, so a migration could swap the certificate) and is not older than the stored
    one. The entry stays published as it was; /trustList and /trustList/certificate serve the new
    signature, and DGCG's delta lists the DSC again. Returns whether it changed (the same CMS
    again changes nothing: a retry). A refusal is recorded by the caller."""
    with transaction.atomic():
        row = SignerCertificate.objects.select_for_update().filter(pk=row_id, source_gateway="").first()
        if row is None:
            raise Rejected(Reason.MIGRATION_NOT_FOUND, "Certificate to be updated does not exist.")
        if row.country != country:
            raise Rejected(Reason.MIGRATION_COUNTRY, f"the certificate is {row.country}'s, not {country}'s")
        if row.revoked_at is not None:
            raise Rejected(Reason.MIGRATION_WITHDRAWN, "the certificate is revoked: no signature of it is published")
        if not hmac.compare_digest(message.payload, bytes(row.raw_data)):
            raise Rejected(
                Reason.MIGRATION_PAYLOAD_MISMATCH,
                "New cms payload does not match present payload: a migration re-signs the stored certificate",
            )
        changed = replaces(base64.b64decode(row.signature), message)
        previous = row.uploader_thumbprint
        if changed:
            row.signature = base64.b64encode(cms.detach(message.cms_der)).decode("ascii")
            row.uploader_thumbprint = thumbprint(message.signer_der)
            row.resigned_at = at
            row.save(update_fields=["signature", "uploader_thumbprint", "resigned_at"])
        record_resigned(
            message,
            changed=changed,
            previous_uploader=previous,
            at=at,
            country=country,
            actor=actor,
            via=via,
            subject_thumbprint=row.thumbprint,
            details={"type": "DSC", "entityId": row.pk, "kid": row.kid},
        )
        if changed:
            # The entry the publication holds is unchanged; the change wakes the publisher (a delta
            # naming the DSC, its entry as it was) and moves the trust state the lists are cached by.
            record_change(kind=RESIGN_CHANGE, at=at, country=country, thumbprint=row.thumbprint)
        return changed


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


def _parse(cms_der: bytes) -> _Checked:
    message = cms.parse_attached(cms_der, configured_cms_policy())
    try:
        read = read_certificate(message.payload)
    except Rejected as exc:
        raise Rejected(
            Reason.CMS_PAYLOAD_NOT_CERTIFICATE, "CMS Message payload needs to be a DER encoded X509 certificate"
        ) from exc
    return _Checked(message, read, thumbprint(message.payload))


def _check_fresh(checked: _Checked, row: SignerCertificate) -> None:
    """A revocation is signed afresh by the UPLOAD key: not the upload's own signature (which the
    trust list publishes as the DSC's ``signature``, so anyone holding a country's TLS key could
    replay it) and not signed before the upload. signingTime (RFC 5652 §11.3) counts whole
    seconds, so a fresh signature in the upload's second is accepted: its signature value differs."""
    upload = cms.verify_detached(base64.b64decode(row.signature), bytes(row.raw_data), CMS_FINDINGS_ONLY)
    revocation = checked.message
    if hmac.compare_digest(revocation.signature, upload.signature):
        raise Rejected(Reason.REVOCATION_NOT_FRESH, "the revocation carries the upload's own signature (a replay)")
    if (
        revocation.signing_time is not None
        and upload.signing_time is not None
        and revocation.signing_time < upload.signing_time
    ):
        raise Rejected(
            Reason.REVOCATION_NOT_FRESH,
            f"the revocation was signed at {revocation.signing_time}, before the upload ({upload.signing_time})",
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
    if options.custom_kid is not None and not CUSTOM_KID.fullmatch(options.custom_kid):
        raise Rejected(Reason.INVALID_KID, "a kid is 1 to 20 characters of the base64 (or base64url) alphabet")


def _check_not_present(checked: _Checked, options: UploadOptions, identity: ClientIdentity) -> None:
    """DGCG checks 4 and 5: the same certificate (duplicate, or revoked), or another one with the
    same kid (collision), then the custom kids (:func:`_check_kids_free`). Asked once an upload is
    refused (by a policy check or by a unique index of the insert), to name the reason."""
    same = Q(thumbprint=checked.thumbprint) | Q(tbs_sha256=checked.tbs_sha256, source_gateway="")
    rows = list(
        SignerCertificate.objects.filter(same | Q(kid=kid(checked.der))).values_list(
            "thumbprint", "tbs_sha256", "source_gateway", "revoked_at"
        )[:3]
    )
    for row_thumbprint, row_tbs, source, revoked_at in rows:
        # The same signed TBSCertificate in other bytes (a second ECDSA signature value, another
        # encoding) is the same certificate: a revoked one does not come back under a new kid.
        if row_thumbprint == checked.thumbprint or (row_tbs == checked.tbs_sha256 and source == ""):
            if revoked_at is not None:
                raise Rejected(Reason.ALREADY_REVOKED, "Uploaded certificate was revoked and cannot be uploaded again")
            raise Rejected(Reason.ALREADY_EXISTS, "Uploaded certificate already exists")
    if rows:
        raise Rejected(Reason.KID_EXISTS, "A certificate with KID of uploaded certificate already exists")
    if options.custom_kid:
        _check_kids_free(checked, options, identity)


def _check_kids_free(checked: _Checked, options: UploadOptions, identity: ClientIdentity) -> None:
    """A kid names one key for verifiers, whichever field carries it. A custom kid in the form of
    a computed kid must be the certificate's own computed kid: so no certificate uploaded later
    can have a computed kid that another's custom kid took (computed kids are unique by index,
    and a DGCG upload needs no query for this). Any other custom kid may not be another
    certificate's kid or custom kid, unless that certificate is the same country's and revoked
    (TNG frees a kid when its certificate is deleted; verifiers then see the revoked and the new
    entry under it); another country's, even revoked, never: a verifier would attribute this key
    to that country."""
    custom = options.custom_kid
    assert custom is not None
    if COMPUTED_KID.fullmatch(custom) and custom != kid(checked.der):
        raise Rejected(Reason.INVALID_KID, "a kid in the form of a computed kid must be the certificate's own")
    others = SignerCertificate.objects.filter(Q(kid=custom) | Q(custom_kid=custom))
    for country, revoked_at in others.exclude(thumbprint=checked.thumbprint).values_list("country", "revoked_at"):
        if country != identity.country or revoked_at is None:
            raise Rejected(Reason.KID_EXISTS, "A certificate with KID of uploaded certificate already exists")


def _store(
    checked: _Checked,
    identity: ClientIdentity,
    options: UploadOptions,
    at: dt.datetime,
    actor: str,
    *,
    issuer_thumbprint: str,
    findings: tuple[Finding, ...],
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
                    policy_findings=findings_json(findings),
                    tbs_sha256=checked.tbs_sha256,
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
                details={"kid": row.kid, "group": row.group, **findings_detail(findings)},
            )
            record_change(kind="UPLOAD", at=at, country=row.country, thumbprint=row.thumbprint)
    except IntegrityError:
        # The unique indexes on thumbprint, kid and custom kid are DGCG's checks 4 and 5: the
        # insert is the transaction's first statement, so nothing else was written. Name the
        # clash (duplicate, revoked, kid) as the checks do.
        _check_not_present(checked, options, identity)
        raise Rejected(Reason.ALREADY_EXISTS, "Uploaded certificate already exists") from None
    return row
