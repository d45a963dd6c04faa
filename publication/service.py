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
new. Publishers are serialised by a PostgreSQL advisory lock (several machines) and a lock on the
publish folder (several processes of one machine). The sequence number is a database-assigned id,
reserved in its own committed transaction, so it can never be handed out twice, even after a
crash. Rebuilds are serialised among themselves by a second pair of locks and take the publishers'
lock only for the milliseconds of publishing an index, so a change is never queued behind one.

The delta of sequence S is derived from exactly the state of S's predecessor: it holds, for every
certificate touched by an outbox change in (hw(prev), hw(S)], its state at hw(S), read in one
snapshot; outbox ids are handed out in commit order, so a snapshot that sees change hw sees every
change before it. The full lists of F are that state at hw(F) exactly: a rebuild's snapshot (at
some hw) lies between two published sequences K-1 and K, and applying the deltas of K..F to it gives
the state at hw(F), since a certificate that no delta touched has not changed.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gateway.audit import log as audit_log
from gateway.audit.models import Action, Checkpoint, Outcome
from gateway.audit.services import record_event
from gateway.outbox.models import Change
from gateway.signing import keys
from gateway.signing.backend import Signer, key_id
from publication import artifacts, did, files, snapshot
from publication.models import Publication
from verifier.chain import state_digest
from verifier.entries import restore_body, thumbprint_of

logger = logging.getLogger(__name__)

_ADVISORY_LOCK_KEY = 0x7472757374  # "trust": publishers
_REBUILD_LOCK_KEY = 0x7472757375  # rebuilds of the full lists
# If the background rebuild falls this many windows behind, a publication builds the full lists
# itself rather than let the chain a new verifier walks from F (every delta since F) grow without bound.
CHAIN_LIMIT_WINDOWS = 10
# Files named by an index issued this recently are kept: twice the index's max-age (60 s,
# publication/views.py), for CDN and client caches.
RETAIN_SECONDS = 120


class PublicationRefused(Exception):
    """Publishing would not move the published sequence forward."""


def publish_dir() -> Path:
    return Path(settings.GATEWAY_PUBLISH_DIR)


def latest() -> Publication | None:
    return Publication.objects.filter(index_sha256__gt="").order_by("-id").first()


# --- per change ----------------------------------------------------------------------------------------


def publish(*, at: dt.datetime | None = None, force: bool = False, full: bool = False) -> Publication | None:
    """Publish outstanding changes as the delta of a new sequence and a new index, or renew the
    index when it is due. ``force`` publishes a new sequence even without changes; ``full`` (and
    the very first publication) also writes the full lists of the new sequence, synchronously.

    ``at`` defaults to the clock read *after* the lock is taken, so that issue times increase
    with sequence numbers even when publishers queue up behind each other.
    """
    with _serialised():
        return _publish_locked(at=at, force=force, full=full)


