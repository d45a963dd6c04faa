"""The append-only Merkle audit log: append, root, checkpoints and proofs (RFC 9162)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from gateway import dbwrite
from gateway.audit.models import AuditEvent, AuditLogHead, AuditNode, Checkpoint
from gateway.pki import leaf, merkle
from gateway.signing import jws
from gateway.signing.backend import Signer
from verifier.encoding import canonical_json, format_time

HEAD_ID = 1


def append(fields: dict[str, Any]) -> AuditEvent:
    """Append one event as the next leaf, in the caller's transaction.

    The head row is locked until the transaction ends, so indexes are handed out in commit
    order without gaps: a transaction that rolls back takes its index and its nodes with it.
    No savepoint: if the append fails, the change it records must not commit either.
    """
    with transaction.atomic(savepoint=False):
        index, packed_frontier = _lock_head()
        leaf_bytes = leaf.encode({**fields, "leaf_index": index})
        leaf_hash = merkle.leaf_hash(leaf_bytes)
        frontier, completed = merkle.extend_frontier(merkle.unpack_frontier(packed_frontier), index, leaf_hash)
        # Statements built once, and on PostgreSQL the event, its completed subtree hashes and
        # the new head in one round trip (gateway.dbwrite): an append is on every upload's path,
        # and it runs under the head lock.
        return dbwrite.insert(
            AuditEvent(leaf_index=index, leaf_bytes=leaf_bytes, leaf_hash=leaf_hash, **fields),
            along=[
                dbwrite.rows_statement(AuditNode, [{"level": lv, "index": ix, "hash": h} for lv, ix, h in completed]),
                (
                    'UPDATE "audit_auditloghead" SET "size" = %s, "frontier" = %s WHERE "id" = %s',
                    [index + 1, merkle.pack_frontier(frontier), HEAD_ID],
                ),
            ],
        )


def _lock_head() -> tuple[int, bytes]:
    """Size and frontier of the head row, locked until the transaction ends (created if absent)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "size", "frontier" FROM "audit_auditloghead" WHERE "id" = %s{dbwrite.for_update()}',  # noqa: S608 - a fixed clause
            [HEAD_ID],
        )
        row = cursor.fetchone()
    if row is None:  # the first event ever: create the row, then lock it like any other
        head, _ = AuditLogHead.objects.select_for_update().get_or_create(pk=HEAD_ID)
        return head.size, bytes(head.frontier)
    return int(row[0]), bytes(row[1])


def current_tree() -> tuple[int, bytes]:
    head = AuditLogHead.objects.filter(pk=HEAD_ID).first()
    if head is None:
        return 0, merkle.EMPTY_ROOT
    return head.size, merkle.frontier_root(merkle.unpack_frontier(bytes(head.frontier)))


class _StoredNodes:
    """A node source reading stored subtree hashes, in two passes: record what a proof needs,
    fetch it all in two queries (leaves, inner nodes), then answer from memory. Raw SQL: the
    ORM's construction of an OR of ~20 filters cost more than the query itself."""

    def __init__(self) -> None:
        self.wanted: set[tuple[int, int]] = set()
        self.known: dict[tuple[int, int], bytes] = {}

    def record(self, start: int, size: int) -> bytes:
        key = (size.bit_length() - 1, start >> (size.bit_length() - 1))
        self.wanted.add(key)
        return self.known.get(key, b"\x00" * 32)

    def fetch(self) -> None:
        leaves = sorted(index for level, index in self.wanted if level == 0)
        inner = sorted((level, index) for level, index in self.wanted if level > 0)
        with connection.cursor() as cursor:
            if leaves:
                marks = ",".join(["%s"] * len(leaves))
                cursor.execute(
                    # only placeholders are formatted in; the values are bound parameters
                    f"SELECT leaf_index, leaf_hash FROM audit_auditevent WHERE leaf_index IN ({marks})",  # noqa: S608
                    leaves,
                )
                for index, value in cursor.fetchall():
                    self.known[(0, index)] = bytes(value)
            if inner:
                marks = ",".join(["(%s, %s)"] * len(inner))
                cursor.execute(
                    f'SELECT level, "index", hash FROM audit_auditnode WHERE (level, "index") IN (VALUES {marks})',  # noqa: S608
                    [value for pair in inner for value in pair],
                )
                for level, index, value in cursor.fetchall():
                    self.known[(level, index)] = bytes(value)
        missing = self.wanted - set(self.known)
        if missing:
            raise LookupError(f"audit log nodes missing: {sorted(missing)[:5]}")

    def answer(self, start: int, size: int) -> bytes:
        level = size.bit_length() - 1
        return self.known[(level, start >> level)]


def _with_nodes(compute: Any) -> Any:
    nodes = _StoredNodes()
    compute(nodes.record)
    nodes.fetch()
    return compute(nodes.answer)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    _check_size(size)
    return _with_nodes(lambda source: merkle.inclusion_proof(source, index, size))


def consistency_proof(first: int, second: int) -> list[bytes]:
    _check_size(second)
    return _with_nodes(lambda source: merkle.consistency_proof(source, first, second))


def root_at(size: int) -> bytes:
    _check_size(size)
    return _with_nodes(lambda source: merkle.root(source, size))


def _check_size(size: int) -> None:
    current, _ = current_tree()
    if not 0 <= size <= current:
        raise ValueError(f"the log has {current} leaves, not {size}")


# --- checkpoints ---------------------------------------------------------------------------------


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """C2SP tlog-checkpoint body: origin, size and base64 root, one per line."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def make_checkpoint(*, at: dt.datetime, signer: Signer, min_interval: dt.timedelta | None = None) -> Checkpoint | None:
    """Sign the current tree head, unless the latest checkpoint already covers this size and is
    younger than ``min_interval``."""
    size, root = current_tree()
    latest = Checkpoint.objects.first()
    if (
        latest is not None
        and latest.tree_size == size
        and (min_interval is None or at - latest.issued_at < min_interval)
    ):
        return None
    origin = settings.GATEWAY_AUDIT_ORIGIN
    payload = {
        "type": "checkpoint",
        "origin": origin,
        "size": size,
        "root": base64.b64encode(root).decode("ascii"),
        "timestamp": format_time(at),
        "body": checkpoint_body(origin, size, root),
    }
    signed = jws.compact(
        signer,
        None,
        canonical_json(payload),
        extra={"typ": "checkpoint+jws"},
    )
    return Checkpoint.objects.create(
        tree_size=size, root_hash=root, issued_at=at, origin=origin, jws=signed.decode("ascii")
    )


def tree_head(checkpoint: Checkpoint) -> dict[str, Any]:
    """What the published index carries (its own signature covers it)."""
    return {
        "size": checkpoint.tree_size,
        "root": base64.b64encode(bytes(checkpoint.root_hash)).decode("ascii"),
        "issuedAt": format_time(checkpoint.issued_at),
        "origin": checkpoint.origin,
    }


def exported(checkpoint: Checkpoint) -> dict[str, Any]:
    """The form served to auditors and exported: the tree head with the checkpoint's own JWS."""
    return {**tree_head(checkpoint), "jws": checkpoint.jws}
