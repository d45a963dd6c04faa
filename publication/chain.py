"""The hash chain of deltas: how far back an index's chain reaches, and how an index, a delta or
a span names a sequence's delta or span (by SHA-256 and length)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from publication import artifacts
from publication.models import Publication


def deltas_since(full_sequence: int) -> int:
    """Published sequences after ``full_sequence``: the deltas a verifier holding its full lists walks."""
    return Publication.objects.published().after(full_sequence).count()


def _chained(publication: Publication, kind: str) -> tuple[str, int, int | None, bool]:
    """SHA-256, length, start and plainness of a sequence's delta, or of the span ending there."""
    if kind == "delta":
        return publication.delta_sha256, publication.delta_length, publication.previous, publication.delta_plain
    return publication.span_sha256, publication.span_length, publication.span_previous, publication.span_plain


def link(publication: Publication, kind: str) -> dict[str, object]:
    """How the next delta (``previousDelta``) or span (``previousSpan``) names a sequence's delta
    or span: by SHA-256 and length, its sequence being where the next one starts; with its path
    when that is not the usual one (a JWS, published before index version 5)."""
    sha256, length, _, plain = _chained(publication, kind)
    named: dict[str, object] = {"sha256": sha256, "length": length}
    if not plain:
        named["path"] = artifacts.chain_file(publication.id, kind, plain=False)
    return named


def descriptor(publication: Publication, kind: str) -> dict[str, object]:
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
    return max(reach(head.issued_at, besides=head.id), deltas_since(full_sequence))


def reach(at: dt.datetime, *, besides: int | None = None) -> int:
    """The window's part that does not depend on the full lists: the last
    GATEWAY_PUBLISH_DELTA_WINDOW sequences, or those published in the
    GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS before ``at`` if more (other than ``besides``), at most
    GATEWAY_PUBLISH_DELTA_WINDOW_MAX."""
    since = at - dt.timedelta(seconds=settings.GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS)
    recent = Publication.objects.published().issued_since(since)
    by_time = (recent if besides is None else recent.exclude(id=besides)).count()
    return min(max(settings.GATEWAY_PUBLISH_DELTA_WINDOW - 1, by_time), settings.GATEWAY_PUBLISH_DELTA_WINDOW_MAX)


def chain_start(head: Publication, *, full_sequence: int) -> int:
    """The oldest sequence the chain of deltas ending at ``head`` leads from, within the window
    (``_window``), back to a reset (a sequence without a delta) at most. Walking back past a
    sequence needs its delta to name the one before it: a delta published before index version 3
    (no ``chain_start`` recorded) does not, so the chain reaches its predecessor and stops there."""
    count = _window(head, full_sequence=full_sequence)
    rows = Publication.objects.published().links_back(besides=head.id, count=count)
    start = head.previous if head.previous is not None else head.id
    for previous, delta_sha256, recorded_start in rows:  # newest first: each row is the one before
        if not delta_sha256 or previous is None:
            break
        start = previous
        if recorded_start is None:  # its delta names no predecessor: the walk ends here
            break
    return start
