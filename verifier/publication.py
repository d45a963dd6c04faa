"""Verification of published artifacts (docs/publication-format.md).

The index and the full lists are compact JWS (ES256) signed by a publisher certificate: carried
in its ``x5c`` header (full lists; an index before version 4), or named by its ``kid`` header
alone and announced, with its certificate, by the index itself. That certificate must be issued
by a pinned trust anchor and valid at the verification time, and its SHA-256 must equal the
``kid``. The index binds by SHA-256 and length the most recent full lists (of a sequence F at
most its own, S), the head of the chain of deltas (S's own) and the newest span; each delta (and
span) binds the one before it the same way, back to ``chainStart``. Deltas and spans are
therefore plain JSON (from index version 5): the signed index authenticates them through the
chain, as TUF's signed metadata authenticates its targets by hash. Before, they were JWS too.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from verifier.entries import EntryError, restore_body

INDEX_MAX_BYTES = 1 << 20


class VerificationError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Descriptor:
    path: str
    sha256: str
    length: int

    @classmethod
    def of(cls, value: dict[str, Any]) -> Descriptor:
        try:
            return cls(str(value["path"]), str(value["sha256"]), int(value["length"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise VerificationError("MALFORMED_INDEX", f"bad artifact descriptor: {exc}") from exc


@dataclass(frozen=True)
class FullDescriptor(Descriptor):
    sequence: int = 0  # the sequence whose full list this is (F)
    entries: int | None = None


@dataclass(frozen=True)
class DeltaDescriptor(Descriptor):
    sequence: int = 0
    previous: int | None = None


# 3: the index names the head of a hash chain of deltas; 4: the same, its header names the signer by
# kid only (the certificate is in its publisherKeys) and its checkpoint carries no JWS of its own;
# 5: the same, and its new deltas and spans are plain JSON with compact entries (older ones on its
# chains may still be JWS: a file is read by what it is, its hash having been checked first)
SUPPORTED_INDEX_VERSIONS = (3, 4, 5)
# Files the hash chains authenticate, rather than a signature of their own (from index version 5).
CHAINED_KINDS = frozenset({"delta", "span"})


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


# Loads the delta a descriptor names and returns its verified payload (see ``walk_chain``).
DeltaLoader = Callable[[DeltaDescriptor], dict[str, Any]]


def delta_descriptor(value: Any) -> DeltaDescriptor:
    plain = Descriptor.of(value)
    try:
        previous = value.get("previous")
        return DeltaDescriptor(
            plain.path, plain.sha256, plain.length, int(value["sequence"]), None if previous is None else int(previous)
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise VerificationError("MALFORMED_INDEX", f"bad delta descriptor: {exc}") from exc


def is_plain(data: bytes) -> bool:
    """A plain-JSON delta or span (from index version 5), rather than a compact JWS, which starts
    with its base64url header."""
    return data[:1] == b"{"


def chain_path(sequence: int, kind: str) -> str:
    """Where a plain-JSON delta or span (``kind``) of ``sequence`` is published."""
    return f"sequences/{sequence}/{kind}.json"


def linked_descriptor(value: Any, *, sequence: int, kind: str, reason: str) -> DeltaDescriptor:
    """The file before one on a chain, as that file names it (``previousDelta``, ``previousSpan``):
    by SHA-256 and length, of the sequence the naming file says it follows; at ``chain_path``
    unless a ``path`` is given (a JWS from before index version 5, which also gave its sequence
    and previous). Where it starts itself is read from it once it is loaded (``_walk_back``)."""
    try:
        given = value.get("sequence")
        if given is not None and int(given) != sequence:
            raise VerificationError(reason, f"the {kind} after {sequence} names one of {given} before it")
        previous = value.get("previous")
        return DeltaDescriptor(
            str(value.get("path") or chain_path(sequence, kind)),
            str(value["sha256"]),
            int(value["length"]),
            sequence,
            None if previous is None else int(previous),
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise VerificationError(reason, f"bad link to the {kind} of {sequence}: {exc}") from exc


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
    (``verify_artifact``). ``link``: what the verifier saw as the head of ``sequence``'s index,
    which the oldest delta walked must name as its predecessor (else history was rewritten: FORK).
    """
    if sequence == index.sequence:
        return []
    if not index.reaches(sequence):
        raise VerificationError("OUTSIDE_WINDOW", f"no chain of deltas leads from {sequence} to {index.sequence}")
    assert index.head is not None

    def reached(start: int) -> bool:
        if start == sequence:
            return True
        if start < sequence:
            raise VerificationError(
                "DELTA_CHAIN", f"the chain of deltas from {index.sequence} does not lead back to {sequence}"
            )
        return False

    walked = _walk_back(index.head, load, kind="delta", reason="DELTA_CHAIN", reached=reached)
    named = walked[0][1].get("previousDelta")
    if check_link and not _names(named, link, sequence):
        raise VerificationError("FORK", f"the delta after {sequence} names another delta before it than we saw")
    return walked