def _publish_locked(
    *,
    at: dt.datetime | None,
    force: bool,
    full: bool,
    named: artifacts.FullLists | None = None,
    named_span: _Span | None = None,
) -> Publication | None:
    last = latest()
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
    if current is None or _chain_since(current.sequence) >= CHAIN_LIMIT_WINDOWS * settings.GATEWAY_PUBLISH_DELTA_WINDOW:
        full = True
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
    target = named if newer else current
    # (head's chain start, for the full lists it was computed for): reused by _finish when the
    # index names those lists, as every per-change publication does.
    chain = None if target is None else (_chain_start(reserved, full_sequence=target.sequence), target.sequence)
    if chain is not None and chain[0] > chain[1]:
        # The chain of deltas no longer reaches the full lists (their deltas predate index
        # version 3 and name no predecessor): this sequence gets full lists of its own.
        full = True
    # No lock or snapshot is held while signing and writing: a read-only snapshot, the
    # sequence's files outside any transaction, then one short transaction for the bookkeeping.
    with _read_snapshot():
        changes = snapshot.take_changes(since) if last is not None else None
        # An outbox row that names no certificate (a bulk import, say) cannot be a delta: the
        # sequence gets full lists and no delta, and every verifier downloads them ("reset").
        reset = last is None or (changes is not None and changes.reset)
        state = snapshot.take_full() if full or reset else None
    if state is not None:
        assert changes is None or state.high_water == changes.high_water, "one snapshot"
        named = artifacts.write_full_lists(publish_dir(), signer, state, sequence=reserved.id, issued_at=at)
        changes = changes or snapshot.Changes(high_water=state.high_water)
    elif not newer:
        named = current
    span = named_span if newer else None
    assert named is not None
    assert changes is not None
    delta = None
    if not reset:
        delta = artifacts.delta(
            changes,
            sequence=reserved.id,
            previous=reserved.previous,
            previous_delta=_link(last, "delta") if last is not None and last.delta_sha256 else None,
            issued_at=at,
        )
        files.write_atomically(publish_dir(), delta.path, delta.data)
    if state is not None:
        span = _make_span(state, reserved.id, at, own=None if reset else changes.touched)
    with transaction.atomic():
        publication, index = _finish(signer, reserved, changes, named, delta, at, chain=chain, span=span)
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
    _refuse_if_not_forward(publication.id)
    files.write_atomically(publish_dir(), index.path, index.data)
    if state is not None and settings.GATEWAY_PUBLISH_DID:
        _write_did(signer, state, at)
    _prune(publication)
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
    span: _Span | None,
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
    head: dict[str, object] | None = None
    chain_start = reserved.id
    if delta is not None:  # else a reset: no chain leads here, the full lists of this sequence do
        reserved.delta_sha256, reserved.delta_length = delta.sha256, len(delta.data)
        head = _descriptor(reserved, "delta")
        if chain is not None and chain[1] == named.sequence:
            chain_start = chain[0]
        else:  # the index names other full lists than those the chain start was computed for
            chain_start = _chain_start(reserved, full_sequence=named.sequence)
    reserved.chain_start = chain_start
    if span is not None and span.sequence == named.sequence:
        _record_span(reserved, span)
    span_head, span_start = _newest_span(reserved, chain_start)
    index = artifacts.index(
        signer,
        sequence=reserved.id,
        issued_at=at,
        expires_at=expires_at,
        full=named,
        head=head,
        chain_start=chain_start,
        span=span_head,
        span_start=span_start,
        publisher_keys=_announced_keys(at),
        checkpoint=_checkpoint(signer, at),
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


def _published() -> object:
    return Publication.objects.filter(index_sha256__gt="")


def _chain_since(full_sequence: int) -> int:
    return _published().filter(id__gt=full_sequence).count()  # type: ignore[attr-defined]


def _chained(publication: Publication, kind: str) -> tuple[str, int, int | None, bool]:
    """SHA-256, length, start and plainness of a sequence's delta, or of the span ending there."""
    if kind == "delta":
        return publication.delta_sha256, publication.delta_length, publication.previous, publication.delta_plain
    return publication.span_sha256, publication.span_length, publication.span_previous, publication.span_plain


def _link(publication: Publication, kind: str) -> dict[str, object]:
    """How the next delta (``previousDelta``) or span (``previousSpan``) names a sequence's delta
    or span: by SHA-256 and length, its sequence being where the next one starts; with its path
    when that is not the usual one (a JWS, published before index version 5)."""
    sha256, length, _, plain = _chained(publication, kind)
    link: dict[str, object] = {"sha256": sha256, "length": length}
    if not plain:
        link["path"] = artifacts.chain_file(publication.id, kind, plain=False)
    return link


def _descriptor(publication: Publication, kind: str) -> dict[str, object]:
    """How an index names a sequence's delta (``head``) or the span ending there (``span``)."""
    sha256, length, previous, plain = _chained(publication, kind)
    return {
        "path": artifacts.chain_file(publication.id, kind, plain=plain),
        "sha256": sha256,
        "length": length,
        "sequence": publication.id,
        "previous": previous,
    }


def _window(head: Publication, *, full_sequence: int) -> int:
    """How many published sequences before ``head`` its chain should reach: the last
    GATEWAY_PUBLISH_DELTA_WINDOW, or those of the last GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS if
    more, at most GATEWAY_PUBLISH_DELTA_WINDOW_MAX; and every one since the full lists."""
    return max(_reach(head.issued_at, besides=head.id), _chain_since(full_sequence))


def _reach(at: dt.datetime, *, besides: int | None = None) -> int:
    """The window's part that does not depend on the full lists: the last
    GATEWAY_PUBLISH_DELTA_WINDOW sequences, or those published in the
    GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS before ``at`` if more (other than ``besides``), at most
    GATEWAY_PUBLISH_DELTA_WINDOW_MAX."""
    since = at - dt.timedelta(seconds=settings.GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS)
    recent = _published().filter(issued_at__gte=since)  # type: ignore[attr-defined]
    by_time = (recent if besides is None else recent.exclude(id=besides)).count()
    return min(max(settings.GATEWAY_PUBLISH_DELTA_WINDOW - 1, by_time), settings.GATEWAY_PUBLISH_DELTA_WINDOW_MAX)


def _chain_start(head: Publication, *, full_sequence: int) -> int:
    """The oldest sequence the chain of deltas ending at ``head`` leads from, within the window
    (``_window``), back to a reset (a sequence without a delta) at most. Walking back past a
    sequence needs its delta to name the one before it: a delta published before index version 3
    (no ``chain_start`` recorded) does not, so the chain reaches its predecessor and stops there."""
    count = _window(head, full_sequence=full_sequence)
    rows = (
        _published()  # type: ignore[attr-defined]
        .exclude(id=head.id)
        .order_by("-id")
        .values_list("previous", "delta_sha256", "chain_start")[:count]
    )
    start = head.previous if head.previous is not None else head.id
    for previous, delta_sha256, chain_start in rows:  # newest first: each row is the one before
        if not delta_sha256 or previous is None:
            break
        start = previous
        if chain_start is None:  # its delta names no predecessor: the walk ends here
            break
    return start


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
    return int(artifacts.payload_of(compact)["sequence"])


def _prune(publication: Publication) -> None:
    """Keep every file that an index still in use may name: the deltas the current index's chain
    reaches; the full lists of the last ``GATEWAY_PUBLISH_KEEP_FULL`` distinct full sequences; and
    every file of an index issued in the last ``RETAIN_SECONDS`` (a CDN or a client may hold it for
    its max-age). Never touch newer full lists: a rebuild may be writing them for an index to come."""
    named = publication.full_sequence or publication.id
    published = _published()
    reached = publication.chain_start if publication.chain_start is not None else publication.id
    keep_full = (
        {named}
        | set(
            published.exclude(full_sequence__isnull=True)  # type: ignore[attr-defined]
            .order_by("-full_sequence")
            .values_list("full_sequence", flat=True)
            .distinct()[: settings.GATEWAY_PUBLISH_KEEP_FULL]
        )
    )
    cutoff = publication.issued_at - dt.timedelta(seconds=RETAIN_SECONDS)
    cached = list(published.filter(issued_at__gte=cutoff).values_list("id", "full_sequence", "chain_start"))  # type: ignore[attr-defined]
    keep_full |= {full for _, full, _ in cached if full is not None}
    # A verifier following a cached index walks its chain back as far as that index's start.
    floor = min([reached, *keep_full, *(sequence for sequence, _, _ in cached), *(s for _, _, s in cached if s)])
    # The next span is made of the deltas after the newest span's end. Spans: those of the chains
    # the current and the cached indexes name (each names the newest span of its time, whose
    # recorded start is where its chain begins).
    keep_spans: set[int] = set()
    anchors = _anchors()
    newest_span = anchors.order_by("-id").values_list("id", flat=True).first()  # type: ignore[attr-defined]
    if newest_span is not None:
        floor = min(floor, newest_span)
        oldest_named = min([named, *(full for _, full, _ in cached if full is not None)])
        first_in_use = anchors.filter(id__lte=oldest_named).order_by("-id").values_list("id", flat=True).first()  # type: ignore[attr-defined]
        starts = anchors.filter(id__gte=first_in_use or 0).values_list("span_start", flat=True)  # type: ignore[attr-defined]
        span_floor = min(starts, default=newest_span)
        keep_spans = set(anchors.filter(id__gt=span_floor).values_list("id", flat=True))  # type: ignore[attr-defined]
    files.prune(publish_dir(), floor=floor, keep_full=keep_full, keep_above=named, keep_spans=keep_spans)


# --- background rebuild of the full lists -------------------------------------------------------------------


def rebuild_due(at: dt.datetime | None = None) -> float | None:
    """Seconds until the full lists should be rebuilt (0 or less: now), or None if they are current.

    Due when ``GATEWAY_PUBLISH_FULL_AFTER_DELTAS`` deltas with changes followed the full lists the
    index names, or ``GATEWAY_PUBLISH_FULL_AFTER_SECONDS`` after the first of them was published.
    """
    at = at or timezone.now()
    last = latest()
    if last is None or last.full_sequence is None:
        return None
    base = Publication.objects.filter(id=last.full_sequence).values_list("change_high_water", flat=True).first()
    if base is None or base >= last.change_high_water:
        return None  # only renewals (empty deltas) since
    behind = _published().filter(id__gt=last.full_sequence, change_high_water__gt=base)  # type: ignore[attr-defined]
    if behind.count() >= settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS:
        return 0.0
    first = behind.order_by("id").values_list("issued_at", flat=True).first()
    if first is None:
        return None
    return (first + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_FULL_AFTER_SECONDS) - at).total_seconds()


