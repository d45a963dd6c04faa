"""Pruning the publish folder: every file an index still in use may name stays, the rest goes."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from publication import files, partitions, providers
from publication.folder import publish_dir
from publication.models import Publication

# Files named by an index issued this recently are kept: twice the index's max-age (60 s,
# publication/views.py), for CDN and client caches.
RETAIN_SECONDS = 120


def prune(publication: Publication) -> None:
    """Keep every file that an index still in use may name: the deltas the current index's chain
    reaches; the full lists of the last ``GATEWAY_PUBLISH_KEEP_FULL`` distinct full sequences; the
    versions of named artifacts the current index names; and
    every file of an index issued in the last ``RETAIN_SECONDS`` (a CDN or a client may hold it for
    its max-age). Never touch newer full lists: a rebuild may be writing them for an index to come."""
    named = publication.full_sequence or publication.id
    published = Publication.objects.published()
    reached = publication.chain_start if publication.chain_start is not None else publication.id
    keep_full = {named} | set(published.named_full_sequences(settings.GATEWAY_PUBLISH_KEEP_FULL))
    cutoff = publication.issued_at - dt.timedelta(seconds=RETAIN_SECONDS)
    recent = published.issued_since(cutoff)
    cached = recent.index_names()
    # Named artifacts: the versions the current and the cached indexes name (older ones are on
    # the chain of deltas as history, which no verifier downloads).
    keep_named = published.filter(id=publication.id).named_artifact_paths() | recent.named_artifact_paths()
    keep_full |= {full for _, full, _ in cached if full is not None}
    # A verifier following a cached index walks its chain back as far as that index's start.
    floor = min([reached, *keep_full, *(sequence for sequence, _, _ in cached), *(s for _, _, s in cached if s)])
    # The next span is made of the deltas after the newest span's end. Spans: those of the chains
    # the current and the cached indexes name (each names the newest span of its time, whose
    # recorded start is where its chain begins).
    keep_spans: set[int] = set()
    span_ends = published.span_ends()
    newest_span = span_ends.newest_sequence()
    if newest_span is not None:
        floor = min(floor, newest_span)
        oldest_named = min([named, *(full for _, full, _ in cached if full is not None)])
        first_in_use = span_ends.up_to(oldest_named).newest_sequence()
        span_floor = min(span_ends.from_sequence(first_in_use or 0).span_starts(), default=newest_span)
        keep_spans = set(span_ends.after(span_floor).values_list("id", flat=True))
    files.prune(
        publish_dir(), floor=floor, keep_full=keep_full, keep_above=named, keep_spans=keep_spans, keep_named=keep_named
    )
    _prune_parts(keep_named)


def _prune_parts(keep_named: set[str]) -> None:
    """Part files of partitioned content that no kept manifest names go (``publication.partitions``).
    Parts are only written while the publishers' lock is held, as this runs: none is on its way
    into a manifest yet to be published."""
    root = publish_dir()
    for content in providers.named_contents():
        if not isinstance(content, providers.PartitionedContent):
            continue
        name = content.name
        manifests = [path for path in keep_named if path.endswith(f"/{name}.jws")]
        keep: set[str] = set()
        for path in manifests:
            keep |= partitions.part_paths(root, name, path)
        files.prune_parts(root, name, keep)
