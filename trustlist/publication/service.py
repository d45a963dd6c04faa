"""Publishing: level-triggered, idempotent, serialised, atomic (docs/publication-format.md).

publish() signs a snapshot of the database. It does nothing when nothing changed since the
last publication and that publication is not yet due for renewal, so a redelivered or
duplicated task publishes nothing new. Publishers are serialised by a PostgreSQL advisory lock
(several machines) and a lock on the publish folder (several processes of one machine); the
sequence number is a database-assigned id, reserved in its own committed transaction so that
it can never be handed out twice, even after a crash.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gateway.audit import log as audit_log
from gateway.audit.models import Action, Checkpoint, Outcome
from gateway.audit.services import record_event
from gateway.outbox.models import Change
from gateway.pki.signer import FileSigner, key_id
from trustlist.models import Publication, PublisherKeyState
from trustlist.publication import artifacts, files, keys, snapshot

logger = logging.getLogger(__name__)

_ADVISORY_LOCK_KEY = 0x7472757374  # "trust"


class PublicationRefused(Exception):
    """Publishing would not move the published sequence forward."""


def publish_dir() -> Path:
    return Path(settings.GATEWAY_PUBLISH_DIR)


def publish(*, at: dt.datetime | None = None, force: bool = False) -> Publication | None:
    """Publish if there are unpublished changes or the last publication is due for renewal.

    ``at`` defaults to the clock read *after* the lock is taken, so that issue times increase
    with sequence numbers even when publishers queue up behind each other.
    """
    with _serialised():
        last = Publication.objects.filter(index_sha256__gt="").order_by("-id").first()
        at = at or timezone.now()
        if last is not None and at < last.issued_at:
            at = last.issued_at
        since = last.change_high_water if last else 0
        pending = Change.objects.filter(id__gt=since).exists()
        renew = last is None or at >= last.issued_at + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_RENEW_AFTER)
        if not (force or pending or renew):
            return None
        if not keys.announced_keys():
            logger.warning("no publisher key is installed: nothing published (see `manage.py publisher_key`)")
            return None
        signer = keys.current_signer()
        with transaction.atomic():
            reserved = Publication.objects.create(
                issued_at=at,
                expires_at=at,
                previous=last.id if last else None,
                change_high_water=since,
                trust_list_sha256="",
                trust_list_length=0,
                revocation_list_sha256="",
                revocation_list_length=0,
                delta_sha256="",
                delta_length=0,
                index_sha256="",
                publisher_kid="",
                trusted_count=0,
                revoked_count=0,
            )
        _refuse_if_not_forward(reserved.id)
        # Three steps, so that no lock or snapshot is held while signing and writing megabytes:
        # a read-only snapshot, the sequence's files outside any transaction, then one short
        # transaction for the checkpoint, the index and the bookkeeping.
        with transaction.atomic():
            _repeatable_read()
            state = snapshot.take(since_change=since)
        written = _write_sequence(signer, state, reserved, at)
        with transaction.atomic():
            publication = _finish(signer, state, reserved, written, at)
            Change.objects.filter(id__lte=state.high_water, published_at__isnull=True).update(published_at=at)
            record_event(
                action=Action.PUBLISH,
                outcome=Outcome.SUCCESS,
                at=at,
                actor="publisher",
                details={
                    "sequence": publication.id,
                    "trusted": publication.trusted_count,
                    "revoked": publication.revoked_count,
                    "changes": state.high_water - since,
                },
            )
        _prune(publication.id)
        logger.info(
            "published sequence %s (%s trusted, %s revoked)",
            publication.id,
            publication.trusted_count,
            publication.revoked_count,
        )
        return publication


def _write_sequence(
    signer: FileSigner, state: snapshot.Snapshot, reserved: Publication, at: dt.datetime
) -> tuple[artifacts.Artifact, artifacts.Artifact, artifacts.Artifact]:
    """The sequence's own files (and the DID document); nothing refers to them until the index."""
    sequence, root = reserved.id, publish_dir()
    trust = artifacts.trust_list(signer, state, sequence=sequence, issued_at=at)
    revocations = artifacts.revocation_list(signer, state, sequence=sequence, issued_at=at)
    delta = artifacts.delta(signer, state, sequence=sequence, previous=reserved.previous, issued_at=at)
    for artifact in (trust, revocations, delta):
        files.write_atomically(root, artifact.path, artifact.data, with_gzip=artifact is not delta)
    if settings.GATEWAY_PUBLISH_DID:
        did = artifacts.did_document(
            signer, state, did=settings.GATEWAY_DID_ID, issued_at=at, virtual=settings.GATEWAY_VIRTUAL_COUNTRY_ALPHA3
        )
        files.write_atomically(root, did.path, did.data, with_gzip=True)
    return trust, revocations, delta


