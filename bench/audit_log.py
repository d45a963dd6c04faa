"""The Merkle audit log at 1,000,000 events: append rate, proofs, full verification (docs/benchmarks-audit.md).

On a database created and migrated for this run (PostgreSQL ``gateway_bench_audit``, or a SQLite
file), with a temporary trust anchor and publisher key (installed as tests/publishing.py does):

1. Append rate through the real service ``gateway.audit.services.record_event``, each event its
   own transaction as in production: single-threaded, then ``--threads`` threads at once (each
   thread its own database connection, closed at thread end). Events/s, latency, CPU per event in
   this process and in the PostgreSQL backends, and the SQL of one append.
2. Seeding up to ``--size`` events (default 1,000,000). Rows are built with log.append's own
   algorithm (the fields normalised by the real ``record_event``, ``leaf.encode`` with the leaf
   index, ``merkle.leaf_hash``, ``merkle.extend_frontier`` for the AuditNode rows and the head's
   size and frontier) and inserted with COPY (bulk_create on SQLite), in transactions of
   ``--checkpoint-every`` events, each followed by ``log.make_checkpoint`` with the publisher key.
   Checked at ``--check-size`` events: the same events appended through ``record_event`` (in a
   transaction rolled back afterwards) and seeded give byte-identical rows, nodes and head;
   ``verify_log`` passes against every stored checkpoint; every AuditNode row equals a
   ``merkle.MemoryTree`` recomputation from the leaves; ``root_at`` = ``current_tree``.
3. Proofs at the full size: inclusion (random index, size = current) and consistency (random
   first, second = current) through ``gateway.audit.log`` and through the WSGI application
   (``/audit/proof/...``); every proof is verified with RFC 9162 §2.1.3.2/§2.1.4.2 (untimed).
4. Full verification at the full size, in a fresh process: ``stored_heads`` (checkpoint JWS
   signatures) and ``verify_log`` timed separately, peak RSS; then ``manage.py verify_audit_log``
   as a subprocess (wall time, peak RSS from wait4); then ``verify_log`` against
   ``--scenario-heads`` in-memory heads (one checkpoint a minute for a year), projected with the
   measured JWS cost per checkpoint.

    .venv/bin/python bench/audit_log.py                      # PostgreSQL, everything (6-9 min)
    .venv/bin/python bench/audit_log.py --db sqlite          # SQLite: append rate only
    .venv/bin/python bench/audit_log.py --size 100000 --profile
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import common
from common import banner, log_summary, summarize, table

from gateway.pki import leaf

POSTGRES_DB = "gateway_bench_audit"  # not common's gateway_bench: the other benchmarks may run meanwhile
PROOF_TARGET_MS = 5.0
VERIFY_TARGET_S = 60.0
COUNTRIES = ("XA", "XB", "XC")
MIB = 1 << 20


def main() -> None:
    arguments = argparse.ArgumentParser(description="Benchmark the Merkle audit log (append, proofs, verification).")
    arguments.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    arguments.add_argument("--events", type=int, default=5000, help="timed appends per concurrency level")
    arguments.add_argument("--threads", type=int, default=4, help="threads for the concurrent append run")
    arguments.add_argument("--size", type=int, default=1_000_000, help="events in the log for proofs/verification")
    arguments.add_argument("--check-size", type=int, default=20_000, help="size of the seeding equivalence check")
    arguments.add_argument("--checkpoint-every", type=int, default=1000, help="seeded events per signed checkpoint")
    arguments.add_argument("--proofs", type=int, default=200, help="timed proofs per kind and path")
    arguments.add_argument("--append-only", action="store_true", help="only the append rate (the default on SQLite)")
    arguments.add_argument("--full", action="store_true", help="on SQLite, also seed, prove and verify")
    arguments.add_argument(
        "--scenario-heads",
        type=int,
        default=525_600,
        help="also verify against this many in-memory heads (default: one a minute for a year; 0: skip)",
    )
    arguments.add_argument("--profile", action="store_true", help="cProfile appends, proofs and verification")
    arguments.add_argument("--keep", action="store_true", help="keep the database and temporary folders")
    arguments.add_argument("--child", help=argparse.SUPPRESS)
    args = arguments.parse_args()
    if args.child:
        _child(args.child)
        return
    _run(args)


def _run(args: argparse.Namespace) -> None:
    from tests.factory import Pki

    started = time.perf_counter()
    pki = Pki.create()
    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-audit-"))
    os.environ["GATEWAY_PUBLISH_DIR"] = str(folder / "publish")
    os.environ["GATEWAY_PUBLISHER_KEY_DIR"] = str(folder / "publisher")
    common.POSTGRES_BENCH_DB = POSTGRES_DB  # setup_django drops and creates this database
    env = common.setup_django(args.db, pki.ta.cert_pem)
    banner("Audit log benchmark", env)
    from django.utils import timezone

    from gateway.signing import keys
    from tests.publishing import install_publisher

    install_publisher(pki, at=timezone.now())  # records leaf 0 (PUBLISHER_KEY)
    bench = SimpleNamespace(args=args, env=env, signer=keys.current_signer(), folder=folder, verdicts=[])
    print(
        f"Trust anchor {env.trust_anchor_file}, publisher key in {folder / 'publisher'} (temporary); "
        f"the publisher key's installation is leaf 0."
    )
    try:
        _append_rates(bench)
        if (args.db == "postgres" or args.full) and not args.append_only:
            _seed_and_check(bench)
            _proofs(bench)
            _verification(bench)
        if bench.verdicts:
            print("\n### Targets\n")
            print("\n".join(f"- {line}" for line in bench.verdicts))
        print(f"\nTotal run time {time.perf_counter() - started:.0f} s.\n")
        print(log_summary())
    finally:
        common.cleanup(args, env, folder, database=POSTGRES_DB)


# --- synthetic events ---------------------------------------------------------------------------------------

_BASE_TIME = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _event(index: int) -> dict[str, Any]:
    """record_event's keyword arguments for the event that becomes leaf ``index``: a deterministic
    mix like the gateway's (uploads, refused requests, authentications, revocations, publications)."""
    country = COUNTRIES[index % 3]
    digest = hashlib.sha256(index.to_bytes(8, "big")).hexdigest()
    at = _BASE_TIME + dt.timedelta(microseconds=index * 25_013)  # ~40 events/s, microseconds vary
    kind = index % 10
    if kind < 5:
        return {
            "action": "UPLOAD",
            "outcome": "SUCCESS",
            "at": at,
            "country": country,
            "actor": f"{country} backend",
            "authentication_thumbprint": hashlib.sha256(country.encode()).hexdigest(),
            "uploader_thumbprint": hashlib.sha256(country.encode() + b"u").hexdigest(),
            "subject_thumbprint": digest,
            "details": {"kid": base64.b64encode(bytes.fromhex(digest[:16])).decode(), "group": "DSC"},
        }
    if kind < 8:
        return {
            "action": "REQUEST",
            "outcome": "REJECTED",
            "at": at,
            "reason": "CLIENT_CERTIFICATE_UNKNOWN",
            "details": {"detail": f"no onboarded AUTHENTICATION certificate {digest[:64]}", "path": "/trustList"},
        }
    if kind == 8:
        return {
            "action": "REVOKE",
            "outcome": "SUCCESS",
            "at": at,
            "country": country,
            "actor": f"{country} backend",
            "reason": "revoked by country",
            "authentication_thumbprint": hashlib.sha256(country.encode()).hexdigest(),
            "uploader_thumbprint": hashlib.sha256(country.encode() + b"u").hexdigest(),
            "subject_thumbprint": digest,
        }
    return {
        "action": "PUBLISH",
        "outcome": "SUCCESS",
        "at": at,
        "actor": "publisher",
        "details": {"sequence": index // 10, "trusted": 10_000 + index // 20, "revoked": index // 1000, "changes": 2},
    }


@contextlib.contextmanager
def _normalising_service() -> Iterator[Callable[..., dict[str, Any]]]:
    """The real record_event with log.append replaced by "return the fields": the exact fields
    (truncation, JSON round trip) that the service would append. Single-threaded use only."""
    from gateway.audit import services

    original = services.log
    services.log = SimpleNamespace(append=lambda fields: fields)  # type: ignore[assignment]
    try:
        yield services.record_event  # type: ignore[misc]
    finally:
        services.log = original


# --- 1. append rate ----------------------------------------------------------------------------------------


def _append_rates(bench: SimpleNamespace) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gateway.audit.services import record_event

    args = bench.args
    print("\n### 1. Appends through gateway.audit.services.record_event (each its own transaction)\n")
    with CaptureQueriesContext(connection) as queries:
        record_event(**_event(1))
    print(
        f"SQL of one append ({len(queries.captured_queries)} statements, autocommit: the atomic block is the "
        "transaction):\n\n```"
    )
    for query in queries.captured_queries:
        print(query["sql"][:160])
    print("```\n")
    for i in range(50):  # warm-up
        record_event(**_event(i))

    rows = []
    single = _append_run(args.events, 1)
    rows.append(single)
    threaded = _append_run(args.events, args.threads)
    rows.append(threaded)
    print(
        table(
            (
                "threads",
                "events",
                "events/s",
                "mean ms",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "CPU ms/event: gateway",
                "DB backends",
                "rest of machine",
            ),
            [
                (
                    r["threads"],
                    f"{r['events']:,}",
                    f"{r['rate']:,.0f}",
                    f"{r['stats'].mean_ms:.2f}",
                    f"{r['stats'].p50_ms:.2f}",
                    f"{r['stats'].p95_ms:.2f}",
                    f"{r['stats'].p99_ms:.2f}",
                    f"{r['stats'].max_ms:.1f}",
                    f"{r['cpu_self']:.2f}",
                    f"{r['cpu_db']:.2f}" if connection.vendor == "postgresql" else "(in process)",
                    f"{r['cpu_rest']:.2f}",
                )
                for r in rows
            ],
        )
    )
    print(
        f"\n{args.threads} threads give {threaded['rate'] / single['rate']:.2f}x the single-threaded rate "
        f"({os.cpu_count()} cores). Every append holds "
        + (
            "the head row's lock (SELECT ... FOR UPDATE) from its first statement to its COMMIT."
            if connection.vendor == "postgresql"
            else "SQLite's database write lock (BEGIN IMMEDIATE) from its first statement to its COMMIT."
        )
    )
    _statement_times(args.events // 10)
    if args.profile:
        with common.Profiler(True, "500 single-threaded appends through record_event", limit=25):
            for i in range(500):
                record_event(**_event(i))
    sys.stdout.flush()


def _statement_times(events: int) -> None:
    """Mean wall time per statement of an append, single thread: each execute timed by an
    execute_wrapper, the COMMIT by timing the connection's commit."""
    import collections

    from django.db import connection

    from gateway.audit.services import record_event

    totals: collections.Counter[str] = collections.Counter()
    counts: collections.Counter[str] = collections.Counter()

    def note(kind: str, began: float) -> None:
        totals[kind] += time.perf_counter() - began
        counts[kind] += 1

    def timed_execute(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = sql.split()
            kind = " ".join(words[:3]) if words[0] in ("INSERT", "UPDATE") else words[0]
            if "FOR UPDATE" in sql:
                kind = "SELECT ... FOR UPDATE (head; psycopg sends BEGIN first)"
            elif words[0] == "SELECT":
                kind = "SELECT (head)"
            note(kind, began)

    commit = connection._commit  # noqa: SLF001 - timed, then restored

    def timed_commit() -> None:
        began = time.perf_counter()
        try:
            commit()
        finally:
            note("COMMIT", began)

    connection._commit = timed_commit  # type: ignore[method-assign]  # noqa: SLF001
    try:
        began = time.perf_counter()
        with connection.execute_wrapper(timed_execute):
            for i in range(events):
                record_event(**_event(i))
        wall = time.perf_counter() - began
    finally:
        del connection._commit  # noqa: SLF001 - the class's method again
    in_sql = sum(totals.values())
    print(
        f"\nWall time per statement, {events:,} single-threaded appends ({wall * 1000 / events:.2f} ms each, of "
        f"which {in_sql * 1000 / events:.2f} ms inside the database driver's calls, the rest Django and "
        "encoding):\n"
    )
    print(
        table(
            ("statement", "per append", "mean ms"),
            [
                (kind, f"{counts[kind] / events:.2f}", f"{totals[kind] * 1000 / counts[kind]:.3f}")
                for kind in sorted(totals, key=lambda k: -totals[k])
            ],
        )
    )


def _append_run(events: int, threads: int) -> dict[str, Any]:
    from django.db import connection

    from gateway.audit.services import record_event

    per_thread = [events // threads + (1 if t < events % threads else 0) for t in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    pids: list[int | None] = [None] * threads
    cpu_db = [0.0] * threads
    failures: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)
    finished = [0.0] * threads

    def worker(t: int) -> None:
        try:
            connection.ensure_connection()
            pid = common.database_backend_pid()
            pids[t] = pid
            before = common.process_cpu_seconds(pid)
            samples = latencies[t]
            barrier.wait()
            for i in range(per_thread[t]):
                fields = _event(t * 1_000_000 + i)
                began = time.perf_counter()
                record_event(**fields)
                samples.append(time.perf_counter() - began)
            finished[t] = time.perf_counter()
            cpu_db[t] = common.process_cpu_seconds(pid) - before
        except BaseException as exc:
            failures.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.abort()
        finally:
            connection.close()

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in workers:
        thread.start()
    cpu_before, machine_before = time.process_time(), common.machine_cpu_seconds()
    barrier.wait()
    began = time.perf_counter()
    for thread in workers:
        thread.join()
    if failures:
        raise failures[0]
    wall = max(finished) - began
    cpu_self = time.process_time() - cpu_before
    machine_busy = common.machine_cpu_seconds()[0] - machine_before[0]
    cpu_database = sum(cpu_db)
    return {
        "threads": threads,
        "events": events,
        "rate": events / wall,
        "stats": summarize([value for samples in latencies for value in samples]),
        "cpu_self": cpu_self * 1000 / events,
        "cpu_db": cpu_database * 1000 / events,
        "cpu_rest": max(machine_busy - cpu_self - cpu_database, 0.0) * 1000 / events,
    }


# --- 2. seeding --------------------------------------------------------------------------------------------


class _Seeder:
    """Appends events with log.append's algorithm, many per transaction, rows inserted in bulk."""

    def __init__(self, bench: SimpleNamespace) -> None:
        from gateway.audit.log import HEAD_ID
        from gateway.audit.models import AuditLogHead
        from gateway.pki import merkle

        self.bench = bench
        head = AuditLogHead.objects.get(pk=HEAD_ID)
        self.size = head.size
        self.frontier = merkle.unpack_frontier(bytes(head.frontier))
        self.build_seconds = self.insert_seconds = self.checkpoint_seconds = 0.0
        self.checkpoints = 0

    def build(self, start: int, end: int) -> tuple[list[tuple[Any, ...]], list[tuple[int, int, bytes]]]:
        from gateway.pki import merkle

        events: list[tuple[Any, ...]] = []
        nodes: list[tuple[int, int, bytes]] = []
        frontier = self.frontier
        with _normalising_service() as normalise:
            for index in range(start, end):
                fields = normalise(**_event(index))
                leaf_bytes = leaf.encode({**fields, "leaf_index": index})  # as log.append
                leaf_hash = merkle.leaf_hash(leaf_bytes)
                frontier, completed = merkle.extend_frontier(frontier, index, leaf_hash)
                events.append((index, leaf_bytes, leaf_hash, fields))
                nodes.extend(completed)
        self.pending_frontier = frontier
        return events, nodes

    def commit(self, start: int, end: int, events: list[tuple[Any, ...]], nodes: list[tuple[int, int, bytes]]) -> None:
        from django.db import transaction

        from gateway.audit.log import HEAD_ID
        from gateway.audit.models import AuditLogHead
        from gateway.pki import merkle

        with transaction.atomic():
            head = AuditLogHead.objects.select_for_update().get(pk=HEAD_ID)
            if head.size != start:
                raise RuntimeError(f"the log grew meanwhile: {head.size} != {start}")
            _insert(events, nodes)
            head.size, head.frontier = end, merkle.pack_frontier(self.pending_frontier)
            head.save(update_fields=["size", "frontier"])
        self.size, self.frontier = end, self.pending_frontier

    def seed_to(self, target: int) -> None:
        from gateway.audit import log

        every = self.bench.args.checkpoint_every
        while self.size < target:
            start = self.size
            end = min(target, (start // every + 1) * every)
            began = time.perf_counter()
            events, nodes = self.build(start, end)
            built = time.perf_counter()
            self.commit(start, end, events, nodes)
            inserted = time.perf_counter()
            if end % every == 0 or end == target:
                log.make_checkpoint(at=_event(end - 1)["at"], signer=self.bench.signer)
                self.checkpoints += 1
            self.build_seconds += built - began
            self.insert_seconds += inserted - built
            self.checkpoint_seconds += time.perf_counter() - inserted


# AuditEvent's columns: the leaf (its index, bytes and hash), then the fields it encodes, in the
# leaf's order (gateway.pki.leaf.FIELDS, the one list of them).
_LEAF_FIELDS = leaf.FIELDS[1:]  # after leaf_index
_EVENT_COLUMNS = ("leaf_index", "leaf_bytes", "leaf_hash", *_LEAF_FIELDS)


def _insert(events: list[tuple[Any, ...]], nodes: list[tuple[int, int, bytes]]) -> None:
    from django.db import connection

    from gateway.audit.models import AuditEvent, AuditNode

    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor
            with raw.copy(f"COPY audit_auditevent ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
                for index, leaf_bytes, leaf_hash, f in events:
                    values = [Jsonb(f[name]) if name == "details" else f[name] for name in _LEAF_FIELDS]
                    copy.write_row((index, leaf_bytes, leaf_hash, *values))
            if nodes:
                with raw.copy('COPY audit_auditnode (level, "index", hash) FROM STDIN') as copy:
                    for node in nodes:
                        copy.write_row(node)
        return
    AuditEvent.objects.bulk_create(
        (AuditEvent(leaf_index=index, leaf_bytes=data, leaf_hash=digest, **f) for index, data, digest, f in events),
        batch_size=500,
    )
    AuditNode.objects.bulk_create((AuditNode(level=lv, index=ix, hash=h) for lv, ix, h in nodes), batch_size=500)


def _seed_and_check(bench: SimpleNamespace) -> None:
    from django.db import connection

    from gateway.audit import log

    args = bench.args
    seeder = _Seeder(bench)
    print(f"\n### 2. Seeding to {args.size:,} events\n")
    print(
        f"The log holds {seeder.size:,} events appended through record_event. Seeded events continue it: "
        f"COPY{' (bulk_create on SQLite)' if connection.vendor != 'postgresql' else ''} in transactions of up to "
        f"{args.checkpoint_every:,} events, each followed by log.make_checkpoint (the publisher key signs).\n"
    )
    log.make_checkpoint(at=_event(seeder.size)["at"], signer=bench.signer)
    check_size = min(args.check_size, args.size)
    began = time.perf_counter()
    seeder.seed_to(check_size - 500)
    _equivalence_check(bench, seeder)
    seeder.seed_to(check_size)
    _check_seeded_log(bench)
    if args.profile:
        _profile_small_verification()
    seeder.seed_to(args.size)
    seeded = time.perf_counter() - began
    analyze = 0.0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            analyze_began = time.perf_counter()
            cursor.execute("ANALYZE audit_auditevent, audit_auditnode, audit_checkpoint, audit_auditloghead")
            analyze = time.perf_counter() - analyze_began
    size, _ = log.current_tree()
    from gateway.audit.models import AuditNode, Checkpoint

    print(
        f"\nSeeded to {size:,} events in {seeded:.0f} s: building rows (record_event normalisation, leaf.encode, "
        f"leaf_hash, extend_frontier) {seeder.build_seconds:.0f} s "
        f"({seeder.build_seconds * 1e6 / max(size, 1):.1f} µs/event), inserting "
        f"{seeder.insert_seconds:.0f} s, {seeder.checkpoints:,} checkpoints signed in "
        f"{seeder.checkpoint_seconds:.1f} s. ANALYZE afterwards {analyze:.1f} s (autovacuum would do it soon "
        f"after such a load). Rows: {AuditNode.objects.count():,} AuditNode, {Checkpoint.objects.count():,} "
        "Checkpoint."
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c "
                "WHERE relname IN ('audit_auditevent', 'audit_auditnode', 'audit_checkpoint') ORDER BY relname"
            )
            print("Table sizes with indexes: " + ", ".join(f"{name} {pretty}" for name, pretty in cursor.fetchall()))
    sys.stdout.flush()


def _equivalence_check(bench: SimpleNamespace, seeder: _Seeder) -> None:
    """The next 500 events appended through record_event (rolled back) and seeded: same rows."""
    from django.db import transaction

    from gateway.audit.log import HEAD_ID
    from gateway.audit.models import AuditEvent, AuditLogHead, AuditNode
    from gateway.audit.services import record_event

    start, end = seeder.size, seeder.size + 500

    def snapshot() -> tuple[list[Any], list[Any], tuple[int, bytes]]:
        events = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in AuditEvent.objects.filter(leaf_index__gte=start)
            .order_by("leaf_index")
            .values_list(*_EVENT_COLUMNS)
        ]
        nodes = [  # the subtrees these appends completed: their last leaf is at or after start
            (level, index, bytes(value))
            for level, index, value in AuditNode.objects.order_by("level", "index").values_list(
                "level", "index", "hash"
            )
            if ((index + 1) << level) - 1 >= start
        ]
        head = AuditLogHead.objects.get(pk=HEAD_ID)
        return events, nodes, (head.size, bytes(head.frontier))

    class _Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            for index in range(start, end):
                record_event(**_event(index))
            through_service = snapshot()
            raise _Rollback
    except _Rollback:
        pass
    events, nodes = seeder.build(start, end)
    seeder.commit(start, end, events, nodes)
    seeded = snapshot()
    same = [a == b for a, b in zip(through_service, seeded, strict=True)]
    print(
        f"Equivalence: events {start:,}..{end - 1:,} appended through record_event (then rolled back) and the same "
        f"events seeded give identical event rows (all columns but the id): {same[0]} "
        f"({len(seeded[0])} rows), identical AuditNode rows: {same[1]} ({len(seeded[1])} rows), identical head "
        f"size and frontier: {same[2]}."
    )
    if not all(same):
        raise SystemExit("the seeded rows differ from what record_event appends")


def _check_seeded_log(bench: SimpleNamespace) -> None:
    from django.conf import settings

    from gateway.audit import log
    from gateway.audit.models import AuditEvent, AuditNode
    from gateway.audit.verification import LogReport, stored_heads, verify_log
    from gateway.pki import merkle
    from verifier.certificates import load_anchor

    anchors = [load_anchor(Path(p).read_bytes()) for p in settings.GATEWAY_TRUST_ANCHOR_FILES]
    report = LogReport()
    began = time.perf_counter()
    verify_log(stored_heads(anchors, dt.datetime.now(dt.UTC), report), report)
    took = time.perf_counter() - began
    size, root = log.current_tree()
    tree = merkle.MemoryTree()
    for value in AuditEvent.objects.order_by("leaf_index").values_list("leaf_hash", flat=True).iterator(5000):
        tree.append_hash(bytes(value))
    mismatched = 0
    stored = 0
    for level, index, value in AuditNode.objects.values_list("level", "index", "hash").iterator(5000):
        stored += 1
        if tree.levels[level][index] != bytes(value):
            mismatched += 1
    expected_nodes = sum(len(level) for level in tree.levels[1:])
    ok = (
        report.ok
        and report.size == size
        and tree.root() == root
        and log.root_at(size) == root
        and mismatched == 0
        and stored == expected_nodes
    )
    print(
        f"Check at {size:,} events: verify_log against {report.checked_heads} stored checkpoints: "
        f"{'ok' if report.ok else report.problems[:3]} in {took:.2f} s, size {report.size:,}; "
        f"current_tree root {root.hex()[:16]}... = MemoryTree root from the stored leaf hashes: "
        f"{tree.root() == root}, = root_at (stored nodes): {log.root_at(size) == root}; AuditNode rows {stored:,} "
        f"(expected {expected_nodes:,}), {mismatched} differ from the recomputation."
    )
    if not ok:
        raise SystemExit("the seeded log does not verify")


def _profile_small_verification() -> None:
    from django.conf import settings

    from gateway.audit.verification import LogReport, stored_heads, verify_log
    from verifier.certificates import load_anchor

    anchors = [load_anchor(Path(p).read_bytes()) for p in settings.GATEWAY_TRUST_ANCHOR_FILES]
    with common.Profiler(True, "stored_heads + verify_log on the check-size log", limit=25):
        report = LogReport()
        verify_log(stored_heads(anchors, dt.datetime.now(dt.UTC), report), report)


# --- 3. proofs ---------------------------------------------------------------------------------------------


def _proofs(bench: SimpleNamespace) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gateway.audit import log
    from gateway.audit.models import AuditEvent
    from gateway.pki import merkle

    args = bench.args
    size, root = log.current_tree()
    rng = random.Random(20260601)
    app = common.wsgi_application()
    print(f"\n### 3. Proofs at {size:,} events ({args.proofs} per row, random indexes, after 10 warm-ups)\n")

    def leaf_hashes(indexes: list[int]) -> dict[int, bytes]:
        rows = AuditEvent.objects.filter(leaf_index__in=indexes).values_list("leaf_index", "leaf_hash")
        return {index: bytes(value) for index, value in rows}

    def get(path: str, query: str) -> dict[str, Any]:
        response = common.call(app, "GET", path, query=query)
        if response.status != 200:
            raise RuntimeError(f"{path}?{query}: {response.status} {response.body[:200]!r}")
        return json.loads(response.body)

    b64 = base64.b64decode
    results: list[tuple[str, Any, int, int]] = []
    failures = 0

    # inclusion through gateway.audit.log
    indexes = [rng.randrange(size) for _ in range(args.proofs + 10)]
    proofs, times = [], []
    for index in indexes:
        began = time.perf_counter()
        proofs.append(log.inclusion_proof(index, size))
        times.append(time.perf_counter() - began)
    hashes = leaf_hashes(indexes)
    failures += sum(
        not merkle.verify_inclusion(hashes[i], i, size, p, root) for i, p in zip(indexes, proofs, strict=True)
    )
    with CaptureQueriesContext(connection) as queries:
        log.inclusion_proof(indexes[0], size)
    results.append(("log.inclusion_proof(index, size)", summarize(times[10:]), len(queries), len(proofs[0])))

    # consistency through gateway.audit.log
    firsts = [rng.randrange(1, size) for _ in range(args.proofs + 10)]
    proofs, times = [], []
    for first in firsts:
        began = time.perf_counter()
        proofs.append(log.consistency_proof(first, size))
        times.append(time.perf_counter() - began)
    failures += sum(
        not merkle.verify_consistency(first, size, p, log.root_at(first), root)
        for first, p in zip(firsts, proofs, strict=True)
    )
    with CaptureQueriesContext(connection) as queries:
        log.consistency_proof(firsts[0], size)
    results.append(("log.consistency_proof(first, size)", summarize(times[10:]), len(queries), len(proofs[0])))

    # the same through the WSGI application
    indexes = [rng.randrange(size) for _ in range(args.proofs + 10)]
    bodies, times = [], []
    for index in indexes:
        began = time.perf_counter()
        bodies.append(get("/audit/proof/inclusion", f"index={index}&size={size}"))
        times.append(time.perf_counter() - began)
    hashes = leaf_hashes(indexes)
    for index, body in zip(indexes, bodies, strict=True):
        proof = [b64(p) for p in body["proof"]]
        failures += not (
            b64(body["leafHash"]) == hashes[index]
            and b64(body["root"]) == root
            and merkle.verify_inclusion(hashes[index], index, size, proof, root)
        )
    with CaptureQueriesContext(connection) as queries:
        get("/audit/proof/inclusion", f"index={indexes[0]}&size={size}")
    results.append(("GET /audit/proof/inclusion", summarize(times[10:]), len(queries), len(bodies[0]["proof"])))

    firsts = [rng.randrange(1, size) for _ in range(args.proofs + 10)]
    bodies, times = [], []
    for first in firsts:
        began = time.perf_counter()
        bodies.append(get("/audit/proof/consistency", f"first={first}&second={size}"))
        times.append(time.perf_counter() - began)
    for first, body in zip(firsts, bodies, strict=True):
        proof = [b64(p) for p in body["proof"]]
        failures += not (
            b64(body["secondRoot"]) == root
            and b64(body["firstRoot"]) == log.root_at(first)
            and merkle.verify_consistency(first, size, proof, b64(body["firstRoot"]), root)
        )
    with CaptureQueriesContext(connection) as queries:
        get("/audit/proof/consistency", f"first={firsts[0]}&second={size}")
    results.append(("GET /audit/proof/consistency", summarize(times[10:]), len(queries), len(bodies[0]["proof"])))

    print(
        table(
            ("proof", "n", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "SQL queries", "hashes"),
            [
                (
                    name,
                    s.count,
                    f"{s.mean_ms:.2f}",
                    f"{s.p50_ms:.2f}",
                    f"{s.p95_ms:.2f}",
                    f"{s.p99_ms:.2f}",
                    f"{s.max_ms:.2f}",
                    n_queries,
                    n_hashes,
                )
                for name, s, n_queries, n_hashes in results
            ],
        )
    )
    print(
        f"\nEvery proof ({4 * (args.proofs + 10)}) verified with merkle.verify_inclusion / verify_consistency "
        f"against current_tree's root (untimed): {failures} failed."
    )
    if failures:
        raise SystemExit("proofs do not verify")
    for name, s, _, _ in results:
        verdict = (
            "met" if s.p95_ms < PROOF_TARGET_MS else ("met at p50 only" if s.p50_ms < PROOF_TARGET_MS else "NOT met")
        )
        bench.verdicts.append(
            f"Proof < {PROOF_TARGET_MS:.0f} ms at {size:,} events, {name}: {verdict} "
            f"(p50 {s.p50_ms:.2f} ms, p95 {s.p95_ms:.2f} ms)"
        )
    if connection.vendor == "postgresql":
        _explain_node_query(indexes[0], size)
        _proof_breakdown(size, rng)
    if args.profile:
        with common.Profiler(True, f"{args.proofs} GET /audit/proof/consistency", limit=25):
            for first in firsts[: args.proofs]:
                get("/audit/proof/consistency", f"first={first}&second={size}")
    sys.stdout.flush()


def _proof_breakdown(size: int, rng: random.Random) -> None:
    """Where an inclusion proof's time goes: each step of log.inclusion_proof timed on its own
    (median of 200, random indexes), and one raw query fetching the same nodes for comparison."""
    import statistics

    from django.db import connection

    from gateway.audit import log
    from gateway.audit.models import AuditEvent, AuditNode
    from gateway.pki import merkle

    def wanted(index: int) -> set[tuple[int, int]]:
        nodes = log._StoredNodes()  # noqa: SLF001 - the proof path's own node recorder
        merkle.inclusion_proof(nodes.record, index, size)
        return nodes.wanted

    def orm_querysets(index: int) -> tuple[Any, Any]:  # as _StoredNodes.fetch builds them
        keys = wanted(index)
        leaves = AuditEvent.objects.filter(leaf_index__in=[i for lv, i in keys if lv == 0])
        query = AuditNode.objects.none()
        inner = [(lv, i) for lv, i in keys if lv > 0]
        for level in {lv for lv, _ in inner}:
            query = query | AuditNode.objects.filter(level=level, index__in=[i for lv, i in inner if lv == level])
        return leaves.values_list("leaf_index", "leaf_hash"), query.values_list("level", "index", "hash")

    def compiled(index: int) -> list[tuple[str, Any]]:
        return [qs.query.sql_with_params() for qs in orm_querysets(index)]

    samples = [rng.randrange(size) for _ in range(200)]
    prepared = [compiled(index) for index in samples]

    def execute_compiled(statements: list[tuple[str, Any]]) -> None:
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()

    def one_raw_query(index: int) -> None:
        keys = sorted(wanted(index))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n.level, n.index, n.hash FROM audit_auditnode n "
                "JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, index) USING (level, index) "
                "UNION ALL SELECT 0, e.leaf_index, e.leaf_hash FROM audit_auditevent e "
                "WHERE e.leaf_index = ANY(%s::bigint[])",
                [[lv for lv, _ in keys], [i for _, i in keys], [i for lv, i in keys if lv == 0]],
            )
            cursor.fetchall()

    steps: list[tuple[str, Callable[[int, int], Any]]] = [
        ("log.inclusion_proof(index, size), whole", lambda n, index: log.inclusion_proof(index, size)),
        ("  current_tree() (_check_size: 1 query)", lambda n, index: log.current_tree()),
        ("  first pass: merkle.inclusion_proof recording node keys", lambda n, index: wanted(index)),
        ("  ORM: build the 2 querysets and compile their SQL (no I/O)", lambda n, index: compiled(index)),
        ("  execute that SQL (2 queries) and fetch", lambda n, index: execute_compiled(prepared[n])),
        (
            "alternative: one raw query (unnest join + leaves), with the first pass",
            lambda n, index: one_raw_query(index),
        ),
    ]
    rows = []
    for name, step in steps:
        times = []
        for n, index in enumerate(samples):
            began = time.perf_counter()
            step(n, index)
            times.append(time.perf_counter() - began)
        rows.append((name, f"{statistics.median(times) * 1000:.3f}"))
    print(f"\nWhere an inclusion proof's time goes at {size:,} events (median of {len(samples)}, each step alone):\n")
    print(table(("step", "median ms"), rows))


def _explain_node_query(index: int, size: int) -> None:
    """The plan of the AuditNode query an inclusion proof makes (as _StoredNodes.fetch builds it)."""
    from django.db import connection

    from gateway.audit import log
    from gateway.audit.models import AuditNode
    from gateway.pki import merkle

    nodes = log._StoredNodes()  # noqa: SLF001 - to show the query the proof path builds
    merkle.inclusion_proof(nodes.record, index, size)
    inner = [(level, i) for level, i in nodes.wanted if level > 0]
    query = AuditNode.objects.none()
    for level in {level for level, _ in inner}:
        query = query | AuditNode.objects.filter(level=level, index__in=[i for lv, i in inner if lv == level])
    sql, params = query.values_list("level", "index", "hash").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    print(f"\nPlan of one proof's AuditNode query ({len(inner)} nodes):\n\n```")
    print("\n".join(line for line in plan if "Index Cond" not in line and "Recheck" not in line)[:1600])
    print("```")


# --- 4. full verification ----------------------------------------------------------------------------------


def _verification(bench: SimpleNamespace) -> None:
    from gateway.audit import log
    from gateway.audit.models import Checkpoint

    size, _ = log.current_tree()
    checkpoints = Checkpoint.objects.count()
    print(f"\n### 4. Full verification at {size:,} events, {checkpoints:,} stored checkpoints\n")
    sys.stdout.flush()
    from django.db import connections

    connections.close_all()
    result = _spawn_child("verify")
    command = _run_command()
    total = result["heads_s"] + result["verify_s"]
    print(
        table(
            ("run (fresh process)", "wall s", "of which checkpoints' JWS", "peak RSS MiB", "RSS growth MiB", "result"),
            [
                (
                    "stored_heads + verify_log",
                    f"{total:.1f}",
                    f"{result['heads_s']:.2f} s ({result['heads_s'] * 1e3 / max(checkpoints, 1):.2f} ms each)",
                    f"{result['peak'] / MIB:.0f}",
                    f"{(result['peak'] - result['baseline']) / MIB:.0f}",
                    f"ok={result['ok']}, {result['size']:,} leaves, {result['checked_heads']:,} heads",
                ),
                (
                    "manage.py verify_audit_log",
                    f"{command['wall']:.1f}",
                    "(included)",
                    f"{command['peak'] / MIB:.0f}",
                    "",
                    command["output"],
                ),
            ],
        )
    )
    print(
        f"\nverify_log alone: {result['verify_s']:.1f} s = {result['verify_s'] * 1e6 / max(size, 1):.1f} µs per leaf; "
        f"CPU {result['cpu_s']:.1f} s in the verifying process, {result['db_cpu_s']:.1f} s in its PostgreSQL backend. "
        "The command's wall time includes Python start-up and django.setup(); its peak RSS is ru_maxrss from wait4."
    )
    bench.verdicts.append(
        f"Full verification < {VERIFY_TARGET_S:.0f} s at {size:,} events, {checkpoints:,} checkpoints: "
        f"{'met' if total < VERIFY_TARGET_S and result['ok'] else 'NOT met'} (stored_heads + verify_log {total:.1f} s, "
        f"manage.py verify_audit_log {command['wall']:.1f} s; peak RSS {result['peak'] / MIB:.0f} MiB)"
    )
    heads = bench.args.scenario_heads
    if heads:
        many = _spawn_child(f"many-heads:{heads}")
        per_head = (many["verify_s"] - many["without_s"]) / max(many["heads"], 1)
        per_jws = result["heads_s"] / max(checkpoints, 1)
        projected = many["verify_s"] + heads * per_jws
        print(
            f"\nScenario: {heads:,} checkpoints (one a minute for {heads / 525_600:.2g} year(s)) over the same "
            f"{size:,} events. In another fresh process, verify_log with {many['heads']:,} heads (their roots "
            f"computed in memory from the stored leaf hashes; no signatures) took {many['verify_s']:.1f} s, and "
            f"{many['without_s']:.1f} s with no head just before: {per_head * 1e6:.0f} µs per head. The heads' list "
            f"used {many['heads_bytes'] / MIB:.0f} MiB (peak RSS {many['peak'] / MIB:.0f} MiB, tracemalloc on while "
            f"it was built). Their JWS checks at {per_jws * 1e3:.2f} ms each would add {heads * per_jws:.0f} s in "
            f"stored_heads: projected full verification {projected:.0f} s."
        )
        bench.verdicts.append(
            f"Scenario, {heads:,} checkpoints over {size:,} events (projected): "
            f"{'met' if projected < VERIFY_TARGET_S else 'NOT met'} ({projected:.0f} s)"
        )
    if bench.args.profile:
        print(f"\ncProfile of the full verification at {size:,} (in another fresh process):")
        sys.stdout.flush()
        _spawn_child("profile-verify")
    sys.stdout.flush()


def _spawn_child(mode: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", mode],
        env=os.environ,  # DATABASE_URL, GATEWAY_* as setup_django set them
        capture_output=True,
        text=True,
        check=False,
    )
    result: dict[str, Any] = {}
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
        else:
            print(line)
    if completed.returncode != 0:
        print(completed.stderr[-3000:])
        raise SystemExit(f"child {mode} failed")
    return result


def _run_command() -> dict[str, Any]:
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(common.ROOT / "manage.py"), "verify_audit_log"],
            env=os.environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace").strip()
    return {
        "wall": wall,
        "peak": usage.ru_maxrss * 1024,
        "output": f"exit {process.returncode}: {text.splitlines()[-1] if text else ''}",
    }


def _proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _child(mode: str) -> None:
    """Verify the whole log in a fresh process (Django configured from the parent's environment)."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from gateway.audit.verification import LogReport, stored_heads, verify_log
    from verifier.certificates import load_anchor

    connection.ensure_connection()
    anchors = [load_anchor(Path(p).read_bytes()) for p in settings.GATEWAY_TRUST_ANCHOR_FILES]
    now = dt.datetime.now(dt.UTC)
    if mode.startswith("many-heads:"):
        print("RESULT " + json.dumps(_many_heads(int(mode.split(":")[1]))))
        return
    if mode == "profile-verify":
        with common.Profiler(True, "stored_heads alone (every stored checkpoint's JWS)", limit=15):
            stored_heads(anchors, now, LogReport())
        with common.Profiler(True, "stored_heads + verify_log, full log", limit=30):
            report = LogReport()
            verify_log(stored_heads(anchors, now, report), report)
        print("RESULT {}")
        return
    pid = common.database_backend_pid()
    db_before = common.process_cpu_seconds(pid)
    baseline = _proc_status("VmRSS")
    cpu_before = time.process_time()
    began = time.perf_counter()
    report = LogReport()
    heads = stored_heads(anchors, now, report)
    heads_done = time.perf_counter()
    verify_log(heads, report)
    ended = time.perf_counter()
    result = {
        "heads_s": heads_done - began,
        "verify_s": ended - heads_done,
        "cpu_s": time.process_time() - cpu_before,
        "db_cpu_s": common.process_cpu_seconds(pid) - db_before,
        "baseline": baseline,
        "peak": max(_proc_status("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        "ok": report.ok,
        "size": report.size,
        "checked_heads": report.checked_heads,
        "problems": report.problems[:3],
    }
    print("RESULT " + json.dumps(result))


def _many_heads(count: int) -> dict[str, Any]:
    """verify_log against ``count`` heads spread evenly over the log, their roots computed here."""
    import tracemalloc

    from gateway.audit import log
    from gateway.audit.models import AuditEvent
    from gateway.audit.verification import SignedHead, verify_log
    from gateway.pki import merkle

    size, _ = log.current_tree()
    targets = sorted({max(1, round((k + 1) * size / count)) for k in range(count)})
    tracemalloc.start()
    heads: list[SignedHead] = []
    frontier: list[bytes] = []
    position = 0
    for index, value in (
        AuditEvent.objects.order_by("leaf_index").values_list("leaf_index", "leaf_hash").iterator(chunk_size=5000)
    ):
        frontier, _ = merkle.extend_frontier(frontier, index, bytes(value))
        while position < len(targets) and targets[position] == index + 1:
            heads.append(SignedHead(index + 1, merkle.frontier_root(frontier), f"checkpoint {position} (minute)"))
            position += 1
    heads_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    began = time.perf_counter()
    bare = verify_log([])
    without = time.perf_counter() - began
    began = time.perf_counter()
    report = verify_log(heads)
    took = time.perf_counter() - began
    if not (report.ok and bare.ok):
        raise SystemExit(f"many-heads verification failed: {report.problems[:3]}")
    return {
        "heads": report.checked_heads,
        "verify_s": took,
        "without_s": without,
        "heads_bytes": heads_bytes,
        "peak": max(_proc_status("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
    }


if __name__ == "__main__":
    main()