class _Superseded(Exception):
    """Full lists newer than the rebuild's snapshot were published meanwhile (a reset)."""


class RebuildRunning(Exception):
    """Another rebuild holds the rebuild lock (and will see the changes it may miss: its task
    requests the next rebuild when it ends)."""


def rebuild_full(*, at: dt.datetime | None = None, wait: bool = True) -> Publication | None:
    """Rebuild the full lists (and the DID document) outside the publishers' lock, and publish an
    index that names them. Returns that publication, or None if the full lists were current.
    Without ``wait``, raise :class:`RebuildRunning` rather than wait for another rebuild (a
    worker process must not sit out a rebuild while changes wait to be published)."""
    with _serialised(rebuild=True, wait=wait):
        last = latest()
        if last is None or last.full_sequence is None:
            return publish(at=at, full=True)
        base = Publication.objects.filter(id=last.full_sequence).values_list("change_high_water", flat=True).first()
        if (
            base is not None
            and base >= last.change_high_water
            and not Change.objects.filter(id__gt=last.change_high_water).exists()
        ):
            return None
        with _read_snapshot():
            state = snapshot.take_full()
        target = latest()
        if target is None or target.change_high_water < state.high_water:
            # The snapshot holds changes not published yet: publish them, so that a sequence at
            # or after the snapshot exists to roll forward to.
            publish(at=at)
            target = latest()
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
        span = _make_span(state, target.id, built_at, own=None)
        with _serialised():
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
    rows = (
        _published()  # type: ignore[attr-defined]
        .filter(id__lte=target.id, change_high_water__gt=state.high_water)
        .order_by("id")
        .values_list("id", "delta_sha256", "delta_plain")
    )
    for sequence, sha256, plain in rows:
        if not sha256:
            raise _Superseded(f"sequence {sequence} was a reset: its full lists are newer than this snapshot")
        payload = restore_body(_published_delta(sequence, sha256, plain=plain))
        for entry in payload["upsert"]:
            state.trusted[entry["thumbprint"]] = snapshot.trusted_from_entry(entry)
        for thumbprint in payload["remove"]:
            state.trusted.pop(thumbprint, None)
        for entry in payload["revoked"]:
            state.revoked[entry["thumbprint"]] = snapshot.revoked_from_entry(entry)
    state.high_water = target.change_high_water