def _finish(
    signer: FileSigner,
    state: snapshot.Snapshot,
    reserved: Publication,
    written: tuple[artifacts.Artifact, artifacts.Artifact, artifacts.Artifact],
    at: dt.datetime,
) -> Publication:
    trust, revocations, delta = written
    sequence, root = reserved.id, publish_dir()
    expires_at = at + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_VALIDITY)
    reserved.issued_at, reserved.expires_at = at, expires_at
    reserved.change_high_water = state.high_water
    reserved.trust_list_sha256, reserved.trust_list_length = trust.sha256, len(trust.data)
    reserved.revocation_list_sha256, reserved.revocation_list_length = revocations.sha256, len(revocations.data)
    reserved.delta_sha256, reserved.delta_length = delta.sha256, len(delta.data)
    reserved.trusted_count, reserved.revoked_count = len(state.trusted), len(state.revoked)
    reserved.publisher_kid = key_id(signer.chain[0])
    index = artifacts.index(
        signer,
        sequence=sequence,
        issued_at=at,
        expires_at=expires_at,
        trust=trust,
        revocations=revocations,
        trusted_count=len(state.trusted),
        revoked_count=len(state.revoked),
        deltas=[
            *_recent_deltas(exclude=sequence),
            {**delta.descriptor(), "sequence": sequence, "previous": reserved.previous},
        ],
        publisher_keys=_announced_keys(),
        checkpoint=_checkpoint(signer, at),
    )
    reserved.index_sha256 = index.sha256
    reserved.save()
    # The index goes last: until it is renamed into place, readers follow the previous one.
    files.write_atomically(root, index.path, index.data)
    return reserved


def _checkpoint(signer: FileSigner, at: dt.datetime) -> dict[str, object] | None:
    """Sign the audit log's current head (if it grew) and put the latest one in the index."""
    audit_log.make_checkpoint(at=at, signer=signer)
    latest = Checkpoint.objects.first()
    return audit_log.exported(latest) if latest else None


def _recent_deltas(*, exclude: int) -> list[dict[str, object]]:
    window = settings.GATEWAY_PUBLISH_DELTA_WINDOW - 1
    rows = Publication.objects.filter(index_sha256__gt="").exclude(id=exclude).order_by("-id")[:window]
    return [
        {
            "path": f"{artifacts.sequence_dir(row.id)}/delta.jws",
            "sha256": row.delta_sha256,
            "length": row.delta_length,
            "sequence": row.id,
            "previous": row.previous,
        }
        for row in reversed(rows)
    ]


def _announced_keys() -> list[dict[str, str]]:
    return [
        {
            "kid": key_id(keys.der_of(key)),
            "status": key.state.lower(),
            "certificate": base64.b64encode(keys.der_of(key)).decode("ascii"),
        }
        for key in keys.announced_keys()
        if key.state in (PublisherKeyState.CURRENT, PublisherKeyState.NEXT)
    ]


def _refuse_if_not_forward(sequence: int) -> None:
    """Never overwrite the published index with a sequence at or below its own."""
    current = published_sequence(publish_dir())
    if current is not None and sequence <= current:
        raise PublicationRefused(f"sequence {sequence} is not above the published {current}")


def published_sequence(root: Path) -> int | None:
    """The sequence in the index on disk (read without verification: we wrote it)."""
    try:
        compact = (root / "index.jws").read_bytes()
    except FileNotFoundError:
        return None
    payload = compact.split(b".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))["sequence"])


def _prune(sequence: int) -> None:
    recent = list(
        Publication.objects.filter(index_sha256__gt="")
        .order_by("-id")
        .values_list("id", flat=True)[: settings.GATEWAY_PUBLISH_DELTA_WINDOW]
    )
    files.prune(
        publish_dir(),
        keep_full=set(recent[: settings.GATEWAY_PUBLISH_KEEP_FULL]) | {sequence},
        keep_any=set(recent) | {sequence},
    )


def _repeatable_read() -> None:
    # The lists and the outbox high-water mark must describe one instant (PostgreSQL's default
    # READ COMMITTED gives each statement its own snapshot). SQLite transactions are serialisable.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


@contextlib.contextmanager
def _serialised() -> Iterator[None]:
    with files.folder_lock(publish_dir()):
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_ADVISORY_LOCK_KEY])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_LOCK_KEY])
