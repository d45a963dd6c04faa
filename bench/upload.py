"""Uploads per second through the WSGI application, with every check the gateway makes.

Three virtual countries (XA, XB, XC) are onboarded with real trust-anchor signatures. N DSCs and
their attached CMS (signed with the country's UPLOAD key, base64 as DGCG clients send it) are made
before the clock starts; the timed loop only calls ``POST /signerCertificate`` through
``gateway.wsgi.application`` and requires 201 for each. A few warm-up uploads (not counted) load
code paths and the trust-anchor verification memo first.

    .venv/bin/python bench/upload.py --db both            # N=2000 on SQLite, then PostgreSQL
    .venv/bin/python bench/upload.py --db postgres -n 500 --profile --show-queries
"""

from __future__ import annotations

import sys
import time

from common import (
    Profiler,
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
TARGET_UPLOADS_PER_SECOND = 200  # on PostgreSQL


def main() -> None:
    arguments = parser("Benchmark DSC uploads (POST /signerCertificate) through the WSGI app.")
    arguments.add_argument("-n", type=int, default=2000, help="timed uploads (default 2000)")
    arguments.add_argument("--warmup", type=int, default=20, help="uploads before the clock starts (default 20)")
    arguments.add_argument("--show-queries", action="store_true", help="list the SQL of one upload")
    args = arguments.parse_args()
    if run_per_database(args, __file__):
        return

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
    total = args.warmup + args.n
    generation_start = time.perf_counter()
    prepared = []
    for index in range(total):
        country = countries[index % len(countries)]
        dsc = country.dsc(at=now)
        prepared.append((country.headers(), country.cms_b64(dsc.der)))
    generation = time.perf_counter() - generation_start
    print(
        f"Prepared {total} DSCs + attached CMS for {len(countries)} countries in {generation:.1f} s "
        f"(outside the timed loop; {args.warmup} warm-up + {args.n} timed)."
    )

    app = wsgi_application()

    def upload(headers: dict[str, str], body: bytes) -> None:
        response = call(
            app, "POST", "/signerCertificate", headers=headers, body=body, content_type="application/cms"
        )
        if response.status != 201:
            raise SystemExit(f"upload answered {response.status}: {response.body[:500]!r}")

    for headers, body in prepared[: max(args.warmup - 1, 0)]:
        upload(headers, body)
    queries: list[dict[str, str]] = []
    if args.warmup:
        with CaptureQueriesContext(connection) as captured:
            upload(*prepared[args.warmup - 1])
        queries = captured.captured_queries

    timed = prepared[args.warmup :]
    latencies: list[float] = []
    clock = time.perf_counter
    with Profiler(args.profile, f"{args.n} uploads on {args.db}"):
        loop_start = clock()
        for headers, body in timed:
            start = clock()
            upload(headers, body)
            latencies.append(clock() - start)
        wall = clock() - loop_start

    stored = SignerCertificate.objects.count()
    if stored != total:
        raise SystemExit(f"expected {total} stored DSCs, found {stored}")

    stats = summarize(latencies)
    rate = args.n / wall
    print()
    print(
        table(
            ["database", "uploads", "wall s", "uploads/s", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [
                [
                    args.db,
                    args.n,
                    f"{wall:.2f}",
                    f"{rate:.0f}",
                    f"{stats.mean_ms:.2f}",
                    f"{stats.p50_ms:.2f}",
                    f"{stats.p95_ms:.2f}",
                    f"{stats.p99_ms:.2f}",
                    f"{stats.max_ms:.2f}",
                ]
            ],
        )
    )
    print()
    print(f"All {args.n} timed uploads answered 201; {stored} DSC rows stored (warm-up included).")
    if queries:
        print(f"SQL statements per upload (one warm-up upload, captured): {len(queries)}")
        if args.show_queries:
            print("```")
            for query in queries:
                print(f"  {query['time']}s  {query['sql'][:150]}")
            print("```")
    verdict = "met" if rate >= TARGET_UPLOADS_PER_SECOND else "NOT met"
    scope = "" if args.db == "postgres" else " (the target is for PostgreSQL; shown for comparison)"
    print(f"Target >= {TARGET_UPLOADS_PER_SECOND} uploads/s: {verdict} ({rate:.0f} uploads/s){scope}")
    sys.stdout.flush()
    connection.close()


if __name__ == "__main__":
    main()
