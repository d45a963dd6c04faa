"""Recompute the audit log from its rows and check it against signed checkpoints.

Reports the first bad leaf index: a gap or duplicate (deleted or inserted rows), a row whose
fields no longer encode to its stored bytes (edited), a stored hash that is not the hash of the
stored bytes, a checkpoint whose root the rows no longer produce (rewritten or reordered
history; the index is then the end of the last checkpoint that still matches), or a log shorter
than a checkpoint (truncated, or restored from an old backup). Each problem is named
(:class:`LogProblem`).

The signed heads come from the checkpoint table, from exported checkpoints, and from the index
published in the publish folder (:func:`published_head`): the one copy of the head that lives
outside the database on the gateway's own host, so that replacing the audit tables with an
earlier, consistent snapshot is caught without an archived checkpoint (docs/audit.md).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import enum
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.db import connection

from gateway.audit import log
from gateway.audit.models import AuditEvent, AuditLogHead, Checkpoint
from gateway.pki import leaf, merkle
from verifier.index import announced_certificates
from verifier.jws import verify_jws
from verifier.reasons import PublicationReason, VerificationError

FIELD_NAMES = [name for name in leaf.FIELDS if name != "leaf_index"]
INDEX_NAME = "index.jws"  # in the publish folder (docs/publication-format.md, "Files")


class LogProblem(enum.StrEnum):
    """Why the log does not verify (docs/audit.md, "Verification")."""

    LEAF_MISSING = "LEAF_MISSING"  # a gap in the indexes: a row was deleted
    LEAF_DUPLICATED = "LEAF_DUPLICATED"  # an index twice: a row was inserted
    LEAF_EDITED = "LEAF_EDITED"  # a row's fields no longer encode to its recorded bytes
    LEAF_HASH_WRONG = "LEAF_HASH_WRONG"  # a stored leaf hash is not the hash of its bytes
    SUBTREE_HASH_MISSING = "SUBTREE_HASH_MISSING"  # proofs are served from stored subtree hashes
    SUBTREE_HASH_ALTERED = "SUBTREE_HASH_ALTERED"
    SUBTREE_HASH_ORPHANED = "SUBTREE_HASH_ORPHANED"  # a stored subtree hash over leaves that are gone
    LOG_HEAD_MISMATCH = "LOG_HEAD_MISMATCH"  # the head row appends continue from
    HISTORY_REWRITTEN = "HISTORY_REWRITTEN"  # the rows give another root at a signed head's size
    ROLLED_BACK = "ROLLED_BACK"  # the log is shorter than a signed head: truncated or restored
    NOT_CONSISTENT = "NOT_CONSISTENT"  # the served consistency proof from a signed head fails
    OTHER_LOG = "OTHER_LOG"  # a signed head of another log (origin)
    CHECKPOINT_UNVERIFIABLE = "CHECKPOINT_UNVERIFIABLE"  # a stored checkpoint's signature
    CHECKPOINT_COLUMNS_DIFFER = "CHECKPOINT_COLUMNS_DIFFER"  # a stored checkpoint's columns vs its JWS
    INDEX_UNVERIFIABLE = "INDEX_UNVERIFIABLE"  # the published index's signature


@dataclass(frozen=True)
class SignedHead:
    size: int
    root: bytes
    label: str
    origin: str | None = None  # the log it is a head of, when the signed payload names it


@dataclass
class LogReport:
    size: int = 0
    checked_heads: int = 0
    first_bad_index: int | None = None
    problems: list[str] = field(default_factory=list)
    reasons: list[LogProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, index: int | None, reason: LogProblem, message: str) -> None:
        """A problem, named; ``index``: the first leaf it concerns, when it concerns one."""
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        self.reasons.append(reason)
        self.problems.append(f"{reason}: {message}")


def head_from_jws(jws: str, anchors: Sequence[x509.Certificate], at: dt.datetime, label: str) -> SignedHead:
    """The size and root a checkpoint's *signed* payload states (never its unsigned copy)."""
    _, payload, _ = verify_jws(jws.encode("ascii"), anchors, at)
    data = json.loads(payload)
    if data.get("type") != "checkpoint":
        raise VerificationError(PublicationReason.WRONG_TYPE, f"{label} is not a checkpoint")
    return SignedHead(int(data["size"]), base64.b64decode(data["root"]), label, data.get("origin"))


