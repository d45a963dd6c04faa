"""Sync a verifier's trust state from a gateway (or any mirror of its publish folder).

Implements the algorithm of docs/publication-format.md: conditional download of the index,
verification against the pinned trust anchor, refusal of rollback, freeze, equivocation, forks,
unannounced keys and oversized bodies; the chain of deltas back from the index's head when it
reaches the held sequence (and links to the head held: no rewritten history), or else the chain of
spans (from one full-list sequence to a later one) when it does, then the deltas after the newest
span; otherwise the full lists the index names (of a sequence F) and the deltas from F; and an atomic
write of the new state. Nothing is stored unless everything verified, every download within one
deadline (``verifier.fetch``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from verifier.chain import apply_delta, state_digest, walk_chain, walk_spans
from verifier.descriptors import DeltaDescriptor
from verifier.encoding import b64url_decode, parse_time
from verifier.fetch import DEFAULT_TIMEOUT, Deadline, Fetch, http_fetch
from verifier.fetch import Response as Response  # re-exported: fetchers passed to sync answer with it
from verifier.index import INDEX_MAX_BYTES, VerifiedIndex, verify_content, verify_index, verify_named
from verifier.reasons import PublicationReason, VerificationError
from verifier.revocation_parts import REVOCATION_ARTIFACT, drop_unlisted_parts, fetch_parts, parse_manifest

STATE_FILE = "state.json"
# Reasons to take the full lists instead of the deltas or spans (anything else is refused).
FALL_BACK = frozenset({PublicationReason.HTTP_ERROR, PublicationReason.SPAN_BUDGET, PublicationReason.STATE_DIGEST})
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024


@dataclass
class SyncState:
    sequence: int = 0
    index: bytes = b""
    etag: str = ""
    trusted: dict[str, dict[str, Any]] = field(default_factory=dict)  # by thumbprint
    revoked: dict[str, dict[str, Any]] = field(default_factory=dict)  # by thumbprint
    checkpoint: Any = None
    # Named artifacts of the index held (rules, value sets...): by name, the version's sequence,
    # sha256 and length, and its verified ``content``.
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> SyncState:
        try:
            data = json.loads((folder / STATE_FILE).read_text())
        except FileNotFoundError:
            return cls()
        return cls(
            sequence=int(data["sequence"]),
            index=base64.b64decode(data["index"]),
            etag=data.get("etag", ""),
            trusted={e["thumbprint"]: e for e in data["trusted"]},
            revoked={e["thumbprint"]: e for e in data["revoked"]},
            checkpoint=data.get("checkpoint"),
            artifacts=dict(data.get("artifacts", {})),
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "sequence": self.sequence,
            "index": base64.b64encode(self.index).decode("ascii"),
            "etag": self.etag,
            "trusted": sorted(self.trusted.values(), key=lambda e: e["thumbprint"]),
            "revoked": sorted(self.revoked.values(), key=lambda e: e["thumbprint"]),
            "checkpoint": self.checkpoint,
            "artifacts": self.artifacts,
        }
        temporary = folder / f".{STATE_FILE}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, folder / STATE_FILE)


@dataclass(frozen=True)
class SyncResult:
    sequence: int
    changed: bool
    downloaded_bytes: int
    mode: str  # "unchanged", "delta", "span" (spans, then deltas) or "full"


def sync(
    base_url: str,
    folder: Path,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    fetch: Fetch | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SyncResult:
    """Bring the state in ``folder`` up to the gateway's current publication, or raise
    :class:`VerificationError` and leave the stored state untouched.

    Every request of the sync together must be done within ``timeout`` seconds (``DEADLINE``):
    ``http_fetch`` is interrupted mid-read when the time is up; a ``fetch`` passed in is called
    only while time is left, its answer refused when it comes after, and must bound its reads."""
    with Deadline(timeout) as deadline:
        return _sync(base_url, folder, anchors, now, fetch=_within(fetch, deadline), progress=progress)


def _within(fetch: Fetch | None, deadline: Deadline) -> Fetch:
    def bounded(
        url: str, headers: dict[str, str], cap: int, progress: Callable[[int, int | None], None] | None
    ) -> Response:
        deadline.check(url)
        if fetch is None:
            response = http_fetch(url, headers, cap, progress, deadline=deadline)
        else:
            response = fetch(url, headers, cap, progress)
        deadline.check(url)
        return response

    return bounded


def _sync(
    base_url: str,
    folder: Path,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    fetch: Fetch,
    progress: Callable[[int, int | None], None] | None,
) -> SyncResult:
    base = base_url.rstrip("/") + "/"
    held = SyncState.load(folder)
    try:
        previous = _held_index(held, anchors, now)
    except VerificationError as error:
        if error.reason != PublicationReason.UNSUPPORTED_VERSION:
            raise
        # Held from before an index format change: sync afresh (full lists), still never going
        # below the sequence held.
        previous = None
    index, response = _new_index(fetch, base, held.index, held.etag, previous, held.sequence, anchors, now)
    downloaded = len(response.body)
    if index is None:
        return SyncResult(held.sequence, False, downloaded, "unchanged")

    state = SyncState(sequence=held.sequence, trusted=dict(held.trusted), revoked=dict(held.revoked))
    downloads: list[int] = []

    def load(descriptor: DeltaDescriptor) -> dict[str, Any]:
        payload, size = _artifact(fetch, base, descriptor, anchors, now, "delta", descriptor.sequence, index, progress)
        downloads.append(size)
        return payload

    span_budget = index.trust_list.length + index.revocation_list.length

    def load_span(descriptor: DeltaDescriptor) -> dict[str, Any]:
        nonlocal span_budget
        span_budget -= descriptor.length
        if span_budget < 0:  # the full lists cost less than the spans left to walk
            raise VerificationError(PublicationReason.SPAN_BUDGET, "the spans from here weigh more than the full lists")
        payload, size = _artifact(fetch, base, descriptor, anchors, now, "span", descriptor.sequence, index, progress)
        downloads.append(size)
        return payload

    mode = "delta"
    chain = None
    spanned: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None = None
    try:
        if previous is not None and index.reaches(held.sequence):
            # The held index's head is what the oldest delta walked must name before it (else FORK).
            chain = walk_chain(index, held.sequence, load, link=previous.head)
        elif previous is not None and index.spans_from(held.sequence) and index.span is not None:
            # Beyond the chain of deltas: spans to the newest span's end, then deltas from there.
            spanned = _through_spans(state, walk_spans(index, held.sequence, load_span))
            chain = walk_chain(index, index.span.sequence, load, check_link=False)
            mode = "span"
    except VerificationError as error:
        if error.reason not in FALL_BACK:
            raise
        # A delta or span is not served (a mirror that lags, or pruned under an index a cache
        # still held), the spans cost more than the full lists, or the state they lead to is not
        # the one the newest says (what we held was not the gateway's): the full lists, verified
        # the same way, instead. A file that is served but does not verify is refused.
        chain, spanned, mode = None, None, "delta"
    if chain is None:
        # Too far behind (or new): the full lists of F, then the deltas from F to the index.
        mode = "full"
        (state.trusted, state.revoked), size = _full_lists(fetch, base, index, anchors, now, progress)
        downloaded += size
        state.sequence = full = index.full_sequence
        # verify_index checked that the chain reaches back to the full lists; the delta before
        # the oldest one walked is not ours to compare.
        chain = walk_chain(index, full, load, check_link=False)
    downloaded += sum(downloads)
    if spanned is not None and index.span is not None:
        state.trusted, state.revoked = spanned
        state.sequence = index.span.sequence
    for descriptor, payload in chain:
        if payload.get("previous") != state.sequence:
            raise VerificationError(
                PublicationReason.DELTA_CHAIN, f"delta {descriptor.sequence} does not follow {state.sequence}"
            )
        _apply(state, payload)
        state.sequence = descriptor.sequence
    state.artifacts, size = _named_artifacts(fetch, base, index, held.artifacts, anchors, now, progress)
    downloaded += size
    revoked_dccs = state.artifacts.get(REVOCATION_ARTIFACT, {}).get("content")
    if revoked_dccs is not None and revoked_dccs != held.artifacts.get(REVOCATION_ARTIFACT, {}).get("content"):
        # The parts the new manifest names that are not held: a change costs what it rewrote.
        downloaded += fetch_parts(fetch, base, parse_manifest(revoked_dccs), folder, progress)
    state.sequence, state.index = index.sequence, index.raw
    state.etag = response.headers.get("etag", response.headers.get("ETag", ""))
    state.checkpoint = index.checkpoint
    state.save(folder)
    drop_unlisted_parts(folder, revoked_dccs)
    return SyncResult(index.sequence, True, downloaded, mode)


def _new_index(
    fetch: Fetch,
    base: str,
    held_index: bytes,
    etag: str,
    previous: VerifiedIndex | None,
    held_sequence: int,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
) -> tuple[VerifiedIndex | None, Response]:
    """The index now, verified against the one held (None: it is the one held, still valid)."""
    headers = {"If-None-Match": etag} if etag and previous is not None else {}
    response = fetch(base + "index.jws", headers, INDEX_MAX_BYTES, None)
    if response.status == 304 and previous is not None:
        # Not modified: still refuse to keep trusting an index that has expired (freeze).
        verify_index(held_index, anchors, now)
        return None, response
    if response.status != 200:
        raise VerificationError(PublicationReason.HTTP_ERROR, f"index: HTTP {response.status}")
    index = verify_index(response.body, anchors, now, previous=previous)
    if index.sequence < held_sequence:
        raise VerificationError(
            PublicationReason.ROLLBACK, f"sequence {index.sequence} is below the {held_sequence} held"
        )
    if previous is not None and index.sequence == previous.sequence:
        return None, response
    return index, response


Entries = dict[str, dict[str, Any]]


def _full_lists(
    fetch: Fetch,
    base: str,
    index: VerifiedIndex,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    progress: Callable[[int, int | None], None] | None,
) -> tuple[tuple[Entries, Entries], int]:
    """The full lists the index names (of its sequence F), verified, by thumbprint."""
    full = index.full_sequence
    trust, trust_size = _artifact(fetch, base, index.trust_list, anchors, now, "trust-list", full, index, progress)
    revocations, revocations_size = _artifact(
        fetch, base, index.revocation_list, anchors, now, "revocation-list", full, index, progress
    )
    for payload, descriptor in ((trust, index.trust_list), (revocations, index.revocation_list)):
        if descriptor.entries is not None and len(payload["entries"]) != descriptor.entries:
            raise VerificationError(
                PublicationReason.ENTRY_COUNT, f"{descriptor.path}: not the {descriptor.entries} entries listed"
            )
    lists = ({e["thumbprint"]: e for e in trust["entries"]}, {e["thumbprint"]: e for e in revocations["entries"]})
    return lists, trust_size + revocations_size


@dataclass(frozen=True)
class CatchUp:
    """What a follower that keeps no copy of the lists needs to catch up (``catch_up``)."""

    index: VerifiedIndex
    full: tuple[Entries, Entries] | None  # the full lists of F, when the chain does not reach the held
    deltas: list[dict[str, Any]]  # the deltas after the held sequence (or after F), oldest first
    downloaded: int

    def touched(self) -> set[str]:
        """The thumbprints the deltas name (upserted, removed or revoked)."""
        return {
            thumbprint
            for delta in self.deltas
            for thumbprint in (
                *(entry["thumbprint"] for entry in delta["upsert"]),
                *delta["remove"],
                *(entry["thumbprint"] for entry in delta["revoked"]),
            )
        }


def catch_up(
    base_url: str,
    held_index: bytes,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    fetch: Fetch | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> CatchUp | None:
    """For a follower that keeps the lists elsewhere (a federating gateway keeps them in its
    database): the verified index after ``held_index`` (None: unchanged), and either the deltas
    from the held sequence (the chain reaches it: the follower applies them to what it holds) or
    the full lists and the deltas after them. The same checks as :func:`sync` (rollback, freeze,
    forks, signatures, sizes, one deadline); spans are not walked (they are checked against the
    whole held state, which the caller does not hand over): beyond the chain, the full lists."""
    with Deadline(timeout) as deadline:
        bounded = _within(fetch, deadline)
        base = base_url.rstrip("/") + "/"
        previous = None
        held_sequence = 0
        if held_index:
            previous = _held_index(SyncState(index=held_index), anchors, now)
            held_sequence = previous.sequence if previous is not None else 0
        index, response = _new_index(bounded, base, held_index, "", previous, held_sequence, anchors, now)
        if index is None:
            return None
        downloaded = len(response.body)
        sizes: list[int] = []

        def load(descriptor: DeltaDescriptor) -> dict[str, Any]:
            payload, size = _artifact(
                bounded, base, descriptor, anchors, now, "delta", descriptor.sequence, index, None
            )
            sizes.append(size)
            return payload

        if previous is not None and index.reaches(held_sequence):
            try:
                chain = walk_chain(index, held_sequence, load, link=previous.head)
                return CatchUp(index, None, [payload for _, payload in chain], downloaded + sum(sizes))
            except VerificationError as error:
                if error.reason != PublicationReason.HTTP_ERROR:  # not served (a lagging mirror): the full lists
                    raise
        lists, size = _full_lists(bounded, base, index, anchors, now, None)
        chain = walk_chain(index, index.full_sequence, load, check_link=False)
        return CatchUp(index, lists, [payload for _, payload in chain], downloaded + size + sum(sizes))


def _through_spans(
    state: SyncState, spans: list[tuple[DeltaDescriptor, dict[str, Any]]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The held state with the spans applied (to copies: nothing changes unless all of it holds),
    which must be the state the newest span describes."""
    trusted, revoked = dict(state.trusted), dict(state.revoked)
    for _, payload in spans:
        apply_delta(trusted, payload, revoked)
    if state_digest(trusted, revoked) != spans[-1][1].get("state"):
        raise VerificationError(
            PublicationReason.STATE_DIGEST, "the spans do not lead to the state they describe from the one held"
        )
    return trusted, revoked


