"""Uploading, updating and deleting trusted references (TNG's TrustedReferenceService): every
change audited, every refusal audited with its named reason and nothing stored.

No outbox row: references are not published to verifiers (a DCC verifier checks a certificate's
signature against a DSC and needs no pointer to a country's services; docs/api.md). They are
served over the API only, each with the CMS its country signed."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.db import transaction

from countries.identity import ClientIdentity
from countries.models import CertificateType
from countries.policy import configured_cms_policy
from countries.services import verified_parties_by_type
from countries.uploaders import check_uploader, record_refusal
from gateway.audit.models import Action, Outcome
from gateway.audit.services import record_event
from gateway.pki import cms
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import findings_detail
from references import checks
from references.models import TrustedReference

PARTIES = (CertificateType.UPLOAD,)


def upload_reference(
    *, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, actor: str = ""
) -> tuple[TrustedReference, bool]:
    """TNG's POST /trust/reference: the CMS's payload is the reference JSON; one with a ``uuid``
    replaces that reference of the uploader's country. Returns the row and whether it is new.
    A refusal of a payload that names a uuid is recorded as a refused update, of that uuid."""
    message: cms.SignedMessage | None = None
    action, named = Action.REFERENCE_UPLOAD, ""
    try:
        message = _signed(cms_der, identity, at)
        value = checks.parse_json(message.payload)
        if value.get("uuid") is not None:
            action, named = Action.REFERENCE_UPDATE, checks.sent_uuid(value)
        reference = checks.check_reference(value, country=identity.country)
        return _store(reference, message, identity, at, actor)
    except Rejected as exc:
        signer = message.signer_der if message else None
        extra = {"uuid": named} if named else {}
        record_refusal(action, exc, identity, at=at, actor=actor, signer_der=signer, **extra)
        raise


def delete_reference(*, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, actor: str = "") -> str:
    """TNG's DELETE /trust/reference: the CMS's payload is ``{"uuid": ...}``; only the country
    that uploaded a reference deletes it. Returns the uuid."""
    message: cms.SignedMessage | None = None
    named = ""
    try:
        message = _signed(cms_der, identity, at)
        named = checks.uuid_of(checks.parse_json(message.payload))
        with transaction.atomic():
            row = _own(named, identity.country)
            details = _details(row)
            row.delete()
            record_event(
                action=Action.REFERENCE_DELETE,
                outcome=Outcome.SUCCESS,
                at=at,
                country=identity.country,
                actor=actor,
                authentication_thumbprint=identity.thumbprint,
                uploader_thumbprint=thumbprint(message.signer_der),
                details=details,
            )
        return named
    except Rejected as exc:
        signer = message.signer_der if message else None
        extra = {"uuid": named} if named else {}
        record_refusal(Action.REFERENCE_DELETE, exc, identity, at=at, actor=actor, signer_der=signer, **extra)
        raise


def _signed(cms_der: bytes, identity: ClientIdentity, at: dt.datetime) -> cms.SignedMessage:
    """The CMS verifies (TNG's 0x260 otherwise) and its signer is one of the country's UPLOAD
    certificates, within its validity (TNG's 403 "Invalid Upload Certificate")."""
    message = cms.parse_attached(cms_der, configured_cms_policy())
    uploads = verified_parties_by_type(
        country=identity.country, certificate_types=list(PARTIES), prefetched=identity.prefetched
    )[CertificateType.UPLOAD]
    check_uploader(message, identity, uploads, at)
    return message


def _own(reference_uuid: str, country: str) -> TrustedReference:
    """The reference of that uuid, locked, if it is ``country``'s (TNG lets a country update
    another's reference by its uuid; it refuses only another's deletion)."""
    row = TrustedReference.objects.select_for_update().filter(uuid=reference_uuid).first()
    if row is None:
        raise Rejected(Reason.REFERENCE_NOT_FOUND, f"Trusted Reference {reference_uuid} does not exist.")
    if row.country != country:
        raise Rejected(
            Reason.REFERENCE_OTHER_COUNTRY,
            f"the reference is {row.country}'s: it is not allowed to change trusted references of other countries",
        )
    return row


def _store(
    reference: checks.Reference, message: cms.SignedMessage, identity: ClientIdentity, at: dt.datetime, actor: str
) -> tuple[TrustedReference, bool]:
    with transaction.atomic():
        if reference.uuid is None:
            row = TrustedReference(uuid=checks.new_uuid(), country=reference.country, created_at=at, version=1)
        else:
            row = _own(reference.uuid, identity.country)
            row.version += 1
        created = reference.uuid is None
        row.domain = reference.domain
        row.reference_type = reference.reference_type
        row.url = reference.url
        row.service = reference.service
        row.thumbprint = reference.thumbprint
        row.name = reference.name
        row.ssl_public_key = reference.ssl_public_key
        row.content_type = reference.content_type
        row.signature_type = reference.signature_type
        row.reference_version = reference.reference_version
        row.cms = base64.b64encode(message.cms_der).decode("ascii")
        row.uploader_thumbprint = thumbprint(message.signer_der)
        row.updated_at = at
        row.save()
        record_event(
            action=Action.REFERENCE_UPLOAD if created else Action.REFERENCE_UPDATE,
            outcome=Outcome.SUCCESS,
            at=at,
            country=identity.country,
            actor=actor,
            authentication_thumbprint=identity.thumbprint,
            uploader_thumbprint=row.uploader_thumbprint,
            details={**_details(row), **findings_detail(message.findings)},
        )
    return row, created


def _details(row: TrustedReference) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "version": row.version,
        "type": row.reference_type,
        "domain": row.domain,
        "url": row.url,
        "signatureType": row.signature_type,
    }
