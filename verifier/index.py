"""The signed index (docs/publication-format.md, "Index"): its verification, the model of what it
says, and the verification of each file it names.

The index binds by SHA-256 and length the most recent full lists (of a sequence F at most its
own, S), the head of the chain of deltas (S's own) and the newest span; each delta (and span)
binds the one before it the same way, back to ``chainStart`` (``verifier.chain`` walks them).
Deltas and spans are therefore plain JSON (from index version 5): the signed index authenticates
them through the chain, as TUF's signed metadata authenticates its targets by hash.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from verifier.artifacts import CHAINED_KINDS, check_entries, is_plain, typed_payload, verify_artifact, verify_chained
from verifier.descriptors import (
    DeltaDescriptor,
    Descriptor,
    FullDescriptor,
    NamedDescriptor,
    delta_descriptor,
    full_descriptor,
    named_descriptor,
)
from verifier.encoding import b64url_decode, parse_time
from verifier.entries import EntryError, restore_body
from verifier.jws import verify_jws
from verifier.reasons import PublicationReason, VerificationError

INDEX_MAX_BYTES = 1 << 20
# 3: the index names the head of a hash chain of deltas; 4: the same, its header names the signer by
# kid only (the certificate is in its publisherKeys) and its checkpoint carries no JWS of its own;
# 5: the same, and its new deltas and spans are plain JSON with compact entries (older ones on its
# chains may still be JWS: a file is read by what it is, its hash having been checked first)
SUPPORTED_INDEX_VERSIONS = (3, 4, 5)


@dataclass(frozen=True)
class VerifiedIndex:
    sequence: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    trust_list: FullDescriptor
    revocation_list: FullDescriptor
    head: DeltaDescriptor | None  # this sequence's delta; None for a reset (its full lists start anew)
    chain_start: int  # the oldest sequence the chain of deltas leads from
    announced_kids: frozenset[str]  # every key it announces: files on its chains may be signed by any
    signer_kid: str
    checkpoint: Any
    raw: bytes = field(repr=False)
    certificates: dict[str, bytes] = field(default_factory=dict, repr=False)  # announced, by kid
    span: DeltaDescriptor | None = None  # the newest span: full lists of span.previous -> span.sequence
    span_start: int | None = None  # the oldest sequence the chain of spans leads from
    signing_kids: frozenset[str] = frozenset()  # the current and next keys: the only ones an index may be signed by
    # Named artifacts (rules, value sets...): the current version of each, by name (empty when
    # the index has no "artifacts" member).
    artifacts: dict[str, NamedDescriptor] = field(default_factory=dict)

    @property
    def full_sequence(self) -> int:
        """F: the sequence of the full lists this index names."""
        return self.trust_list.sequence

    def reaches(self, sequence: int) -> bool:
        """Can a verifier holding ``sequence`` get here with deltas alone?"""
        return sequence == self.sequence or (self.head is not None and self.chain_start <= sequence < self.sequence)

    def spans_from(self, sequence: int) -> bool:
        """Can a verifier holding ``sequence`` get to the newest span's end with spans (and from
        there here with deltas)?"""
        span, start = self.span, self.span_start
        return span is not None and start is not None and start <= sequence < span.sequence


def verify_index(
    data: bytes,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    previous: VerifiedIndex | None = None,
    max_bytes: int = INDEX_MAX_BYTES,
) -> VerifiedIndex:
    """Check an index's signature, freshness, and that it does not go back from ``previous``."""
    if len(data) > max_bytes:
        raise VerificationError(PublicationReason.OVERSIZE, f"index of {len(data)} bytes exceeds {max_bytes}")
    # Read before the signature is checked, and covered by it once it is: the same bytes.
    certificates = announced_certificates(data)
    _, payload_bytes, signer_kid = verify_jws(data, anchors, now, certificates=certificates)
    payload = typed_payload(payload_bytes, "index")
    if payload.get("version") not in SUPPORTED_INDEX_VERSIONS:
        raise VerificationError(PublicationReason.UNSUPPORTED_VERSION, f"index version {payload.get('version')!r}")
    try:
        sequence = int(payload["sequence"])
        # "retired": announced for the files it signed that a chain still names, not for indexes
        signing = frozenset(str(k["kid"]) for k in payload["publisherKeys"] if k.get("status") != "retired")
        index = VerifiedIndex(
            sequence=sequence,
            issued_at=parse_time(payload["issuedAt"]),
            expires_at=parse_time(payload["expiresAt"]),
            trust_list=full_descriptor(payload["trustList"], sequence),
            revocation_list=full_descriptor(payload["revocationList"], sequence),
            head=None if payload["head"] is None else delta_descriptor(payload["head"]),
            chain_start=int(payload["chainStart"]),
            announced_kids=frozenset(certificates),
            signer_kid=signer_kid,
            checkpoint=payload.get("checkpoint"),
            raw=data,
            certificates=certificates,
            span=None if payload.get("span") is None else delta_descriptor(payload["span"]),
            span_start=None if payload.get("spanStart") is None else int(payload["spanStart"]),
            signing_kids=signing,
            artifacts=_named_artifacts(payload.get("artifacts"), sequence),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationError(PublicationReason.MALFORMED_INDEX, str(exc)) from exc
    for kid, der in certificates.items():
        if hashlib.sha256(der).hexdigest() != kid:
            raise VerificationError(
                PublicationReason.KID_MISMATCH, f"announced key {kid[:16]}… is not the SHA-256 of its certificate"
            )
    if signer_kid not in index.signing_kids:
        raise VerificationError(
            PublicationReason.UNANNOUNCED_KEY, "the index is signed by a key it does not announce as signing"
        )
    if now >= index.expires_at:
        raise VerificationError(
            PublicationReason.INDEX_EXPIRED,
            f"the index expired at {index.expires_at.isoformat()} (freeze attack?)",
        )
    if index.issued_at > now + dt.timedelta(minutes=5):
        raise VerificationError(PublicationReason.FROM_THE_FUTURE, "the index is issued in the future")
    if previous is not None:
        if index.sequence < previous.sequence:
            raise VerificationError(
                PublicationReason.ROLLBACK, f"sequence {index.sequence} is below {previous.sequence}"
            )
        if index.sequence == previous.sequence and data != previous.raw:
            raise VerificationError(
                PublicationReason.EQUIVOCATION, f"two different indexes claim sequence {index.sequence}"
            )
        if signer_kid not in previous.signing_kids:
            raise VerificationError(
                PublicationReason.UNANNOUNCED_KEY, "signed by a key the previous index did not announce"
            )
    _check_chain(index)
    if previous is not None:
        _check_consistent(previous, index)
    return index


def _named_artifacts(value: Any, sequence: int) -> dict[str, NamedDescriptor]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise VerificationError(PublicationReason.MALFORMED_INDEX, "artifacts is not an object")
    return {name: named_descriptor(name, descriptor, sequence) for name, descriptor in value.items()}


def announced_certificates(index_jws: bytes) -> dict[str, bytes]:
    """The publisher certificates an index announces, read *before* its signature is checked:
    its header names the signer by kid only (version 4). Nothing here is trusted yet:
    ``verify_jws`` then checks the one named against the pinned trust anchor and verifies the
    signature, which covers this list (a forged list fails there)."""
    try:
        payload = json.loads(b64url_decode(index_jws.decode("ascii").strip().split(".")[1]))
        return {str(k["kid"]): base64.b64decode(k["certificate"], validate=True) for k in payload["publisherKeys"]}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise VerificationError(PublicationReason.MALFORMED_INDEX, f"no readable publisherKeys ({exc})") from exc


def _check_chain(index: VerifiedIndex) -> None:
    """The head is this sequence's delta, the chain starts no later than the full lists (a verifier
    holding them can get here), and both full lists are of one sequence."""
    head = index.head
    if head is not None and (head.sequence != index.sequence or (head.previous or 0) >= index.sequence):
        raise VerificationError(
            PublicationReason.DELTA_CHAIN, f"the head delta is of {head.sequence}, not {index.sequence}"
        )
    if head is None and index.chain_start != index.sequence:
        raise VerificationError(
            PublicationReason.DELTA_CHAIN, "an index without a delta (a reset) starts its chain at itself"
        )
    if index.chain_start > index.sequence:
        raise VerificationError(
            PublicationReason.DELTA_CHAIN, f"the chain starts at {index.chain_start}, after {index.sequence}"
        )
    if index.trust_list.sequence != index.revocation_list.sequence:
        raise VerificationError(
            PublicationReason.MIX_AND_MATCH, "the trust list and the revocation list are of different sequences"
        )
    full = index.full_sequence
    if full > index.sequence or not (full == index.sequence or index.reaches(full)):
        raise VerificationError(
            PublicationReason.FULL_OUTSIDE_WINDOW,
            f"no chain of deltas leads from the full lists of {full} to {index.sequence}",
        )
    span = index.span
    if (span is None) != (index.span_start is None):
        raise VerificationError(PublicationReason.SPAN_CHAIN, "a span without where its chain starts, or the reverse")
    if span is not None and not (
        index.span_start is not None
        and span.previous is not None
        and index.span_start <= span.previous < span.sequence <= full
        and index.reaches(span.sequence)
    ):
        raise VerificationError(
            PublicationReason.SPAN_CHAIN, f"the span to {span.sequence} does not end where the deltas go on"
        )


def _check_consistent(previous: VerifiedIndex, index: VerifiedIndex) -> None:
    """History does not change: the full lists of a sequence both indexes name must be the same
    files, and never older ones. (Deltas: ``verifier.chain.walk_chain`` checks the link to the
    held head.)"""
    for before, now_listed in (
        (previous.trust_list, index.trust_list),
        (previous.revocation_list, index.revocation_list),
    ):
        if before.sequence == now_listed.sequence and (before.sha256, before.length) != (
            now_listed.sha256,
            now_listed.length,
        ):
            raise VerificationError(
                PublicationReason.FORK,
                f"the full lists of sequence {before.sequence} differ from the ones named before",
            )
        if now_listed.sequence < before.sequence:
            raise VerificationError(
                PublicationReason.ROLLBACK, f"full lists of {now_listed.sequence} after those of {before.sequence}"
            )
    # Named artifacts: a version is never replaced by an older one, nor rewritten.
    for name, now_named in index.artifacts.items():
        held = previous.artifacts.get(name)
        if held is None:
            continue
        if now_named.sequence < held.sequence:
            raise VerificationError(
                PublicationReason.ROLLBACK, f"{name} of {now_named.sequence} after that of {held.sequence}"
            )
        if now_named.sequence == held.sequence and (now_named.sha256, now_named.length) != (held.sha256, held.length):
            raise VerificationError(PublicationReason.FORK, f"the {name} of sequence {held.sequence} differs")


def verify_named(
    data: bytes,
    descriptor: Descriptor,
    index: VerifiedIndex,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    kind: str,
    sequence: int,
) -> dict[str, Any]:
    """An artifact ``index`` names (a full list, or a delta or span of its chains), checked
    against ``descriptor``: a JWS (``verify_artifact`` with the keys the index announces), or a
    plain-JSON delta or span (``verify_chained``), whose compact entries are restored to the full
    lists' form (``verifier.entries``); then every entry's thumbprint."""
    if kind in CHAINED_KINDS and is_plain(data):
        payload = verify_chained(data, descriptor, kind=kind, sequence=sequence)
    else:
        payload = verify_artifact(
            data,
            descriptor,
            anchors,
            now,
            kind=kind,
            sequence=sequence,
            allowed_kids=index.announced_kids,
            certificates=index.certificates,
        )
    if kind in CHAINED_KINDS:
        try:
            restore_body(payload)
        except (KeyError, TypeError, AttributeError, EntryError) as exc:
            raise VerificationError(PublicationReason.MALFORMED_PAYLOAD, f"{descriptor.path}: {exc}") from exc
    check_entries(payload)
    return payload


def verify_content(
    data: bytes, name: str, index: VerifiedIndex, anchors: Sequence[x509.Certificate], now: dt.datetime
) -> Any:
    """The value of the named artifact ``name`` that ``index`` names, once ``data`` is checked to
    be that version (hash, length, signature by a key the index announces, type and sequence)."""
    descriptor = index.artifacts.get(name)
    if descriptor is None:
        raise VerificationError(PublicationReason.MALFORMED_INDEX, f"the index names no {name}")
    payload = verify_named(data, descriptor, index, anchors, now, kind=name, sequence=descriptor.sequence)
    if "content" not in payload:
        raise VerificationError(PublicationReason.MALFORMED_PAYLOAD, f"{descriptor.path} carries no content")
    return payload["content"]
