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
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from common import (
    Profiler,
    Summary,
    banner,
    call,
    parser,
    run_per_database,
    setup_django,
    summarize,
    table,
    wsgi_application,
)

COUNTRIES = ("XA", "XB", "XC")
TARGET_UPLOADS_PER_SECOND = 200  # on PostgreSQL, on the 2-core benchmark machine

Prepared = tuple[dict[str, str], bytes]


def main() -> None:
    arguments = parser("Benchmark DSC uploads (POST /signerCertificate) through the WSGI app.")
    arguments.add_argument("-n", type=int, default=2000, help="timed uploads per concurrency level (default 2000)")
    arguments.add_argument("--warmup", type=int, default=20, help="uploads before the clock starts (default 20)")
    arguments.add_argument(
        "--processes", default="1,2", help="comma-separated concurrency levels (worker processes), default 1,2"
    )
    arguments.add_argument("--show-queries", action="store_true", help="list the SQL of one upload")
    args = arguments.parse_args()
    if run_per_database(args, __file__):
        return
    levels = [int(level) for level in args.processes.split(",") if level.strip()]

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
    for level in levels:
        worker_warmup, batch = batches[level]
        with Profiler(args.profile, f"{args.n} uploads on {args.db}, {level} process(es)"):
            wall, latencies = _sequential(upload, batch) if level == 1 else _forked(upload, worker_warmup, batch)
        rows.append(_row(args.db, level, args.n, wall, summarize(latencies)))

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
    sys.stdout.flush()
    connection.close()


def _uploader(app: Callable[..., Any]) -> Callable[[dict[str, str], bytes], None]:
    def upload(headers: dict[str, str], body: bytes) -> None:
        response = call(
            app, "POST", "/signerCertificate", headers=headers, body=body, content_type="application/cms"
        )
        if response.status != 201:
            raise RuntimeError(f"upload answered {response.status}: {response.body[:500]!r}")

    return upload


def _sequential(upload: Callable[[dict[str, str], bytes], None], batch: Sequence[Prepared]) -> tuple[float, list[float]]:
    clock = time.perf_counter
    latencies = []
    loop_start = clock()
    for headers, body in batch:
        start = clock()
        upload(headers, body)
        latencies.append(clock() - start)
    return clock() - loop_start, latencies


def _forked(
    upload: Callable[[dict[str, str], bytes], None], warmups: Sequence[Prepared], batch: Sequence[Prepared]
) -> tuple[float, list[float]]:
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
            start = time.perf_counter()
            _, latencies = _sequential(upload, share)
            results.put(("ok", start, time.perf_counter(), latencies))
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
    starts = [outcome[1] for outcome in outcomes]
    ends = [outcome[2] for outcome in outcomes]
    latencies = [latency for outcome in outcomes for latency in outcome[3]]
    return max(ends) - min(starts), latencies


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


if __name__ == "__main__":
    main()