def _published_delta(sequence: int, sha256: str, *, plain: bool) -> dict[str, Any]:
    """The payload of a published delta, read back from the publish folder (we wrote it; its hash
    must still be the one recorded), as written: compact entries, empty lists left out."""
    data = (publish_dir() / artifacts.chain_file(sequence, "delta", plain=plain)).read_bytes()
    if artifacts.Artifact("", data).sha256 != sha256:
        raise PublicationRefused(f"the delta of sequence {sequence} on disk is not the one published")
    return artifacts.payload_of(data)


# --- spans: from one full-list sequence to a later one ------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """What to record on full-list sequence ``sequence`` when an index first names its lists."""

    sequence: int
    start: int  # the oldest sequence the chain of spans ending here leads from
    previous: int | None  # where this span starts; None: no span, a chain starts here
    artifact: artifacts.Artifact | None


def _anchors() -> object:
    """Full-list sequences recorded as the end of a chain of spans (of zero spans, for a start)."""
    return _published().filter(span_start__isnull=False)  # type: ignore[attr-defined]


def _make_span(state: snapshot.State, sequence: int, at: dt.datetime, *, own: frozenset[str] | None) -> _Span | None:
    """Whether the full lists of ``sequence`` (``state``) end a span from the last sequence that
    did, E; if so, write it. ``own``: the certificates ``sequence``'s own delta touched when it is
    not published yet (None: published, or a reset when ``sequence`` is not).

    A span holds, for every certificate a delta of (E, sequence] touched, its state at
    ``sequence``: applied to the state of any sequence from E to ``sequence``, it gives the state
    of ``sequence`` (what no delta touched did not change). A new span is due
    GATEWAY_PUBLISH_SPAN_SECONDS after E, or once ``_span_after`` sequences followed it (so that
    the chain of deltas always reaches the newest span's end). A reset in between (changes no
    delta describes) starts a new chain of spans."""
    anchor = _anchors().filter(id__lt=sequence).order_by("-id").first()  # type: ignore[attr-defined]
    fresh = _Span(sequence, sequence, None, None)
    if anchor is None:
        return fresh
    between = list(
        _published()  # type: ignore[attr-defined]
        .filter(id__gt=anchor.id, id__lte=sequence)
        .order_by("id")
        .values_list("id", "delta_sha256", "delta_plain")
    )
    published_here = any(number == sequence for number, _, _ in between)
    if any(not sha256 for _, sha256, _ in between) or (not published_here and own is None):
        return fresh  # a reset: no delta says what changed
    due = at - anchor.issued_at >= dt.timedelta(seconds=settings.GATEWAY_PUBLISH_SPAN_SECONDS)
    if not due and len(between) + (0 if published_here else 1) < _span_after(at):
        return None
    touched: set[str] = set(own or ())
    try:
        for number, sha256, plain in between:
            payload = _published_delta(number, sha256, plain=plain)  # the thumbprints suffice
            touched.update(thumbprint_of(entry) for entry in payload.get("upsert", []))
            touched.update(payload.get("remove", []))
            touched.update(entry["thumbprint"] for entry in payload.get("revoked", []))
    except FileNotFoundError:
        # Pruned meanwhile: a publication with full lists of its own overtook this rebuild (and
        # its index will name them, not these); no span this time.
        return None
    artifact = artifacts.span(
        snapshot.changes_in(state, touched),
        sequence=sequence,
        previous=anchor.id,
        previous_span=_link(anchor, "span") if anchor.span_previous is not None else None,
        issued_at=at,
        digest=state_digest(state.trusted, state.revoked),  # one definition with the verifier's
    )
    files.write_atomically(publish_dir(), artifact.path, artifact.data)
    cutoff = at - dt.timedelta(seconds=settings.GATEWAY_PUBLISH_SPAN_KEEP_SECONDS)
    return _Span(sequence, _span_chain_start(anchor.id, cutoff), anchor.id, artifact)


