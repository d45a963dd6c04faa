"""Uploads per second through the WSGI application, with every check the gateway makes.

Three virtual countries (XA, XB, XC) are onboarded with real trust-anchor signatures. N DSCs and
their attached CMS (signed with the country's UPLOAD key, base64 as DGCG clients send it) are made
before the clock starts; the timed loop only calls ``POST /signerCertificate`` through
``gateway.wsgi.application`` and requires 201 for each. Warm-up uploads (not counted) load code
paths, open the database connection and fill the trust-anchor verification memo first.

``--processes 1,2`` measures each concurrency level in turn with N fresh DSCs: level 1 is one
process uploading back to back (one gunicorn worker, one core); level P forks P worker processes
(as gunicorn's pre-fork workers do) that share the N uploads and start together; uploads/s is then
N over the time from the first start to the last finish.

    .venv/bin/python bench/upload.py --db both            # N=2000, levels 1 and 2, SQLite then PostgreSQL
    .venv/bin/python bench/upload.py --db postgres -n 500 --processes 1 --profile --show-queries
    .venv/bin/python bench/upload.py --db postgres -n 1000 --breakdown   # time per phase of an upload
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from breakdown import Breakdown
from common import (
    Profiler,
    Summary,
    banner,
    call,
    database_backend_pid,
    log_summary,
    machine_cpu_seconds,
    parser,
    process_cpu_seconds,
    run_per_database,
    setup_django,
    summarize,
    table,
    wsgi_application,
)

COUNTRIES = ("XA", "XB", "XC")
TARGET_UPLOADS_PER_SECOND = 200  # on PostgreSQL, on the 2-core benchmark machine

Prepared = tuple[dict[str, str], bytes]


@dataclass
class Run:
    """One worker's timed loop: its clock, latencies and CPU (its own and its database backend's)."""

    start: float
    end: float
    latencies: list[float]
    cpu: float
    backend_cpu: float


def main() -> None:
    arguments = parser("Benchmark DSC uploads (POST /signerCertificate) through the WSGI app.")
    arguments.add_argument("-n", type=int, default=2000, help="timed uploads per concurrency level (default 2000)")
    arguments.add_argument("--warmup", type=int, default=20, help="uploads before the clock starts (default 20)")
    arguments.add_argument(
        "--processes", default="1,2", help="comma-separated concurrency levels (worker processes), default 1,2"
    )
    arguments.add_argument("--show-queries", action="store_true", help="list the SQL of one upload")
    arguments.add_argument(
        "--breakdown", action="store_true", help="time the phases of an upload (one process only; slightly slower)"
    )
    args = arguments.parse_args()
    if run_per_database(args, __file__):
        return
    levels = [int(level) for level in args.processes.split(",") if level.strip()]
    if args.breakdown:
        levels = [1]

    from tests.factory import Pki  # the in-process PKI factory of the test suite

    pki = Pki.create()
    env = setup_django(args.db, pki.ta.cert_pem)
    banner("Upload benchmark", env)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from trustlist.models import SignerCertificate

    countries = [pki.country(code) for code in COUNTRIES]
    now = timezone.now()
    counter = iter(range(10**9))

    def prepare(count: int) -> list[Prepared]:
        result = []
        for _ in range(count):
            country = countries[next(counter) % len(countries)]
            dsc = country.dsc(at=now)
            result.append((country.headers(), country.cms_b64(dsc.der)))
        return result

    generation_start = time.perf_counter()
    warmup = prepare(args.warmup)
    batches = {level: (prepare(level if level > 1 else 0), prepare(args.n)) for level in levels}
    generation = time.perf_counter() - generation_start
    expected = args.warmup + sum(len(w) + len(b) for w, b in batches.values())
    print(
        f"Prepared {expected} DSCs + attached CMS for {len(countries)} countries in {generation:.1f} s "
        f"(outside the timed loops): {args.warmup} warm-up, then per level {args.n} timed "
        "(+1 warm-up per worker process)."
    )

    app = wsgi_application()
    upload = _uploader(app)

    for item in warmup[:-1]:
        upload(*item)
    queries: list[dict[str, str]] = []
    if warmup:
        with CaptureQueriesContext(connection) as captured:
            upload(*warmup[-1])
        queries = captured.captured_queries

    rows = []
    cpu_rows = []
    cpu_runs: list[Run] = []
    breakdown = Breakdown()
    for level in levels:
        worker_warmup, batch = batches[level]
        machine_before = machine_cpu_seconds()
        with (
            Profiler(args.profile, f"{args.n} uploads on {args.db}, {level} process(es)"),
            breakdown.instrument() if args.breakdown else contextlib.nullcontext(),
        ):
            runs = [_sequential(upload, batch)] if level == 1 else _forked(upload, worker_warmup, batch)
        machine_busy = machine_cpu_seconds()[0] - machine_before[0]
        wall = max(run.end for run in runs) - min(run.start for run in runs)
        latencies = [latency for run in runs for latency in run.latencies]
        rows.append(_row(args.db, level, args.n, wall, summarize(latencies)))
        cpu_runs.append(runs[0])
        cpu_rows.append(_cpu_row(level, args.n, wall, runs, machine_busy))

    stored = SignerCertificate.objects.count()
    if stored != expected:
        raise SystemExit(f"expected {expected} stored DSCs, found {stored}")

    print()
    print(
        table(
            [
                "database",
                "processes",
                "uploads",
                "wall s",
                "uploads/s",
                "mean ms",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
            ],
            [row[1] for row in rows],
        )
    )
    print()
    print("CPU per upload (gateway = the WSGI process(es); database = their PostgreSQL backends):")
    print()
    print(
        table(
            [
                "processes",
                "gateway CPU ms",
                "database CPU ms",
                "machine busy (all cores)",
                "rest of machine CPU ms",
            ],
            cpu_rows,
        )
    )
    if 1 in levels:
        sequential = cpu_runs[levels.index(1)]
        tenth = max(len(sequential.latencies) // 10, 1)
        early, late = summarize(sequential.latencies[:tenth]), summarize(sequential.latencies[-tenth:])
        print()
        print(
            f"Drift, 1 process: p50 {early.p50_ms:.2f} ms over the first {tenth} timed uploads, "
            f"{late.p50_ms:.2f} ms over the last {tenth}."
        )
    if args.breakdown:
        print()
        print(
            "Where an upload's time goes (wall clock and this process's CPU per upload, "
            f"{args.n} uploads, instrumented run):"
        )
        print()
        request_seconds = sum(runs[0].latencies)
        print(
            table(
                ["phase", "calls", "wall ms", "share", "CPU ms"],
                breakdown.rows(args.n, request_seconds, runs[0].cpu),
            )
        )
        if breakdown.missing:
            print(f"Not in the current code (not timed): {', '.join(breakdown.missing)}")
    print()
    print(f"Every timed upload answered 201; {stored} DSC rows stored (warm-ups included).")
    if queries:
        print(f"SQL statements per upload (one warm-up upload, captured): {len(queries)}")
        if args.show_queries:
            print("```")
            for query in queries:
                print(f"  {query['time']}s  {query['sql'][:150]}")
            print("```")
    scope = "" if args.db == "postgres" else " (the target is for PostgreSQL; shown for comparison)"
    for rate, row in rows:
        verdict = "met" if rate >= TARGET_UPLOADS_PER_SECOND else "NOT met"
        print(f"Target >= {TARGET_UPLOADS_PER_SECOND} uploads/s with {row[1]} process(es): {verdict}{scope}")
    print(log_summary())
    sys.stdout.flush()
    connection.close()


def _uploader(app: Callable[..., Any]) -> Callable[[dict[str, str], bytes], None]:
    def upload(headers: dict[str, str], body: bytes) -> None:
        response = call(app, "POST", "/signerCertificate", headers=headers, body=body, content_type="application/cms")
        if response.status != 201:
            raise RuntimeError(f"upload answered {response.status}: {response.body[:500]!r}")

    return upload


def _sequential(upload: Callable[[dict[str, str], bytes], None], batch: Sequence[Prepared]) -> Run:
    clock = time.perf_counter
    backend = database_backend_pid()
    latencies = []
    backend_before, cpu_before = process_cpu_seconds(backend), time.process_time()
    loop_start = clock()
    for headers, body in batch:
        start = clock()
        upload(headers, body)
        latencies.append(clock() - start)
    loop_end = clock()
    cpu = time.process_time() - cpu_before
    return Run(loop_start, loop_end, latencies, cpu, process_cpu_seconds(backend) - backend_before)


def _forked(
    upload: Callable[[dict[str, str], bytes], None], warmups: Sequence[Prepared], batch: Sequence[Prepared]
) -> list[Run]:
    """P forked workers, each with its own database connection; they start together at a barrier.

    ``time.perf_counter`` is CLOCK_MONOTONIC on Linux, so the workers' clocks are comparable.
    """
    from django.db import connections

    processes = len(warmups)
    connections.close_all()  # each worker opens its own connection
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()
    barrier = context.Barrier(processes)

    def work(warmup: Prepared, share: Sequence[Prepared]) -> None:
        try:
            upload(*warmup)
            barrier.wait()
            results.put(("ok", _sequential(upload, share)))
        except Exception as exc:  # report to the parent instead of dying silently
            barrier.abort()
            results.put(("error", repr(exc)))
        finally:
            connections.close_all()

    workers = [
        context.Process(target=work, args=(warmups[index], batch[index::processes])) for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    errors = [outcome[1] for outcome in outcomes if outcome[0] != "ok"]
    if errors:
        raise SystemExit(f"worker failed: {errors}")
    return [outcome[1] for outcome in outcomes]


def _row(db: str, level: int, count: int, wall: float, stats: Summary) -> tuple[float, list[object]]:
    rate = count / wall
    return rate, [
        db,
        level,
        count,
        f"{wall:.2f}",
        f"{rate:.0f}",
        f"{stats.mean_ms:.2f}",
        f"{stats.p50_ms:.2f}",
        f"{stats.p95_ms:.2f}",
        f"{stats.p99_ms:.2f}",
        f"{stats.max_ms:.2f}",
    ]


def _cpu_row(level: int, count: int, wall: float, runs: list[Run], machine_busy: float) -> list[object]:
    cpu = sum(run.cpu for run in runs)
    backend = sum(run.backend_cpu for run in runs)
    cores = len(os.sched_getaffinity(0))
    other = max(machine_busy - cpu - backend, 0.0)
    return [
        level,
        f"{cpu / count * 1000:.2f}",
        f"{backend / count * 1000:.2f}" if backend else "n/a (in-process)",
        f"{machine_busy:.1f} s of {wall * cores:.1f} s ({machine_busy / (wall * cores):.0%})",
        f"{other / count * 1000:.2f}",
    ]


if __name__ == "__main__":
    main()