def _held_index(held: SyncState, anchors: Sequence[x509.Certificate], now: dt.datetime) -> VerifiedIndex | None:
    """The stored index, re-verified (the state file is not trusted either). It may have expired
    since the last sync, so it is checked as of its own issue time: it only serves to refuse
    rollback and to know which keys were announced."""
    if not held.index:
        return None
    issued_at = parse_time(json.loads(b64url_decode(held.index.split(b".")[1]))["issuedAt"])
    return verify_index(held.index, anchors, min(issued_at, now))


def _artifact(
    fetch: Fetch,
    base: str,
    descriptor: Any,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    kind: str,
    sequence: int,
    index: VerifiedIndex,
    progress: Callable[[int, int | None], None] | None,
) -> tuple[dict[str, Any], int]:
    data = _download(fetch, base, descriptor, progress)
    return verify_named(data, descriptor, index, anchors, now, kind=kind, sequence=sequence), len(data)


def _download(fetch: Fetch, base: str, descriptor: Any, progress: Callable[[int, int | None], None] | None) -> bytes:
    """A file the index or a chain names, no longer than it says (checked while it is read)."""
    if descriptor.length > MAX_ARTIFACT_BYTES:
        raise VerificationError(PublicationReason.OVERSIZE, f"{descriptor.path}: {descriptor.length} bytes announced")
    response = fetch(base + descriptor.path, {}, descriptor.length, progress)
    if response.status != 200:
        raise VerificationError(PublicationReason.HTTP_ERROR, f"{descriptor.path}: HTTP {response.status}")
    return response.body


def _named_artifacts(
    fetch: Fetch,
    base: str,
    index: VerifiedIndex,
    held: dict[str, dict[str, Any]],
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    progress: Callable[[int, int | None], None] | None,
) -> tuple[dict[str, dict[str, Any]], int]:
    """The version of each named artifact the index names: the one held when it is that version,
    else downloaded and verified (``verify_content``); content the index no longer names is dropped."""
    current: dict[str, dict[str, Any]] = {}
    downloaded = 0
    for name, descriptor in sorted(index.artifacts.items()):
        version = {"sequence": descriptor.sequence, "sha256": descriptor.sha256, "length": descriptor.length}
        kept = held.get(name)
        if kept is not None and {key: kept.get(key) for key in version} == version and "content" in kept:
            current[name] = kept
            continue
        data = _download(fetch, base, descriptor, progress)
        downloaded += len(data)
        current[name] = {**version, "content": verify_content(data, name, index, anchors, now)}
    return current, downloaded


def _apply(state: SyncState, delta: dict[str, Any]) -> None:
    apply_delta(state.trusted, delta, state.revoked)
