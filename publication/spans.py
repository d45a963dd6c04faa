"""Spans: the changes from one full-list sequence to a later one, chained like the deltas, for
verifiers beyond the reach of the chain of deltas. A span is recorded on the full-list sequence
it ends at, once an index names that sequence's full lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from publication import artifacts, files, snapshot
from publication.chain import descriptor, link, reach
from publication.folder import publish_dir, published_delta
from publication.models import Publication
from verifier.chain import state_digest
from verifier.entries import thumbprint_of


@dataclass(frozen=True)
class Span:
    """What to record on full-list sequence ``sequence`` when an index first names its lists."""

    sequence: int
    start: int  # the oldest sequence the chain of spans ending here leads from
    previous: int | None  # where this span starts; None: no span, a chain starts here
    artifact: artifacts.Artifact | None


def make_span(state: snapshot.State, sequence: int, at: dt.datetime, *, own: frozenset[str] | None) -> Span | None:
    """Whether the full lists of ``sequence`` (``state``) end a span from the last sequence that
    did, E; if so, write it. ``own``: the certificates ``sequence``'s own delta touched when it is
    not published yet (None: published, or a reset when ``sequence`` is not).

    A span holds, for every certificate a delta of (E, sequence] touched, its state at
    ``sequence``: applied to the state of any sequence from E to ``sequence``, it gives the state
    of ``sequence`` (what no delta touched did not change). A new span is due
    GATEWAY_PUBLISH_SPAN_SECONDS after E, or once ``_span_after`` sequences followed it (so that
    the chain of deltas always reaches the newest span's end). A reset in between (changes no
    delta describes) starts a new chain of spans."""
    published = Publication.objects.published()
    anchor = published.span_ends().before(sequence).newest()
    fresh = Span(sequence, sequence, None, None)
    if anchor is None:
        return fresh
    between = published.after(anchor.id).up_to(sequence).deltas()
    published_here = any(number == sequence for number, _, _ in between)
    if any(not sha256 for _, sha256, _ in between) or (not published_here and own is None):
        return fresh  # a reset: no delta says what changed
    due = at - anchor.issued_at >= dt.timedelta(seconds=settings.GATEWAY_PUBLISH_SPAN_SECONDS)
    if not due and len(between) + (0 if published_here else 1) < _span_after(at):
        return None
    touched: set[str] = set(own or ())
    try:
        for number, sha256, plain in between:
            payload = published_delta(number, sha256, plain=plain)  # the thumbprints suffice
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
        previous_span=link(anchor, "span") if anchor.span_previous is not None else None,
        issued_at=at,
        digest=state_digest(state.trusted, state.revoked),  # one definition with the verifier's
    )
    files.write_atomically(publish_dir(), artifact.path, artifact.data)
    cutoff = at - dt.timedelta(seconds=settings.GATEWAY_PUBLISH_SPAN_KEEP_SECONDS)
    return Span(sequence, _span_chain_start(anchor.id, cutoff), anchor.id, artifact)


def _span_after(at: dt.datetime) -> int:
    """Sequences after which a span is due whatever the time: the newest span's end must stay
    where the chain of deltas reaches (its window: publication.chain) until the next rebuild, at
    most GATEWAY_PUBLISH_FULL_AFTER_DELTAS sequences later, can write the next span."""
    return max(1, reach(at) - settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS)


def _span_chain_start(end: int, cutoff: dt.datetime) -> int:
    """Walk back from the span chain ending at ``end`` through the spans whose end was published
    after ``cutoff``, to the oldest sequence they lead from."""
    spans = Publication.objects.published().span_ends().up_to(end).issued_since(cutoff).span_links()
    start = end
    while (earlier := spans.get(start)) is not None:
        start = earlier
    return start


def record_span(reserved: Publication, span: Span) -> None:
    """Record ``span`` on its sequence: on ``reserved`` (saved by the caller) if it is that one."""
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


def newest_span(reserved: Publication, chain_start: int) -> tuple[dict[str, object] | None, int | None]:
    """The head of the chain of spans an index names, and where that chain starts: the newest
    span, provided the chain of deltas reaches its end (else a verifier could not go on)."""
    end = reserved if reserved.span_start is not None else Publication.objects.published().span_ends().newest()
    if end is None or end.span_previous is None or not (chain_start <= end.id <= reserved.id):
        return None, None
    return descriptor(end, "span"), end.span_start
