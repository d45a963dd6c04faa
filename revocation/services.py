"""Uploading, deleting and re-signing revocation batches, and the cleanup: every change audited and written to
the outbox (kind REVOCATION_BATCH, scoped to the group of revoked hashes it changes), every refusal
audited with its named reason and nothing stored. DGCG's RevocationListService and RevocationListCleanupService."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
from collections import defaultdict

from django.db import transaction

from countries.identity import ClientIdentity
from countries.models import CertificateType
from countries.policy import configured_cms_policy
from countries.services import verified_parties_by_type
from countries.signer_kids import is_dsc_kid
from countries.uploaders import check_uploader, record_refusal, record_resigned, replaces
from gateway.audit.models import Action, Outcome
from gateway.audit.refusals import record_refused
from gateway.audit.services import record_event
from gateway.outbox.services import record_change
from gateway.pki import cms
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import findings_detail
from revocation import batches
from revocation.models import RevocationBatch, RevocationHash
from revocation.scopes import scope_of

BATCH_CHANGE = "REVOCATION_BATCH"  # outbox kind, scoped to the batch's group (revocation.content)
PARTIES = (CertificateType.UPLOAD,)
CLEANUP_ACTOR = "revocation-cleanup"


def upload_batch(*, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, actor: str = "") -> RevocationBatch:
    """DGCG's POST /revocation-list: the CMS's payload is the batch JSON."""
    message: cms.SignedMessage | None = None
    try:
        message = _signed(cms_der, identity, at)
        value = batches.parse_json(message.payload)
        batch = batches.check_batch(
            value, country=identity.country, at=at, kid_known=lambda kid: is_dsc_kid(identity.country, kid)
        )
    except Rejected as exc:
        record_refusal(
            Action.REVOCATION_BATCH_UPLOAD,
            exc,
            identity,
            at=at,
            actor=actor,
            signer_der=message.signer_der if message else None,
        )
        raise
    return _store(batch, message, identity, at, actor)


def delete_batch(*, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, actor: str = "") -> RevocationBatch:
    """DGCG's DELETE /revocation-list: the CMS's payload is ``{"batchId": ...}``."""
    message: cms.SignedMessage | None = None
    batch_id = ""
    try:
        message = _signed(cms_der, identity, at)
        batch_id = batches.batch_id_of(batches.parse_json(message.payload))
        return mark_deleted(
            batch_id, country=identity.country, at=at, actor=actor, via=identity.thumbprint, signer=message.signer_der
        )
    except Rejected as exc:
        signer = message.signer_der if message else None
        extra = {"batchId": batch_id} if batch_id else {}
        record_refusal(Action.REVOCATION_BATCH_DELETE, exc, identity, at=at, actor=actor, signer_der=signer, **extra)
        raise


def delete_by_person(batch_id: str, *, country: str, at: dt.datetime, actor: str) -> RevocationBatch:
    """A person deletes a batch in the admin (their permission checked by the caller through
    countries.permissions); a refusal (the batch went meanwhile) is recorded here, as the API's are."""
    try:
        return mark_deleted(batch_id, country=country, at=at, actor=actor)
    except Rejected as exc:
        record_refused(
            exc,
            action=Action.REVOCATION_BATCH_DELETE,
            at=at,
            country=country,
            actor=actor,
            details={"batchId": batch_id},
        )
        raise


def mark_deleted(
    batch_id: str, *, country: str, at: dt.datetime, actor: str, via: str = "", signer: bytes | None = None
) -> RevocationBatch:
    """DGCG's soft deletion: the CMS goes, ``deleted`` and ``changed`` are set, the batch stays
    listed as deleted until the cleanup purges it; its hashes go now (nothing distributes them)."""
    with transaction.atomic():
        batch = RevocationBatch.objects.select_for_update().filter(batch_id=batch_id).first()
        if batch is None:
            raise Rejected(Reason.REVOCATION_BATCH_NOT_FOUND, "Batch does not exist.")
        if batch.country != country:
            raise Rejected(Reason.REVOCATION_BATCH_COUNTRY, f"the batch is {batch.country}'s, not {country}'s")
        if batch.deleted:
            raise Rejected(Reason.REVOCATION_BATCH_DELETED, "Batch already deleted.")
        _soft_delete(batch, at)
        record_event(
            action=Action.REVOCATION_BATCH_DELETE,
            outcome=Outcome.SUCCESS,
            at=at,
            country=country,
            actor=actor,
            authentication_thumbprint=via,
            uploader_thumbprint=thumbprint(signer) if signer else "",
            details={"batchId": batch_id},
        )
        record_change(kind=BATCH_CHANGE, at=at, country=country, scope=scope_of(batch.country, batch.kid))
    return batch


