"""Publishing: incremental, level-triggered, idempotent, serialised, atomic (docs/publication-format.md).

Two operations:

- :func:`publish` (per change, milliseconds): reads only the outbox rows after the last published
  high-water mark and the rows they name, and publishes them as the delta of a new sequence S and
  a new index. The index names the most recent full lists, of a sequence F ≤ S, and the head of
  the hash chain of deltas (each names the one before it) that reaches back to F and older
  sequences, up to the window, so a verifier holding the full lists of F, or the state of any
  sequence the chain reaches, gets to S.
- :func:`rebuild_full` (background, seconds at 100,000 DSCs): reads everything, rolls that state
  forward to a published sequence F through F's own deltas, writes the full lists of F, and
  publishes a new index that names them; then the DID document.

Both do nothing when there is nothing to do, so a redelivered or duplicated task publishes nothing
new. Publishers are serialised (``publication.locks``). The sequence number is a database-assigned
id, reserved in its own committed transaction, so it can never be handed out twice, even after a
crash. Rebuilds are serialised among themselves and take the publishers' lock only for the
milliseconds of publishing an index, so a change is never queued behind one.

The delta of sequence S is derived from exactly the state of S's predecessor: it holds, for every
certificate touched by an outbox change in (hw(prev), hw(S)], its state at hw(S), read in one
snapshot; outbox ids are handed out in commit order, so a snapshot that sees change hw sees every
change before it. The full lists of F are that state at hw(F) exactly: a rebuild's snapshot (at
some hw) lies between two published sequences K-1 and K, and applying the deltas of K..F to it gives
the state at hw(F), since a certificate that no delta touched has not changed.

The chain of deltas is ``publication.chain``'s, spans are ``publication.spans``', and what stays
in the publish folder is ``publication.pruning``'s.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gateway.audit import log as audit_log
from gateway.audit.models import Action, Checkpoint, Outcome
from gateway.audit.services import record_event
from gateway.outbox.models import Change
from gateway.signing import keys
from gateway.signing.backend import Signer, key_id
from publication import artifacts, did, files, partitions, providers, snapshot
from publication.chain import chain_start, deltas_since, descriptor, link
from publication.folder import publish_dir, published_delta, refuse_if_not_forward
from publication.locks import read_snapshot, serialised
from publication.models import Publication
from publication.pruning import RETAIN_SECONDS, prune
from publication.spans import Span, make_span, newest_span, record_span
from verifier.encoding import canonical_json
from verifier.entries import restore_body

logger = logging.getLogger(__name__)

# If the background rebuild falls this many windows behind, a publication builds the full lists
# itself rather than let the chain a new verifier walks from F (every delta since F) grow without bound.
CHAIN_LIMIT_WINDOWS = 10


# --- per change ----------------------------------------------------------------------------------------


def publish(*, at: dt.datetime | None = None, force: bool = False, full: bool = False) -> Publication | None:
    """Publish outstanding changes as the delta of a new sequence and a new index, or renew the
    index when it is due. ``force`` publishes a new sequence even without changes; ``full`` (and
    the very first publication) also writes the full lists of the new sequence, synchronously.

    ``at`` defaults to the clock read *after* the lock is taken, so that issue times increase
    with sequence numbers even when publishers queue up behind each other.
    """
    with serialised():
        return _publish_locked(at=at, force=force, full=full)


def _publish_locked(
    *,
    at: dt.datetime | None,
    force: bool,
    full: bool,
    named: artifacts.FullLists | None = None,
    named_span: Span | None = None,
) -> Publication | None:
    last = Publication.objects.published().newest()
    at = at or timezone.now()
    if last is not None and at < last.issued_at:
        at = last.issued_at
    since = last.change_high_water if last else 0
    current = _named_full(last)
    newer = named is not None and (current is None or named.sequence > current.sequence)
    pending = Change.objects.filter(id__gt=since).exists()
    renew = last is None or at >= last.issued_at + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_RENEW_AFTER)
    if not (force or full or pending or renew or newer):
        return None
    if not keys.announced_keys():
        logger.warning("no publisher key is installed: nothing published (see `manage.py publisher_key`)")
        return None
    signer = keys.current_signer()
    if current is None or deltas_since(current.sequence) >= CHAIN_LIMIT_WINDOWS * settings.GATEWAY_PUBLISH_DELTA_WINDOW:
        full = True
    with transaction.atomic():
        reserved = Publication.objects.reserve(at=at, previous=last.id if last else None, high_water=since)
    refuse_if_not_forward(reserved.id)
    target = named if newer else current
    # (head's chain start, for the full lists it was computed for): reused by _finish when the
    # index names those lists, as every per-change publication does.
    chain = None if target is None else (chain_start(reserved, full_sequence=target.sequence), target.sequence)
    if chain is not None and chain[0] > chain[1]:
        # The chain of deltas no longer reaches the full lists (their deltas predate index
        # version 3 and name no predecessor): this sequence gets full lists of its own.
        full = True
    # No lock or snapshot is held while signing and writing: a read-only snapshot, the
    # sequence's files outside any transaction, then one short transaction for the bookkeeping.
    with read_snapshot():
        changes = snapshot.take_changes(since) if last is not None else None
        # An outbox row that names no certificate (a bulk import, say) cannot be a delta: the
        # sequence gets full lists and no delta, and every verifier downloads them ("reset").
        reset = last is None or (changes is not None and changes.reset)
        state = snapshot.take_full() if full or reset else None
        values = _read_named(last, since)
    if state is not None:
        assert changes is None or state.high_water == changes.high_water, "one snapshot"
        named = artifacts.write_full_lists(publish_dir(), signer, state, sequence=reserved.id, issued_at=at)
        changes = changes or snapshot.Changes(high_water=state.high_water)
    elif not newer:
        named = current
    span = named_span if newer else None
    assert named is not None
    assert changes is not None
    held = last.artifacts if last is not None else {}
    named_artifacts, written = _write_named(signer, values, held, sequence=reserved.id, issued_at=at)
    delta = None
    if not reset:
        delta = artifacts.delta(
            changes,
            sequence=reserved.id,
            previous=reserved.previous,
            previous_delta=link(last, "delta") if last is not None and last.delta_sha256 else None,
            issued_at=at,
            named={name: named_artifacts[name]["descriptor"] for name in written},
        )
        files.write_atomically(publish_dir(), delta.path, delta.data)
    if state is not None:
        span = make_span(state, reserved.id, at, own=None if reset else changes.touched)
    with transaction.atomic():
        publication, index = _finish(
            signer, reserved, changes, named, delta, at, chain=chain, span=span, named_artifacts=named_artifacts
        )
        Change.objects.filter(id__lte=changes.high_water, published_at__isnull=True).update(published_at=at)
        record_event(
            action=Action.PUBLISH,
            outcome=Outcome.SUCCESS,
            at=at,
            actor="publisher",
            details={
                "sequence": publication.id,
                "full": named.sequence,
                "changes": changes.high_water - since,
                "touched": len(changes.touched),
                "reset": reset,
            },
        )
    # The index goes last, after the commit: until it is renamed into place, readers follow the
    # previous one, and every file it names (this delta, the earlier ones, the full lists) exists.
    refuse_if_not_forward(publication.id)
    files.write_atomically(publish_dir(), index.path, index.data)
    if state is not None and settings.GATEWAY_PUBLISH_DID:
        _write_did(signer, state, at)
    prune(publication)
    logger.info(
        "published sequence %s (%s change(s), full lists of %s)", publication.id, len(changes.touched), named.sequence
    )
    return publication


def _finish(
    signer: Signer,
    reserved: Publication,
    changes: snapshot.Changes,
    named: artifacts.FullLists,
    delta: artifacts.Artifact | None,
    at: dt.datetime,
    *,
    chain: tuple[int, int] | None,
    span: Span | None,
    named_artifacts: dict[str, dict[str, Any]],
) -> tuple[Publication, artifacts.Artifact]:
    expires_at = at + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_VALIDITY)
    reserved.issued_at, reserved.expires_at = at, expires_at
    reserved.change_high_water = changes.high_water
    reserved.full_sequence = named.sequence
    reserved.trust_list_sha256, reserved.trust_list_length = named.trust_list.sha256, named.trust_list.length
    reserved.revocation_list_sha256 = named.revocation_list.sha256
    reserved.revocation_list_length = named.revocation_list.length
    reserved.trusted_count, reserved.revoked_count = named.trusted, named.revoked
    reserved.publisher_kid = key_id(signer.chain[0])
    reserved.artifacts = named_artifacts
    head: dict[str, object] | None = None
    start = reserved.id
    if delta is not None:  # else a reset: no chain leads here, the full lists of this sequence do
        reserved.delta_sha256, reserved.delta_length = delta.sha256, len(delta.data)
        head = descriptor(reserved, "delta")
        if chain is not None and chain[1] == named.sequence:
            start = chain[0]
        else:  # the index names other full lists than those the chain start was computed for
            start = chain_start(reserved, full_sequence=named.sequence)
    reserved.chain_start = start
    if span is not None and span.sequence == named.sequence:
        record_span(reserved, span)
    span_head, span_start = newest_span(reserved, start)
    index = artifacts.index(
        signer,
        sequence=reserved.id,
        issued_at=at,
        expires_at=expires_at,
        full=named,
        head=head,
        chain_start=start,
        span=span_head,
        span_start=span_start,
        publisher_keys=_announced_keys(at),
        checkpoint=_checkpoint(signer, at),
        named={name: entry["descriptor"] for name, entry in named_artifacts.items()},
    )
    reserved.index_sha256 = index.sha256
    reserved.save()
    return reserved, index


def _named_full(publication: Publication | None) -> artifacts.FullLists | None:
    """The full lists the index of ``publication`` names."""
    if publication is None or publication.full_sequence is None:
        return None
    folder = artifacts.sequence_dir(publication.full_sequence)
    return artifacts.FullLists(
        sequence=publication.full_sequence,
        trust_list=artifacts.Written(
            f"{folder}/trustlist.jws", publication.trust_list_sha256, publication.trust_list_length
        ),
        trusted=publication.trusted_count,
        revocation_list=artifacts.Written(
            f"{folder}/revocations.jws", publication.revocation_list_sha256, publication.revocation_list_length
        ),
        revoked=publication.revoked_count,
    )


def _read_named(last: Publication | None, since: int) -> dict[str, Any]:
    """The value now of each named content that an outbox change after ``since`` changed, or
    that the last index does not name yet (inside the read snapshot): ``publication.providers``.
    Partitioned content is read for the groups changed only, onto the manifest held, its new
    parts written on the way (``publication.partitions``)."""
    contents = providers.named_contents()
    if not contents:
        return {}
    held = last.artifacts if last is not None else {}
    changed = Change.objects.filter(id__gt=since, kind__in=providers.named_change_kinds())
    kinds = set(changed.values_list("kind", flat=True).distinct())
    values: dict[str, Any] = {}
    for content in contents:
        name = content.name
        if name in held and not kinds & content.change_kinds:
            continue
        if not isinstance(content, providers.PartitionedContent):
            values[name] = content.full()
            continue
        previous = partitions.held_manifest(publish_dir(), held[name]["descriptor"]["path"]) if name in held else None
        scopes = set(changed.filter(kind__in=content.change_kinds).values_list("scope", flat=True).distinct())
        values[name] = partitions.manifest(
            content,
            publish_dir(),
            previous,
            None if "" in scopes else scopes,
        )
    return values


def _write_named(
    signer: Signer, values: dict[str, Any], held: dict[str, dict[str, Any]], *, sequence: int, issued_at: dt.datetime
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The named artifacts of ``sequence``'s index, and the names it wrote a new version of: a
    value read that differs from the version held is written; any other keeps the held version.
    Content no longer registered leaves the index."""
    current: dict[str, dict[str, Any]] = {}
    written: list[str] = []
    for content in providers.named_contents():
        name = content.name
        entry = held.get(name)
        if name in values:
            digest = hashlib.sha256(canonical_json(values[name])).hexdigest()
            if entry is None or entry.get("digest") != digest:
                artifact = artifacts.named_artifact(signer, name, values[name], sequence=sequence, issued_at=issued_at)
                files.write_atomically(publish_dir(), artifact.path, artifact.data)
                entry = {"descriptor": {**artifact.descriptor(), "sequence": sequence}, "digest": digest}
                written.append(name)
        if entry is not None:
            current[name] = entry
    return current, written