def _names(named: Any, held: DeltaDescriptor | None, sequence: int) -> bool:
    """Does the link ``named`` (the oldest delta walked names the one before it) name ``held``,
    the head of the index held at ``sequence``? The same bytes: SHA-256 and length."""
    if named is None or held is None:
        return named is None and held is None
    linked = linked_descriptor(named, sequence=sequence, kind="delta", reason="DELTA_CHAIN")
    return (linked.sha256, linked.length, held.sequence) == (held.sha256, held.length, sequence)


def _walk_back(
    newest: DeltaDescriptor,
    load: DeltaLoader,
    *,
    kind: str,
    reason: str,
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
        raise VerificationError("OUTSIDE_WINDOW", f"no chain of spans leads from {sequence}")
    assert index.span is not None
    return _walk_back(index.span, load, kind="span", reason="SPAN_CHAIN", reached=lambda start: start <= sequence)


def state_digest(trusted: Iterable[str], revoked: Iterable[str]) -> dict[str, Any]:
    """A span's ``state``: the number of trusted and revoked entries and the SHA-256 of their
    sorted thumbprints (trusted, a line feed, revoked), computed over what a verifier holds."""
    trusted, revoked = sorted(trusted), sorted(revoked)
    hashed = hashlib.sha256("".join(trusted).encode("ascii"))
    hashed.update(b"\n")
    hashed.update("".join(revoked).encode("ascii"))
    return {"trusted": len(trusted), "revoked": len(revoked), "sha256": hashed.hexdigest()}


def load_anchor(pem_or_der: bytes) -> x509.Certificate:
    if pem_or_der.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_certificate(pem_or_der)
    return x509.load_der_x509_certificate(pem_or_der)


def verify_jws(
    compact: bytes,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    detached_payload: bytes | None = None,
    certificates: Mapping[str, bytes] | None = None,
) -> tuple[dict[str, Any], bytes, str]:
    """Verify a compact JWS against the pinned trust anchors. Returns header, payload, signer kid.

    A JWS without ``x5c`` names its signer by ``kid`` only; its certificate must be among
    ``certificates`` (the publisher keys an index announced)."""
    try:
        text = compact.decode("ascii").strip()
        header = json.loads(_b64url(text.split(".", 1)[0]))
        if "x5c" in header:
            signer_der = base64.b64decode(header["x5c"][0], validate=True)
        elif certificates is not None and str(header["kid"]) in certificates:
            signer_der = certificates[str(header["kid"])]
        else:
            raise VerificationError("UNANNOUNCED_KEY", "a kid-only JWS whose key no index announced")
        publisher = x509.load_der_x509_certificate(signer_der)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise VerificationError("MALFORMED_JWS", str(exc)) from exc
    if header.get("alg") != "ES256":
        raise VerificationError("ALGORITHM", f"alg {header.get('alg')!r} is not ES256")
    signer_kid = hashlib.sha256(signer_der).hexdigest()
    if header.get("kid") != signer_kid:
        raise VerificationError("KID_MISMATCH", "kid header is not the SHA-256 of the x5c certificate")
    anchor_ders = tuple(anchor.public_bytes(Encoding.DER) for anchor in anchors)
    if not _publisher_trusted(signer_der, anchor_ders):
        raise VerificationError("UNTRUSTED_SIGNER", "the publisher certificate is not issued by a pinned trust anchor")
    if not publisher.not_valid_before_utc <= now <= publisher.not_valid_after_utc:
        raise VerificationError("SIGNER_EXPIRED", "the publisher certificate is not valid at the verification time")
    try:
        decoded = jwt.api_jws.decode_complete(
            text,
            key=publisher.public_key(),
            algorithms=["ES256"],  # type: ignore[arg-type]
            detached_payload=detached_payload,
        )
    except jwt.exceptions.InvalidSignatureError as exc:
        raise VerificationError("BAD_SIGNATURE", "the JWS signature does not verify") from exc
    except jwt.exceptions.PyJWTError as exc:
        raise VerificationError("MALFORMED_JWS", str(exc)) from exc
    return decoded["header"], decoded["payload"], signer_kid


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
        raise VerificationError("OVERSIZE", f"index of {len(data)} bytes exceeds {max_bytes}")
    # Read before the signature is checked, and covered by it once it is: the same bytes.
    certificates = announced_certificates(data)
    _, payload_bytes, signer_kid = verify_jws(data, anchors, now, certificates=certificates)
    payload = _json(payload_bytes, "index")
    if payload.get("version") not in SUPPORTED_INDEX_VERSIONS:
        raise VerificationError("UNSUPPORTED_VERSION", f"index version {payload.get('version')!r}")
    try:
        sequence = int(payload["sequence"])
        # "retired": announced for the files it signed that a chain still names, not for indexes
        signing = frozenset(str(k["kid"]) for k in payload["publisherKeys"] if k.get("status") != "retired")
        index = VerifiedIndex(
            sequence=sequence,
            issued_at=_time(payload["issuedAt"]),
            expires_at=_time(payload["expiresAt"]),
            trust_list=_full_descriptor(payload["trustList"], sequence),
            revocation_list=_full_descriptor(payload["revocationList"], sequence),
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
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationError("MALFORMED_INDEX", str(exc)) from exc
    for kid, der in certificates.items():
        if hashlib.sha256(der).hexdigest() != kid:
            raise VerificationError("KID_MISMATCH", f"announced key {kid[:16]}… is not the SHA-256 of its certificate")
    if signer_kid not in index.signing_kids:
        raise VerificationError("UNANNOUNCED_KEY", "the index is signed by a key it does not announce as signing")
    if now >= index.expires_at:
        raise VerificationError("EXPIRED", f"the index expired at {index.expires_at.isoformat()} (freeze attack?)")
    if index.issued_at > now + dt.timedelta(minutes=5):
        raise VerificationError("FROM_THE_FUTURE", "the index is issued in the future")
    if previous is not None:
        if index.sequence < previous.sequence:
            raise VerificationError("ROLLBACK", f"sequence {index.sequence} is below {previous.sequence}")
        if index.sequence == previous.sequence and data != previous.raw:
            raise VerificationError("EQUIVOCATION", f"two different indexes claim sequence {index.sequence}")
        if signer_kid not in previous.signing_kids:
            raise VerificationError("UNANNOUNCED_KEY", "signed by a key the previous index did not announce")
    _check_chain(index)
    if previous is not None:
        _check_consistent(previous, index)
    return index


def announced_certificates(index_jws: bytes) -> dict[str, bytes]:
    """The publisher certificates an index announces, read *before* its signature is checked:
    its header names the signer by kid only (version 4). Nothing here is trusted yet:
    ``verify_jws`` then checks the one named against the pinned trust anchor and verifies the
    signature, which covers this list (a forged list fails there)."""
    try:
        payload = json.loads(_b64url(index_jws.decode("ascii").strip().split(".")[1]))
        return {str(k["kid"]): base64.b64decode(k["certificate"], validate=True) for k in payload["publisherKeys"]}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise VerificationError("MALFORMED_INDEX", f"no readable publisherKeys ({exc})") from exc


def _full_descriptor(value: dict[str, Any], index_sequence: int) -> FullDescriptor:
    plain = Descriptor.of(value)
    entries = value.get("entries")
    return FullDescriptor(
        plain.path,
        plain.sha256,
        plain.length,
        int(value.get("sequence", index_sequence)),
        None if entries is None else int(entries),
    )


def _check_chain(index: VerifiedIndex) -> None:
    """The head is this sequence's delta, the chain starts no later than the full lists (a verifier
    holding them can get here), and both full lists are of one sequence."""
    head = index.head
    if head is not None and (head.sequence != index.sequence or (head.previous or 0) >= index.sequence):
        raise VerificationError("DELTA_CHAIN", f"the head delta is of {head.sequence}, not {index.sequence}")
    if head is None and index.chain_start != index.sequence:
        raise VerificationError("DELTA_CHAIN", "an index without a delta (a reset) starts its chain at itself")
    if index.chain_start > index.sequence:
        raise VerificationError("DELTA_CHAIN", f"the chain starts at {index.chain_start}, after {index.sequence}")
    if index.trust_list.sequence != index.revocation_list.sequence:
        raise VerificationError("MIX_AND_MATCH", "the trust list and the revocation list are of different sequences")
    full = index.full_sequence
    if full > index.sequence or not (full == index.sequence or index.reaches(full)):
        raise VerificationError(
            "FULL_OUTSIDE_WINDOW", f"no chain of deltas leads from the full lists of {full} to {index.sequence}"
        )
    span = index.span
    if (span is None) != (index.span_start is None):
        raise VerificationError("SPAN_CHAIN", "a span without where its chain starts, or the reverse")
    if span is not None and not (
        index.span_start is not None
        and span.previous is not None
        and index.span_start <= span.previous < span.sequence <= full
        and index.reaches(span.sequence)
    ):
        raise VerificationError("SPAN_CHAIN", f"the span to {span.sequence} does not end where the deltas go on")


def _check_consistent(previous: VerifiedIndex, index: VerifiedIndex) -> None:
    """History does not change: the full lists of a sequence both indexes name must be the same
    files, and never older ones. (Deltas: ``walk_chain`` checks the link to the held head.)"""
    for before, now_listed in (
        (previous.trust_list, index.trust_list),
        (previous.revocation_list, index.revocation_list),
    ):
        if before.sequence == now_listed.sequence and (before.sha256, before.length) != (
            now_listed.sha256,
            now_listed.length,
        ):
            raise VerificationError(
                "FORK", f"the full lists of sequence {before.sequence} differ from the ones named before"
            )
        if now_listed.sequence < before.sequence:
            raise VerificationError("ROLLBACK", f"full lists of {now_listed.sequence} after those of {before.sequence}")


def verify_artifact(
    data: bytes,
    descriptor: Descriptor,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    kind: str,
    sequence: int,
    allowed_kids: Iterable[str],
    certificates: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Check that ``data`` is exactly what the index describes, and return its payload.
    ``certificates`` (the index's announced keys) verify a JWS that names its signer by kid only."""
    _check_described(data, descriptor)
    _, payload_bytes, signer_kid = verify_jws(data, anchors, now, certificates=certificates)
    if signer_kid not in set(allowed_kids):
        raise VerificationError("UNANNOUNCED_KEY", f"{descriptor.path} is signed by a key the index does not announce")
    return _payload_of_sequence(payload_bytes, descriptor, kind, sequence)


def verify_chained(data: bytes, descriptor: Descriptor, *, kind: str, sequence: int) -> dict[str, Any]:
    """A plain-JSON delta or span: authentic because ``descriptor`` (from the verified index, or
    from the verified file after it on its chain) binds its SHA-256 and length. Its entries are
    returned as they are (compact: see ``verify_named``)."""
    if kind not in CHAINED_KINDS:
        raise VerificationError("MALFORMED_JWS", f"a {kind} must be a JWS")
    _check_described(data, descriptor)
    return _payload_of_sequence(data, descriptor, kind, sequence)


def _check_described(data: bytes, descriptor: Descriptor) -> None:
    if len(data) != descriptor.length:
        raise VerificationError(
            "LENGTH_MISMATCH", f"{descriptor.path}: {len(data)} bytes, index says {descriptor.length}"
        )
    if hashlib.sha256(data).hexdigest() != descriptor.sha256:
        raise VerificationError("HASH_MISMATCH", f"{descriptor.path}: SHA-256 differs from the index")


def _payload_of_sequence(payload_bytes: bytes, descriptor: Descriptor, kind: str, sequence: int) -> dict[str, Any]:
    payload = _json(payload_bytes, kind)
    if payload.get("sequence") != sequence:
        raise VerificationError("SEQUENCE_MISMATCH", f"{descriptor.path} is of sequence {payload.get('sequence')}")
    return payload


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
            raise VerificationError("MALFORMED_PAYLOAD", f"{descriptor.path}: {exc}") from exc
    check_entries(payload)
    return payload


def apply_delta(
    trusted: dict[str, dict[str, Any]], delta: dict[str, Any], revoked: dict[str, dict[str, Any]] | None = None
) -> None:
    """Bring a trust list (and a revocation list), keyed by thumbprint, forward by one verified
    delta: its upserts replace, its removals drop, its revocations are added."""
    for entry in delta["upsert"]:
        trusted[entry["thumbprint"]] = entry
    for thumbprint in delta["remove"]:
        trusted.pop(thumbprint, None)
    if revoked is not None:
        for entry in delta["revoked"]:
            revoked[entry["thumbprint"]] = entry


def check_entries(payload: dict[str, Any]) -> None:
    """Every entry names a thumbprint, and each certificate's is the SHA-256 of the DER it carries."""
    try:
        for entry in payload.get("entries", []) + payload.get("upsert", []) + payload.get("revoked", []):
            if not isinstance(entry["thumbprint"], str):
                raise TypeError("a thumbprint is not a string")
            if "certificate" not in entry:  # revocation entries name a thumbprint only
                continue
            der = base64.b64decode(entry["certificate"], validate=True)
            if hashlib.sha256(der).hexdigest() != entry["thumbprint"]:
                raise VerificationError("ENTRY_MISMATCH", f"entry {entry.get('kid')} does not match its thumbprint")
        if not all(isinstance(thumbprint, str) for thumbprint in payload.get("remove", [])):
            raise TypeError("a removed thumbprint is not a string")
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationError("MALFORMED_PAYLOAD", f"an entry that cannot be read: {exc!r}") from exc


def verify_did_document(data: bytes, anchors: Sequence[x509.Certificate], now: dt.datetime) -> dict[str, Any]:
    try:
        document = json.loads(data)
        proof = document.pop("proof")
        unsigned = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        jws = proof["jws"].encode("ascii")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationError("MALFORMED_DID", str(exc)) from exc
    header, _, _ = verify_jws(jws, anchors, now, detached_payload=unsigned)
    if header.get("b64") is not False:
        raise VerificationError("MALFORMED_DID", "the proof must be an unencoded-payload JWS (RFC 7797)")
    return document


@dataclass
class FolderReport:
    sequence: int = 0
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def verify_folder(root: Path, anchors: Sequence[x509.Certificate], now: dt.datetime) -> FolderReport:
    """End-to-end check of a publish folder (or a mirror of it): what a verifier would download."""
    report = FolderReport()
    try:
        index = verify_index((root / "index.jws").read_bytes(), anchors, now)
    except (OSError, VerificationError) as exc:
        report.problems.append(f"index.jws: {exc}")
        return report
    report.sequence = index.sequence
    report.checked.append("index.jws")
    listed: list[tuple[Descriptor, str, int]] = [
        (index.trust_list, "trust-list", index.full_sequence),
        (index.revocation_list, "revocation-list", index.full_sequence),
    ]
    for descriptor, kind, sequence in listed:
        try:
            data = (root / descriptor.path).read_bytes()
            payload = verify_named(data, descriptor, index, anchors, now, kind=kind, sequence=sequence)
            if isinstance(descriptor, FullDescriptor) and descriptor.entries not in (None, len(payload["entries"])):
                raise VerificationError(
                    "ENTRY_COUNT", f"{len(payload['entries'])} entries, the index says {descriptor.entries}"
                )
            report.checked.append(descriptor.path)
        except (OSError, VerificationError, KeyError, ValueError) as exc:
            report.problems.append(f"{descriptor.path}: {exc}")
    _check_folder_chain(root, index, anchors, now, report)
    did = root / "did.json"
    if did.exists():
        try:
            verify_did_document(did.read_bytes(), anchors, now)
            report.checked.append("did.json")
        except VerificationError as exc:
            report.problems.append(f"did.json: {exc}")
    return report


def folder_loader(
    root: Path, index: VerifiedIndex, anchors: Sequence[x509.Certificate], now: dt.datetime, *, kind: str = "delta"
) -> DeltaLoader:
    """A ``walk_chain`` (or, with kind "span", ``walk_spans``) loader reading from a publish
    folder (or a mirror of it)."""

    def load(descriptor: DeltaDescriptor) -> dict[str, Any]:
        data = (root / descriptor.path).read_bytes()
        return verify_named(data, descriptor, index, anchors, now, kind=kind, sequence=descriptor.sequence)

    return load


def _check_folder_chain(
    root: Path, index: VerifiedIndex, anchors: Sequence[x509.Certificate], now: dt.datetime, report: FolderReport
) -> None:
    """Every delta of the chain, from the head back to its start, as a verifier would walk it."""
    if index.head is None:
        return
    read = folder_loader(root, index, anchors, now)

    def load(descriptor: DeltaDescriptor) -> dict[str, Any]:
        payload = read(descriptor)
        report.checked.append(descriptor.path)
        return payload

    try:
        # The oldest delta may name its predecessor (pruned since): nothing to compare it with.
        walk_chain(index, index.chain_start, load, check_link=False)
    except (OSError, VerificationError, KeyError, ValueError) as exc:
        report.problems.append(f"delta chain: {exc}")
    if index.span is None or index.span_start is None:
        return
    read_span = folder_loader(root, index, anchors, now, kind="span")

    def load_span(descriptor: DeltaDescriptor) -> dict[str, Any]:
        payload = read_span(descriptor)
        report.checked.append(descriptor.path)
        return payload

    try:
        walk_spans(index, index.span_start, load_span)
    except (OSError, VerificationError, KeyError, ValueError) as exc:
        report.problems.append(f"span chain: {exc}")


@functools.lru_cache(maxsize=64)
def _publisher_trusted(publisher_der: bytes, anchor_ders: tuple[bytes, ...]) -> bool:
    """Memoised on the exact bytes: every artifact and checkpoint carries the same certificate."""
    publisher = x509.load_der_x509_certificate(publisher_der)
    return any(_issued_by(publisher, x509.load_der_x509_certificate(anchor)) for anchor in anchor_ders)


def _issued_by(certificate: x509.Certificate, anchor: x509.Certificate) -> bool:
    if certificate.issuer != anchor.subject:
        return False
    key = anchor.public_key()
    hash_algorithm = certificate.signature_hash_algorithm
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
            key.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
            return True
        certificate.verify_directly_issued_by(anchor)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def _json(payload: bytes, kind: str) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise VerificationError("MALFORMED_PAYLOAD", str(exc)) from exc
    if not isinstance(value, dict) or value.get("type") != kind:
        raise VerificationError("WRONG_TYPE", f"expected a {kind} payload")
    return value


def _time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.PEM)