def replace_signature(
    *, batch_pk: int, message: cms.SignedMessage, country: str, at: dt.datetime, actor: str = "", via: str = ""
) -> bool:
    """A CMS migration of one of ``country``'s batches (``migration.services``, which checked that
    a valid UPLOAD certificate of ``country`` signed ``message``): the stored CMS, which
    ``GET /revocation-list/{batchId}`` answers, becomes the new one if it signs exactly the stored
    batch JSON (as DGCG requires) and is not older than the stored one; ``changed`` moves, as in
    DGCG, so that the list names the batch again and clients download its new CMS. Its hashes stay
    published throughout. Returns whether it changed (the same CMS again changes nothing: a retry).
    A refusal is recorded by the caller."""
    with transaction.atomic():
        batch = RevocationBatch.objects.select_for_update().filter(pk=batch_pk).first()
        if batch is None:
            raise Rejected(Reason.MIGRATION_NOT_FOUND, "RevocationBatch to be updated does not exist.")
        if batch.country != country:
            raise Rejected(Reason.MIGRATION_COUNTRY, f"the batch is {batch.country}'s, not {country}'s")
        if batch.deleted:
            raise Rejected(Reason.MIGRATION_WITHDRAWN, "Batch already deleted.")
        stored = base64.b64decode(batch.cms)
        if not hmac.compare_digest(message.payload, cms.read_stored(stored).content or b""):
            raise Rejected(Reason.MIGRATION_PAYLOAD_MISMATCH, "New cms payload does not match present payload")
        changed = replaces(stored, message)
        previous = batch.uploader_thumbprint
        if changed:
            batch.cms = base64.b64encode(message.cms_der).decode("ascii")
            batch.uploader_thumbprint = thumbprint(message.signer_der)
            batch.changed = at
            batch.save(update_fields=["cms", "uploader_thumbprint", "changed"])
        record_resigned(
            message,
            changed=changed,
            previous_uploader=previous,
            at=at,
            country=country,
            actor=actor,
            via=via,
            details={"type": "REVOCATION_LIST", "entityId": batch.pk, "batchId": batch.batch_id},
        )
        if changed:
            # Its group of hashes is unchanged (the publisher finds the same parts); the change is
            # recorded all the same, as every change of the room is.
            record_change(kind=BATCH_CHANGE, at=at, country=country, scope=scope_of(batch.country, batch.kid))
        return changed


def clean_up(*, at: dt.datetime, purge_after: dt.timedelta) -> tuple[int, int]:
    """DGCG's revocation_batch_cleanup: batches past their expiry are marked deleted (so clients
    that hold them learn it from the list), and deleted batches whose last change is older than
    ``purge_after`` (DGCG's delete-threshold, 14 days) are removed for good. Each expiry is
    audited, each purge once per country. Returns (expired, purged)."""
    with transaction.atomic():
        expired = list(RevocationBatch.objects.select_for_update().filter(deleted=False, expires__lte=at))
        for batch in expired:
            _soft_delete(batch, at)
            record_event(
                action=Action.REVOCATION_BATCH_EXPIRED,
                outcome=Outcome.SUCCESS,
                at=at,
                country=batch.country,
                actor=CLEANUP_ACTOR,
                details={"batchId": batch.batch_id, "expires": batch.expires.isoformat()},
            )
        stale = RevocationBatch.objects.select_for_update().filter(deleted=True, changed__lte=at - purge_after)
        purged: dict[str, list[str]] = defaultdict(list)
        for country, batch_id in stale.values_list("country", "batch_id"):
            purged[country].append(batch_id)
        stale.delete()
        for country, batch_ids in sorted(purged.items()):
            record_event(
                action=Action.REVOCATION_BATCH_PURGE,
                outcome=Outcome.SUCCESS,
                at=at,
                country=country,
                actor=CLEANUP_ACTOR,
                details={"batchIds": sorted(batch_ids)},
            )
        # A purge changes no group: its batches lost their hashes when they were deleted.
        for country, kid in sorted({(batch.country, batch.kid) for batch in expired}):
            record_change(kind=BATCH_CHANGE, at=at, country=country, scope=scope_of(country, kid))
    return len(expired), sum(len(batch_ids) for batch_ids in purged.values())


def _soft_delete(batch: RevocationBatch, at: dt.datetime) -> None:
    RevocationHash.objects.filter(batch=batch).delete()
    batch.cms = ""
    batch.deleted = True
    batch.changed = at
    batch.save(update_fields=["cms", "deleted", "changed"])


def _signed(cms_der: bytes, identity: ClientIdentity, at: dt.datetime) -> cms.SignedMessage:
    message = cms.parse_attached(cms_der, configured_cms_policy())
    uploads = verified_parties_by_type(
        country=identity.country, certificate_types=list(PARTIES), prefetched=identity.prefetched
    )[CertificateType.UPLOAD]
    check_uploader(message, identity, uploads, at)
    return message


def _store(
    batch: batches.Batch, message: cms.SignedMessage, identity: ClientIdentity, at: dt.datetime, actor: str
) -> RevocationBatch:
    with transaction.atomic():
        row = RevocationBatch.objects.create(
            batch_id=batches.new_batch_id(),
            country=batch.country,
            kid=batch.kid,
            hash_type=batch.hash_type,
            expires=batch.expires,
            created_at=at,
            changed=at,
            cms=base64.b64encode(message.cms_der).decode("ascii"),
            entry_count=len(batch.hashes),
            uploader_thumbprint=thumbprint(message.signer_der),
        )
        RevocationHash.objects.bulk_create(
            RevocationHash(batch=row, kid=batch.kid, hash_type=batch.hash_type, hash=value) for value in batch.hashes
        )
        record_event(
            action=Action.REVOCATION_BATCH_UPLOAD,
            outcome=Outcome.SUCCESS,
            at=at,
            country=identity.country,
            actor=actor,
            authentication_thumbprint=identity.thumbprint,
            uploader_thumbprint=row.uploader_thumbprint,
            details={
                "batchId": row.batch_id,
                "kid": row.kid,
                "hashType": row.hash_type,
                "entries": row.entry_count,
                "expires": row.expires.isoformat(),
                **findings_detail(message.findings),
            },
        )
        record_change(kind=BATCH_CHANGE, at=at, country=identity.country, scope=scope_of(row.country, row.kid))
    return row