def _checkpoint(signer: Signer, at: dt.datetime) -> dict[str, object] | None:
    """Sign the audit log's current head (if it grew) and put the latest one in the index."""
    audit_log.make_checkpoint(at=at, signer=signer)
    latest_checkpoint = Checkpoint.objects.first()
    return audit_log.tree_head(latest_checkpoint) if latest_checkpoint else None


def _announced_keys(at: dt.datetime) -> list[dict[str, str]]:
    """The current and next keys; and, while the files they signed may still be on a chain a
    verifier walks (the chain of spans reaches back GATEWAY_PUBLISH_SPAN_KEEP_SECONDS), the keys
    retired since."""
    since = at - dt.timedelta(seconds=settings.GATEWAY_PUBLISH_SPAN_KEEP_SECONDS + RETAIN_SECONDS)
    return [
        {
            "kid": key_id(keys.der_of(key)),
            "status": key.state.lower(),
            "certificate": base64.b64encode(keys.der_of(key)).decode("ascii"),
        }
        for key in [*keys.announced_keys(), *keys.recently_retired(since=since)]
        if key.certificate
    ]


# --- background rebuild of the full lists -------------------------------------------------------------------


def rebuild_due(at: dt.datetime | None = None) -> float | None:
    """Seconds until the full lists should be rebuilt (0 or less: now), or None if they are current.

    Due when ``GATEWAY_PUBLISH_FULL_AFTER_DELTAS`` deltas with changes followed the full lists the
    index names, or ``GATEWAY_PUBLISH_FULL_AFTER_SECONDS`` after the first of them was published.
    """
    at = at or timezone.now()
    last = Publication.objects.published().newest()
    if last is None or last.full_sequence is None:
        return None
    base = Publication.objects.high_water_of(last.full_sequence)
    if base is None or base >= last.change_high_water:
        return None  # only renewals (empty deltas) since
    behind = Publication.objects.published().after(last.full_sequence).changed_after(base)
    if behind.count() >= settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS:
        return 0.0
    first = behind.first_issued_at()
    if first is None:
        return None
    return (first + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_FULL_AFTER_SECONDS) - at).total_seconds()