def head_from_index(index_jws: bytes, anchors: Sequence[x509.Certificate], at: dt.datetime, label: str) -> SignedHead:
    """The audit tree head a published index carries, as its signature covers it (the index may
    have expired since: only its signature and the publisher certificate's validity at ``at``
    matter here). The label names the index's sequence and the head's time."""
    _, payload, _ = verify_jws(index_jws, anchors, at, certificates=announced_certificates(index_jws))
    data = json.loads(payload)
    if data.get("type") != "index" or not data.get("checkpoint"):
        raise VerificationError(PublicationReason.WRONG_TYPE, f"{label} is not an index that carries a checkpoint")
    head = data["checkpoint"]
    sequence, issued = data.get("sequence"), head.get("issuedAt")
    described = f"{label} (sequence {sequence}, a tree head of {head['size']} leaves of {issued})"
    return SignedHead(int(head["size"]), base64.b64decode(head["root"]), described, head.get("origin"))


def published_head(
    anchors: Sequence[x509.Certificate], at: dt.datetime, report: LogReport, publish_dir: Path | None = None
) -> SignedHead | None:
    """The tree head of the index published in ``publish_dir`` (GATEWAY_PUBLISH_DIR), its
    signature verified against the trust anchors as a verifier does; None when no index is
    published yet, or when it does not verify (then a problem of ``report``).

    Read it before the rows: the publisher commits a checkpoint before it renames the index that
    carries it into place, and the log only grows, so rows read after the index cover its head."""
    path = Path(settings.GATEWAY_PUBLISH_DIR if publish_dir is None else publish_dir) / INDEX_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return head_from_index(data, anchors, at, f"the published index {path}")
    except (VerificationError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        report.fail(None, LogProblem.INDEX_UNVERIFIABLE, f"the published index {path} does not verify ({exc})")
        return None


def stored_heads(anchors: Sequence[x509.Certificate], at: dt.datetime, report: LogReport) -> list[SignedHead]:
    heads = []
    for checkpoint in Checkpoint.objects.order_by("tree_size", "id"):
        label = f"stored checkpoint #{checkpoint.pk} (size {checkpoint.tree_size})"
        try:
            head = head_from_jws(checkpoint.jws, anchors, at, label)
        except (VerificationError, ValueError, KeyError) as exc:
            report.fail(None, LogProblem.CHECKPOINT_UNVERIFIABLE, f"{label}: signature does not verify ({exc})")
            continue
        if head.size != checkpoint.tree_size or head.root != bytes(checkpoint.root_hash):
            report.fail(None, LogProblem.CHECKPOINT_COLUMNS_DIFFER, f"{label}: its columns differ from what it signed")
        heads.append(head)
    return heads


@dataclass(frozen=True)
class Verified:
    """What :func:`verify_against_signed_heads` checked the log against, and what it found."""

    report: LogReport
    stored: int  # stored checkpoints
    published: SignedHead | None  # the published index's head; None when no index is published


def verify_against_signed_heads(
    anchors: Sequence[x509.Certificate], at: dt.datetime, exported: Sequence[SignedHead] = ()
) -> Verified:
    """The log against every signed head there is: the stored checkpoints, the published index's
    head (read first, before the rows) with the consistency proof from it, and ``exported``."""
    report = LogReport()
    published = published_head(anchors, at, report)
    stored = stored_heads(anchors, at, report)
    verify_log([*stored, *([] if published is None else [published]), *exported], report)
    if published is not None and report.ok:
        check_consistent(published, report)
    return Verified(report, len(stored), published)


def check_consistent(head: SignedHead, report: LogReport) -> None:
    """What a verifier holding ``head`` asks the log (``/audit/proof/consistency``, RFC 9162
    §2.1.4): that today's tree extends the tree ``head`` signed. :func:`verify_log` recomputed
    the root at ``head.size`` from the rows already; this checks the proof served from the stored
    subtree hashes, and the origin."""
    if head.origin is not None and head.origin != settings.GATEWAY_AUDIT_ORIGIN:
        report.fail(None, LogProblem.OTHER_LOG, f"{head.label}: a head of {head.origin!r}, not of this log")
        return
    size, root = log.current_tree()
    if head.size == 0 or head.size > size:
        # The empty tree is a prefix of every tree (RFC 9162 §2.1.4: no proof from size 0); a
        # longer head is a log rolled back, which verify_log reported (ROLLED_BACK).
        return
    proof = log.consistency_proof(head.size, size)
    if not merkle.verify_consistency(head.size, size, proof, head.root, root):
        report.fail(
            head.size,
            LogProblem.NOT_CONSISTENT,
            f"{head.label}: the log of {size} leaves does not extend it (consistency proof fails)",
        )


def verify_log(heads: Iterable[SignedHead], report: LogReport | None = None) -> LogReport:
    report = report or LogReport()
    pending = collections.deque(sorted(heads, key=lambda h: h.size))
    stored_nodes = _stored_nodes_in_completion_order()
    frontier: list[bytes] = []
    expected = 0
    last_good_size = 0

    def check_heads_at(size: int) -> bool:
        nonlocal last_good_size
        while pending and pending[0].size == size:
            head = pending.popleft()
            report.checked_heads += 1
            if merkle.frontier_root(frontier) != head.root:
                report.fail(
                    last_good_size,
                    LogProblem.HISTORY_REWRITTEN,
                    f"{head.label}: the rows give another root at size {size}; history "
                    f"before index {size} was rewritten after index {last_good_size}",
                )
                return False
            last_good_size = size
        return True

    if not check_heads_at(0):
        return report
    rows = AuditEvent.objects.order_by("leaf_index").values_list("leaf_index", "leaf_bytes", "leaf_hash", *FIELD_NAMES)
    for row in rows.iterator(chunk_size=5000):
        index, stored_bytes, stored_hash = row[0], bytes(row[1]), bytes(row[2])
        if index != expected:
            kind = "missing (deleted?)" if index > expected else "duplicated"
            reason = LogProblem.LEAF_MISSING if index > expected else LogProblem.LEAF_DUPLICATED
            report.fail(expected, reason, f"leaf {expected} is {kind}: the next row has index {index}")
            break
        fields = dict(zip(FIELD_NAMES, row[3:], strict=True))
        if leaf.encode({**fields, "leaf_index": index}) != stored_bytes:
            report.fail(
                index,
                LogProblem.LEAF_EDITED,
                f"leaf {index}: its fields no longer match its recorded bytes (edited or swapped)",
            )
            break
        leaf_hash = merkle.leaf_hash(stored_bytes)
        if leaf_hash != stored_hash:
            report.fail(index, LogProblem.LEAF_HASH_WRONG, f"leaf {index}: stored hash is not the hash of its bytes")
            break
        frontier, completed = merkle.extend_frontier(frontier, expected, leaf_hash)
        if not _nodes_match(completed, stored_nodes, report):
            break
        expected += 1
        if not check_heads_at(expected):
            break
    report.size = expected
    if report.ok:
        leftover = next(stored_nodes, None)
        if leftover is not None:
            report.fail(
                expected,
                LogProblem.SUBTREE_HASH_ORPHANED,
                f"a stored subtree hash (level {leftover[0]}, index {leftover[1]}) has no leaves",
            )
        _check_head(expected, frontier, report)
    if report.ok:
        for head in pending:
            report.fail(
                expected,
                LogProblem.ROLLED_BACK,
                f"{head.label}: signed a log of {head.size} leaves, only {expected} remain "
                "(truncated, or restored from an older backup)",
            )
    return report


def _stored_nodes_in_completion_order() -> Iterator[tuple[int, int, bytes]]:
    """Stored subtree hashes in the order appends complete them: by the leaf that completes
    them, ((index + 1) << level) - 1, then by level."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT level, "index", hash FROM audit_auditnode ORDER BY (("index" + 1) << CAST(level AS INTEGER)), level'
        )
        while rows := cursor.fetchmany(5000):
            for level, index, value in rows:
                yield level, index, bytes(value)


def _nodes_match(
    completed: list[tuple[int, int, bytes]], stored: Iterator[tuple[int, int, bytes]], report: LogReport
) -> bool:
    """The subtree hashes proofs are served from must be the ones the leaves give."""
    for level, index, value in completed:
        found = next(stored, None)
        start = index << level
        if found is None or found[:2] != (level, index):
            report.fail(
                start,
                LogProblem.SUBTREE_HASH_MISSING,
                f"stored subtree hash for leaves {start}..{start + (1 << level) - 1} is missing",
            )
            return False
        if found[2] != value:
            report.fail(
                start,
                LogProblem.SUBTREE_HASH_ALTERED,
                f"stored subtree hash for leaves {start}..{start + (1 << level) - 1} was altered "
                "(proofs built from it would fail)",
            )
            return False
    return True


def _check_head(size: int, frontier: list[bytes], report: LogReport) -> None:
    head = AuditLogHead.objects.filter(pk=1).first()
    if head is None:
        return
    if head.size != size or merkle.unpack_frontier(bytes(head.frontier)) != frontier:
        report.fail(
            min(head.size, size),
            LogProblem.LOG_HEAD_MISMATCH,
            f"the log head (size {head.size}) does not match the {size} verified leaves",
        )
