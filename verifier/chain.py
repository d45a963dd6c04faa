"""Walking the hash chains of deltas and spans back from what a verified index names, and
applying what they hold (docs/publication-format.md, "Delta", "Spans", "Verifier algorithm"
step 4).

A delta (or span) is trusted because the index or the verified file after it on its chain binds
its SHA-256 and length; each names the one before it (``previousDelta``, ``previousSpan``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from verifier.descriptors import DeltaDescriptor, linked_descriptor
from verifier.index import VerifiedIndex
from verifier.reasons import PublicationReason, VerificationError

# Loads the delta a descriptor names and returns its verified payload (see ``walk_chain``).
DeltaLoader = Callable[[DeltaDescriptor], dict[str, Any]]


def walk_chain(
    index: VerifiedIndex,
    sequence: int,
    load: DeltaLoader,
    *,
    link: DeltaDescriptor | None = None,
    check_link: bool = True,
) -> list[tuple[DeltaDescriptor, dict[str, Any]]]:
    """The deltas from ``sequence`` to the index's sequence, oldest first, each verified.

    From the head the index names, back through each delta's ``previousDelta`` until the one that
    follows ``sequence``: a delta is trusted because the index or the verified delta after it
    binds its SHA-256 and length. ``load`` fetches a delta and checks it against its descriptor
    (``verifier.index.verify_named``). ``link``: what the verifier saw as the head of
    ``sequence``'s index, which the oldest delta walked must name as its predecessor (else history
    was rewritten: FORK).
    """
    if sequence == index.sequence:
        return []
    if not index.reaches(sequence):
        raise VerificationError(
            PublicationReason.OUTSIDE_WINDOW, f"no chain of deltas leads from {sequence} to {index.sequence}"
        )
    assert index.head is not None

    def reached(start: int) -> bool:
        if start == sequence:
            return True
        if start < sequence:
            raise VerificationError(
                PublicationReason.DELTA_CHAIN,
                f"the chain of deltas from {index.sequence} does not lead back to {sequence}",
            )
        return False

    walked = _walk_back(index.head, load, kind="delta", reason=PublicationReason.DELTA_CHAIN, reached=reached)
    named = walked[0][1].get("previousDelta")
    if check_link and not _names(named, link, sequence):
        raise VerificationError(
            PublicationReason.FORK, f"the delta after {sequence} names another delta before it than we saw"
        )
    return walked


def _names(named: Any, held: DeltaDescriptor | None, sequence: int) -> bool:
    """Does the link ``named`` (the oldest delta walked names the one before it) name ``held``,
    the head of the index held at ``sequence``? The same bytes: SHA-256 and length."""
    if named is None or held is None:
        return named is None and held is None
    linked = linked_descriptor(named, sequence=sequence, kind="delta", reason=PublicationReason.DELTA_CHAIN)
    return (linked.sha256, linked.length, held.sequence) == (held.sha256, held.length, sequence)


def _walk_back(
    newest: DeltaDescriptor,
    load: DeltaLoader,
    *,
    kind: str,
    reason: PublicationReason,
    reached: Callable[[int], bool],
) -> list[tuple[DeltaDescriptor, dict[str, Any]]]:
    """Walk a hash chain (of deltas, or of spans: ``kind``) back from ``newest``: each file,
    verified by ``load`` against the descriptor its successor (or the index) gave, must start
    before its own sequence (where the descriptor says, if it says), and names the one before it
    (``previousDelta``, ``previousSpan``), until ``reached`` (given where the file starts). Oldest
    first, each with its start."""
    walked: list[tuple[DeltaDescriptor, dict[str, Any]]] = []
    link = "previousDelta" if kind == "delta" else "previousSpan"
    descriptor = newest
    while True:
        payload = load(descriptor)
        start = payload.get("previous")
        if type(start) is not int or start >= descriptor.sequence or descriptor.previous not in (None, start):
            raise VerificationError(reason, f"{descriptor.path} says it follows {start!r}")
        descriptor = dataclasses.replace(descriptor, previous=start)
        walked.append((descriptor, payload))
        if reached(start):
            return list(reversed(walked))
        if payload.get(link) is None:
            raise VerificationError(reason, f"{descriptor.path} names nothing before it")
        descriptor = linked_descriptor(payload[link], sequence=start, kind=kind, reason=reason)


def walk_spans(index: VerifiedIndex, sequence: int, load: DeltaLoader) -> list[tuple[DeltaDescriptor, dict[str, Any]]]:
    """The spans from the one that covers ``sequence`` to the newest, oldest first, each verified
    (``load``, as for deltas, with kind "span"): from the span the index names back through each
    span's ``previousSpan`` until one that starts at or before ``sequence``.

    A span from E to X holds the state at X of everything changed in between, so it brings any
    state from E to X (not only E's) to X. The link to the verifier's own history cannot be
    checked here, as with the full lists: what the verifier holds is replaced where it changed."""
    if not index.spans_from(sequence):
        raise VerificationError(PublicationReason.OUTSIDE_WINDOW, f"no chain of spans leads from {sequence}")
    assert index.span is not None
    return _walk_back(
        index.span, load, kind="span", reason=PublicationReason.SPAN_CHAIN, reached=lambda start: start <= sequence
    )


def apply_delta(
    trusted: dict[str, dict[str, Any]], delta: dict[str, Any], revoked: dict[str, dict[str, Any]] | None = None
) -> None:
    """Bring a trust list (and a revocation list), keyed by thumbprint, forward by one verified
    delta (or span): its upserts replace, its removals drop, its revocations are added."""
    for entry in delta["upsert"]:
        trusted[entry["thumbprint"]] = entry
    for thumbprint in delta["remove"]:
        trusted.pop(thumbprint, None)
    if revoked is not None:
        for entry in delta["revoked"]:
            revoked[entry["thumbprint"]] = entry


def state_digest(trusted: Iterable[str], revoked: Iterable[str]) -> dict[str, Any]:
    """A span's ``state``: the number of trusted and revoked entries and the SHA-256 of their
    sorted thumbprints (trusted, a line feed, revoked), computed over what a verifier holds."""
    trusted, revoked = sorted(trusted), sorted(revoked)
    hashed = hashlib.sha256("".join(trusted).encode("ascii"))
    hashed.update(b"\n")
    hashed.update("".join(revoked).encode("ascii"))
    return {"trusted": len(trusted), "revoked": len(revoked), "sha256": hashed.hexdigest()}
