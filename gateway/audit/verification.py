"""Recompute the audit log from its rows and check it against signed checkpoints.

Reports the first bad leaf index: a gap or duplicate (deleted or inserted rows), a row whose
fields no longer encode to its stored bytes (edited), a stored hash that is not the hash of the
stored bytes, a checkpoint whose root the rows no longer produce (rewritten or reordered
history; the index is then the end of the last checkpoint that still matches), or a log shorter
than a checkpoint (truncated, or restored from an old backup).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from django.db import connection

from gateway.audit.models import AuditEvent, AuditLogHead, Checkpoint
from gateway.pki import leaf, merkle
from verifier.index import announced_certificates
from verifier.jws import verify_jws
from verifier.reasons import PublicationReason, VerificationError

FIELD_NAMES = [name for name in leaf.FIELDS if name != "leaf_index"]


@dataclass(frozen=True)
class SignedHead:
    size: int
    root: bytes
    label: str


@dataclass
class LogReport:
    size: int = 0
    checked_heads: int = 0
    first_bad_index: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, index: int, message: str) -> None:
        if self.first_bad_index is None or index < self.first_bad_index:
            self.first_bad_index = index
        self.problems.append(message)


def head_from_jws(jws: str, anchors: Sequence[x509.Certificate], at: dt.datetime, label: str) -> SignedHead:
    """The size and root a checkpoint's *signed* payload states (never its unsigned copy)."""
    _, payload, _ = verify_jws(jws.encode("ascii"), anchors, at)
    data = json.loads(payload)
    if data.get("type") != "checkpoint":
        raise VerificationError(PublicationReason.WRONG_TYPE, f"{label} is not a checkpoint")
    return SignedHead(int(data["size"]), base64.b64decode(data["root"]), label)


def head_from_index(index_jws: bytes, anchors: Sequence[x509.Certificate], at: dt.datetime, label: str) -> SignedHead:
    """The audit tree head a published index carries, as its signature covers it (the index may
    have expired since: only its signature and the publisher certificate's validity at ``at``
    matter here)."""
    _, payload, _ = verify_jws(index_jws, anchors, at, certificates=announced_certificates(index_jws))
    data = json.loads(payload)
    if data.get("type") != "index" or not data.get("checkpoint"):
        raise VerificationError(PublicationReason.WRONG_TYPE, f"{label} is not an index that carries a checkpoint")
    return SignedHead(int(data["checkpoint"]["size"]), base64.b64decode(data["checkpoint"]["root"]), label)


def stored_heads(anchors: Sequence[x509.Certificate], at: dt.datetime, report: LogReport) -> list[SignedHead]:
    heads = []
    for checkpoint in Checkpoint.objects.order_by("tree_size", "id"):
        label = f"stored checkpoint #{checkpoint.pk} (size {checkpoint.tree_size})"
        try:
            head = head_from_jws(checkpoint.jws, anchors, at, label)
        except (VerificationError, ValueError, KeyError) as exc:
            report.problems.append(f"{label}: signature does not verify ({exc})")
            continue
        if head.size != checkpoint.tree_size or head.root != bytes(checkpoint.root_hash):
            report.problems.append(f"{label}: its columns differ from what it signed")
        heads.append(head)
    return heads


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
            report.fail(expected, f"leaf {expected} is {kind}: the next row has index {index}")
            break
        fields = dict(zip(FIELD_NAMES, row[3:], strict=True))
        if leaf.encode({**fields, "leaf_index": index}) != stored_bytes:
            report.fail(index, f"leaf {index}: its fields no longer match its recorded bytes (edited or swapped)")
            break
        leaf_hash = merkle.leaf_hash(stored_bytes)
        if leaf_hash != stored_hash:
            report.fail(index, f"leaf {index}: stored hash is not the hash of its bytes")
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
            report.fail(expected, f"a stored subtree hash (level {leftover[0]}, index {leftover[1]}) has no leaves")
        _check_head(expected, frontier, report)
    if report.ok:
        for head in pending:
            report.fail(
                expected,
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
            report.fail(start, f"stored subtree hash for leaves {start}..{start + (1 << level) - 1} is missing")
            return False
        if found[2] != value:
            report.fail(
                start,
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
        report.fail(min(head.size, size), f"the log head (size {head.size}) does not match the {size} verified leaves")
