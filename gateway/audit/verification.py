"""Recompute the audit log from its rows and check it against signed checkpoints.

Reports the first bad leaf index: a gap or duplicate (deleted or inserted rows), a row whose
fields no longer encode to its stored bytes (edited), a stored hash that is not the hash of the
stored bytes, a checkpoint whose root the rows no longer produce (rewritten or reordered
history; the index is then the end of the last checkpoint that still matches), or a log shorter
than a checkpoint (truncated, or restored from an old backup).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from gateway.audit.models import AuditEvent, Checkpoint
from gateway.pki import leaf, merkle
from verifier.publication import VerificationError, verify_jws

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
        raise VerificationError("WRONG_TYPE", f"{label} is not a checkpoint")
    return SignedHead(int(data["size"]), base64.b64decode(data["root"]), label)


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
    pending = sorted(heads, key=lambda h: h.size)
    frontier: list[bytes] = []
    expected = 0
    last_good_size = 0

    def check_heads_at(size: int) -> bool:
        nonlocal last_good_size
        while pending and pending[0].size == size:
            head = pending.pop(0)
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
        frontier, _ = merkle.extend_frontier(frontier, expected, leaf_hash)
        expected += 1
        if not check_heads_at(expected):
            break
    report.size = expected
    if report.ok:
        for head in pending:
            report.fail(
                expected,
                f"{head.label}: signed a log of {head.size} leaves, only {expected} remain "
                "(truncated, or restored from an older backup)",
            )
    return report