class _Superseded(Exception):
    """Full lists newer than the rebuild's snapshot were published meanwhile (a reset)."""


def rebuild_full(*, at: dt.datetime | None = None, wait: bool = True) -> Publication | None:
    """Rebuild the full lists (and the DID document) outside the publishers' lock, and publish an
    index that names them. Returns that publication, or None if the full lists were current.
    Without ``wait``, raise :class:`publication.locks.RebuildRunning` rather than wait for another rebuild (a
    worker process must not sit out a rebuild while changes wait to be published)."""
    with serialised(rebuild=True, wait=wait):
        last = Publication.objects.published().newest()
        if last is None or last.full_sequence is None:
            return publish(at=at, full=True)
        base = Publication.objects.high_water_of(last.full_sequence)
        if (
            base is not None
            and base >= last.change_high_water
            and not Change.objects.filter(id__gt=last.change_high_water).exists()
        ):
            return None
        with read_snapshot():
            state = snapshot.take_full()
        target = Publication.objects.published().newest()
        if target is None or target.change_high_water < state.high_water:
            # The snapshot holds changes not published yet: publish them, so that a sequence at
            # or after the snapshot exists to roll forward to.
            publish(at=at)
            target = Publication.objects.published().newest()
            if target is None or target.change_high_water < state.high_water:
                return None
        if target.full_sequence == target.id:
            # Its own publication wrote its full lists (a reset, the chain limit, a forced full
            # publication) while this snapshot was read: they are current, and immutable.
            logger.info("rebuild not needed: sequence %s has full lists of its own", target.id)
            return None
        try:
            _roll_forward(state, target)
        except _Superseded as exc:
            logger.info("rebuild not needed: %s", exc)
            return None
        signer = keys.current_signer()
        built_at = at or timezone.now()
        lists = artifacts.write_full_lists(publish_dir(), signer, state, sequence=target.id, issued_at=built_at)
        span = make_span(state, target.id, built_at, own=None)
        with serialised():
            publication = _publish_locked(at=at, force=False, full=False, named=lists, named_span=span)
        if publication is not None and settings.GATEWAY_PUBLISH_DID:
            _write_did(signer, state, built_at)
        logger.info(
            "rebuilt the full lists of sequence %s (%s trusted, %s revoked)", target.id, lists.trusted, lists.revoked
        )
        return publication


def _roll_forward(state: snapshot.State, target: Publication) -> None:
    """Apply to ``state`` the published deltas that changed anything after its high-water mark,
    up to ``target``: the state of ``target`` exactly (see the module's docstring)."""
    rows = Publication.objects.published().up_to(target.id).changed_after(state.high_water).deltas()
    for sequence, sha256, plain in rows:
        if not sha256:
            raise _Superseded(f"sequence {sequence} was a reset: its full lists are newer than this snapshot")
        payload = restore_body(published_delta(sequence, sha256, plain=plain))
        for entry in payload["upsert"]:
            state.trusted[entry["thumbprint"]] = snapshot.trusted_from_entry(entry)
        for thumbprint in payload["remove"]:
            state.trusted.pop(thumbprint, None)
        for entry in payload["revoked"]:
            state.revoked[entry["thumbprint"]] = snapshot.revoked_from_entry(entry)
    state.high_water = target.change_high_water


def _write_did(signer: Signer, state: snapshot.State, at: dt.datetime) -> None:
    did.write_did_document(
        publish_dir(),
        signer,
        state,
        did=settings.GATEWAY_DID_ID,
        issued_at=at,
        virtual=settings.GATEWAY_VIRTUAL_COUNTRY_ALPHA3,
    )