def _span_after(at: dt.datetime) -> int:
    """Sequences after which a span is due whatever the time: the newest span's end must stay
    where the chain of deltas reaches (its window: _window) until the next rebuild, at most
    GATEWAY_PUBLISH_FULL_AFTER_DELTAS sequences later, can write the next span."""
    return max(1, _reach(at) - settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS)


def _span_chain_start(end: int, cutoff: dt.datetime) -> int:
    """Walk back from the span chain ending at ``end`` through the spans whose end was published
    after ``cutoff``, to the oldest sequence they lead from."""
    spans = dict(
        _anchors().filter(id__lte=end, issued_at__gte=cutoff).values_list("id", "span_previous")  # type: ignore[attr-defined]
    )
    start = end
    while (earlier := spans.get(start)) is not None:
        start = earlier
    return start


def _record_span(reserved: Publication, span: _Span) -> None:
    fields = {
        "span_start": span.start,
        "span_previous": span.previous,
        "span_sha256": span.artifact.sha256 if span.artifact else "",
        "span_length": len(span.artifact.data) if span.artifact else 0,
        "span_plain": True,  # written now, whenever its sequence was published
    }
    if span.sequence == reserved.id:
        for name, value in fields.items():
            setattr(reserved, name, value)
    else:
        Publication.objects.filter(id=span.sequence).update(**fields)


def _newest_span(reserved: Publication, chain_start: int) -> tuple[dict[str, object] | None, int | None]:
    """The head of the chain of spans an index names, and where that chain starts: the newest
    span, provided the chain of deltas reaches its end (else a verifier could not go on)."""
    end = reserved if reserved.span_start is not None else _anchors().order_by("-id").first()  # type: ignore[attr-defined]
    if end is None or end.span_previous is None or not (chain_start <= end.id <= reserved.id):
        return None, None
    return _descriptor(end, "span"), end.span_start


def _write_did(signer: Signer, state: snapshot.State, at: dt.datetime) -> None:
    did.write_did_document(
        publish_dir(),
        signer,
        state,
        did=settings.GATEWAY_DID_ID,
        issued_at=at,
        virtual=settings.GATEWAY_VIRTUAL_COUNTRY_ALPHA3,
    )


# --- locks and snapshots ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _read_snapshot() -> Iterator[None]:
    # The rows and the outbox high-water mark must describe one instant (PostgreSQL's default
    # READ COMMITTED gives each statement its own snapshot). SQLite transactions are serialisable.
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@contextlib.contextmanager
def _serialised(*, rebuild: bool = False, wait: bool = True) -> Iterator[None]:
    key = _REBUILD_LOCK_KEY if rebuild else _ADVISORY_LOCK_KEY
    try:
        folder = files.folder_lock(publish_dir(), ".rebuild.lock" if rebuild else ".lock", wait=wait)
        folder.__enter__()
    except BlockingIOError as exc:
        raise RebuildRunning("another rebuild holds the publish folder's rebuild lock") from exc
    try:
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
            else:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                if not cursor.fetchone()[0]:
                    raise RebuildRunning("another rebuild holds the rebuild lock")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    finally:
        folder.__exit__(None, None, None)
