"""GET /trustList through the WSGI application with 1,000 and 10,000 DSCs in the database.

Seeding inserts SignerCertificate rows in bulk (as many rows as the upload path would write, without
its per-request cost), but every row is real: a DSC issued in-process by its country's onboarded
CSCA, and as signature the detached CMS the upload path would store (an attached CMS signed with
the country's UPLOAD key, detached with ``gateway.pki.cms.detach``; every 100th is verified with
``cms.verify_detached``). After seeding, ``record_change`` moves the trust state version once.

Then, per size:

* first request: GET /trustList right after seeding (renders the list and its ETag);
* full list repeated: GET /trustList, served from the rendering of this trust state version;
* conditional: GET /trustList with If-None-Match of the returned ETag (must be 304);
* page: GET /trustList?page=3&pagesize=100;
* extra, no target: the TNG list GET /trustList/certificate (first request, then repeated).

    .venv/bin/python bench/trustlist_download.py --db both
    .venv/bin/python bench/trustlist_download.py --db postgres --sizes 10000 --profile
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from common import (
    Profiler,
    Response,
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
FULL_TARGET_MS = 50.0  # PostgreSQL, 10,000 DSCs, once rendered
CONDITIONAL_TARGET_MS = 5.0
TARGET_SIZE = 10_000


def main() -> None:
    arguments = parser("Benchmark trust list downloads (GET /trustList) through the WSGI app.")
    arguments.add_argument(
        "--sizes", default="1000,10000", help="DSC counts to measure, ascending (default 1000,10000)"
    )
    arguments.add_argument("--repeat", type=int, default=100, help="repetitions of the full list (default 100)")
    arguments.add_argument(
        "--repeat-small", type=int, default=1000, help="repetitions of the 304 and page requests (default 1000)"
    )
    arguments.add_argument("--renders", type=int, default=3, help="extra renders with the cache cleared (default 3)")
    arguments.add_argument("--no-tng", action="store_true", help="skip the extra TNG /trustList/certificate figures")
    args = arguments.parse_args()
    if run_per_database(args, __file__):
        return
    sizes = sorted(int(size) for size in args.sizes.split(",") if size.strip())

    from tests.factory import Pki

    pki = Pki.create()
    env = setup_django(args.db, pki.ta.cert_pem)
    banner("Trust list download benchmark", env)

    from django.db import connection

    countries = [pki.country(code) for code in COUNTRIES]
    app = wsgi_application()
    headers = countries[0].headers()

    def get(path: str, query: str = "", **extra: str) -> Response:
        return call(app, "GET", path, query=query, headers={**headers, **extra})

    parties = len(countries) * 3  # AUTHENTICATION, UPLOAD and CSCA of each country
    seeded = 0
    verdicts: list[str] = []
    for size in sizes:
        seed_seconds = _seed(countries, seeded, size - seeded)
        seeded = size
        print(f"\n### {size:,} DSCs (+{parties} onboarded parties) on {args.db}\n")
        print(f"Seeded to {size:,} DSCs in {seed_seconds:.1f} s (not timed below).\n")
        profile = args.profile and size == sizes[-1]
        backend = database_backend_pid()
        machine_before, own_before = machine_cpu_seconds(), time.process_time()
        backend_before, wall_before = process_cpu_seconds(backend), time.perf_counter()
        rows, notes, figures = _measure(get, size + parties, args, profile)
        wall = time.perf_counter() - wall_before
        own = time.process_time() - own_before + process_cpu_seconds(backend) - backend_before
        rest = max(machine_cpu_seconds()[0] - machine_before[0] - own, 0.0)
        notes.append(
            f"CPU during these measurements: this process and its database backend {own:.1f} s, "
            f"rest of the machine {rest:.1f} s, over {wall:.1f} s of wall time "
            f"({'undisturbed' if rest < 0.1 * wall else 'DISTURBED by other work: repeat on a quiet machine'})."
        )
        print(table(["request", "n", "mean ms", "p50 ms", "p95 ms", "max ms", "status", "size"], rows))
        print()
        for note in notes:
            print(note)
        if size == TARGET_SIZE:
            verdicts += _verdicts(args.db, figures)
    if verdicts:
        print()
        for verdict in verdicts:
            print(verdict)
    print(log_summary())
    sys.stdout.flush()
    connection.close()


# --- seeding ---------------------------------------------------------------------------------------


def _seed(countries: list[Any], start: int, count: int) -> float:
    from django.db import transaction
    from django.utils import timezone

    from gateway.outbox.services import record_change
    from gateway.pki import cms, issuance
    from gateway.pki.certs import kid, thumbprint
    from trustlist.models import SignerCertificate

    began = time.perf_counter()
    now = timezone.now()
    uploader = {country.code: thumbprint(country.upload.der) for country in countries}
    issuer = {country.code: thumbprint(country.csca.der) for country in countries}
    optional = ("not_before", "not_after", "usages", "public_key_jwk", "issuer_thumbprint")
    model_fields = {name for name in optional if hasattr(SignerCertificate, name)}
    rows = []
    for index in range(start, start + count):
        country = countries[index % len(countries)]
        dsc = issuance.issue(
            issuance.name(f"{country.code} bench DSC {index}", country.code),
            at=now,
            issuer=country.csca,
            extended_key_usage=[issuance.EKU_VACCINATION],
        )
        der = dsc.der
        detached = cms.detach(cms.sign(der, country.upload.certificate, country.upload.key, detached=False))
        if index % 100 == 0:
            message = cms.verify_detached(detached, der)
            assert message.signer_der == country.upload.der
        fields: dict[str, Any] = {
            "country": country.code,
            "thumbprint": thumbprint(der),
            "kid": kid(der),
            "raw_data": der,
            "signature": base64.b64encode(detached).decode("ascii"),
            "uploader_thumbprint": uploader[country.code],
            "created_at": now,
        }
        fields.update(_derived_columns(dsc.certificate, issuer[country.code], model_fields))
        rows.append(SignerCertificate(**fields))
    with transaction.atomic():
        SignerCertificate.objects.bulk_create(rows, batch_size=500)
        record_change(kind="UPLOAD", at=now)
    assert SignerCertificate.objects.count() == start + count
    return time.perf_counter() - began


def _derived_columns(certificate: Any, issuer_thumbprint: str, model_fields: set[str]) -> dict[str, Any]:
    """Columns the upload path derives from the certificate, for those the model has."""
    from gateway.pki import certs

    values: dict[str, Any] = {}
    if "not_before" in model_fields:
        values["not_before"] = certificate.not_valid_before_utc
    if "not_after" in model_fields:
        values["not_after"] = certificate.not_valid_after_utc
    if "usages" in model_fields:
        values["usages"] = list(certs.dcc_usages(certificate))
    if "public_key_jwk" in model_fields:
        values["public_key_jwk"] = certs.public_jwk(certificate)
    if "issuer_thumbprint" in model_fields:
        values["issuer_thumbprint"] = issuer_thumbprint
    return values


# --- measuring -------------------------------------------------------------------------------------


def _repeat(request: Callable[[], Response], times: int, status: int) -> tuple[list[float], Response]:
    clock = time.perf_counter
    latencies = []
    response = None
    for _ in range(times):
        start = clock()
        response = request()
        latencies.append(clock() - start)
        if response.status != status:
            raise SystemExit(f"expected {status}, got {response.status}: {response.body[:300]!r}")
    assert response is not None
    return latencies, response


def _row(label: str, seconds: list[float], response: Response) -> list[object]:
    stats = summarize(seconds)
    size = f"{len(response.body) / 1e6:.2f} MB" if len(response.body) > 100_000 else f"{len(response.body):,} B"
    return [
        label,
        stats.count,
        f"{stats.mean_ms:.2f}",
        f"{stats.p50_ms:.2f}",
        f"{stats.p95_ms:.2f}",
        f"{stats.max_ms:.2f}",
        response.status,
        size,
    ]


def _measure(
    get: Callable[..., Response], entries: int, args: Any, profile: bool
) -> tuple[list[list[object]], list[str], dict[str, float]]:
    from trustlist import rendering

    rows: list[list[object]] = []
    notes: list[str] = []
    figures: dict[str, float] = {}

    with Profiler(profile, "the first GET /trustList (render)"):
        first_latency, first = _repeat(lambda: get("/trustList"), 1, 200)
    rows.append(_row("GET /trustList, first (renders)", first_latency, first))
    listed = json.loads(first.body)
    if len(listed) != entries:
        raise SystemExit(f"expected {entries} entries, got {len(listed)}")
    etag = first.headers["ETag"]

    renders = []
    for _ in range(args.renders):
        rendering.clear_cache()
        seconds, again = _repeat(lambda: get("/trustList"), 1, 200)
        renders += seconds
        if again.body != first.body or again.headers.get("ETag") != etag:
            raise SystemExit("a re-render produced a different body or ETag")
    if renders:
        rows.append(_row(f"GET /trustList, re-render (cache cleared) x{args.renders}", renders, again))

    with Profiler(profile, f"{args.repeat} cached GET /trustList"):
        full, response = _repeat(lambda: get("/trustList"), args.repeat, 200)
    if response.body != first.body:
        raise SystemExit("cached body differs from the rendered one")
    rows.append(_row("GET /trustList, rendered (cached)", full, response))
    figures["full_p50"], figures["full_p95"] = _p50_p95(full)

    conditional, response = _repeat(lambda: get("/trustList", HTTP_IF_NONE_MATCH=etag), args.repeat_small, 304)
    if response.headers.get("ETag") != etag or response.body:
        raise SystemExit("304 without the ETag or with a body")
    rows.append(_row("GET /trustList, If-None-Match -> 304", conditional, response))
    figures["conditional_p50"], figures["conditional_p95"] = _p50_p95(conditional)

    paged, response = _repeat(lambda: get("/trustList", "page=3&pagesize=100"), args.repeat_small, 200)
    page = json.loads(response.body)
    if page != listed[300:400]:
        raise SystemExit("page 3 (pagesize 100) is not entries 300-399 of the full list")
    rows.append(_row("GET /trustList?page=3&pagesize=100", paged, response))

    if not args.no_tng:
        with Profiler(profile, "the first GET /trustList/certificate (TNG render)"):
            tng_first, tng = _repeat(lambda: get("/trustList/certificate"), 1, 200)
        rows.append(_row("extra: GET /trustList/certificate, first (renders)", tng_first, tng))
        tng_cached, tng = _repeat(lambda: get("/trustList/certificate"), max(args.repeat // 5, 1), 200)
        rows.append(_row("extra: GET /trustList/certificate, rendered", tng_cached, tng))

    notes.append(
        f'Full list: {entries:,} entries, {len(first.body) / 1e6:.2f} MB, ETag {etag[:18]}..."; '
        f"re-render median {statistics.median(renders) * 1000:.0f} ms."
        if renders
        else f"Full list: {entries:,} entries, {len(first.body) / 1e6:.2f} MB."
    )
    return rows, notes, figures


def _p50_p95(seconds: list[float]) -> tuple[float, float]:
    stats = summarize(seconds)
    return stats.p50_ms, stats.p95_ms


def _verdicts(db: str, figures: dict[str, float]) -> list[str]:
    scope = "" if db == "postgres" else " (targets are for PostgreSQL; shown for comparison)"
    full = "met" if figures["full_p95"] < FULL_TARGET_MS else "NOT met"
    conditional = "met" if figures["conditional_p95"] < CONDITIONAL_TARGET_MS else "NOT met"
    return [
        f"Target full /trustList of {TARGET_SIZE:,} DSCs < {FULL_TARGET_MS:.0f} ms once rendered (judged on p95): "
        f"{full} (p50 {figures['full_p50']:.2f} ms, p95 {figures['full_p95']:.2f} ms){scope}",
        f"Target conditional 304 < {CONDITIONAL_TARGET_MS:.0f} ms (judged on p95): {conditional} "
        f"(p50 {figures['conditional_p50']:.2f} ms, p95 {figures['conditional_p95']:.2f} ms){scope}",
    ]


if __name__ == "__main__":
    main()
