"""Publication for verifiers at 1,000, 10,000 and 100,000 DSCs (docs/benchmarks-publication.md).

Per size, on a database created and migrated for this run (PostgreSQL ``gateway_bench_pub``, or a
SQLite file), with the publish folder, the publisher key folder and the trust anchor PEM in
temporary folders:

1. Full publication: ``publish(force=True, full=True)`` (snapshot of every row, the full lists,
   delta, index, then the DID document) in a fresh subprocess, first and second in that process:
   wall and CPU time, time per phase, peak RSS (VmHWM, reset through /proc/self/clear_refs) and
   its growth; in a second fresh subprocess the tracemalloc peak, with the peak within each phase.
2. Background rebuild: one change published as a delta, then ``rebuild_full()`` in a fresh
   subprocess (snapshot, roll-forward, full lists of F, the index naming them, the DID document):
   wall and CPU time, time until the index names the new full lists, peak RSS.
3. Artifact sizes: trust list JWS and .gz, revocation list, delta, index, did.json.
4. Catch-up: 10 uploads through the WSGI app, each published as its own sequence (eager tasks,
   no rebuild in between); a verifier at the old index downloads the new index and the 10 deltas
   after its sequence, verifies them and replays them; the result must equal what a new verifier
   gets from the full lists of F and the deltas from F.
4b. Far behind (``--far-sizes``, default 1k and 10k): ``--far-changes`` (1,100) uploads, the full
   lists rebuilt every GATEWAY_PUBLISH_FULL_AFTER_DELTAS of them; a verifier at the old index,
   beyond the chain of deltas, walks the spans and then the deltas: bytes against the full lists.
5. Commit-to-visible: a real Celery worker (``celery -A gateway worker --concurrency 2``, prefork,
   as scripts/stack.py runs it) on a private redis-server; this process queues its tasks there and
   shares that Redis as its cache (the publication-pending flag). Time from an upload's commit
   (``change_committed``, sent on commit) until a verifier polling the served index through the
   WSGI app (If-None-Match, every 10 ms) has downloaded and verified deltas that hold the DSC.
   The worker rebuilds the full lists in the background meanwhile (GATEWAY_PUBLISH_FULL_AFTER_*
   at their defaults): their durations come from the worker log.
6. Request path: the cost, on this process, of asking for a publication after a commit: queuing
   a task every time (``publish_changes.delay()``, the naive way) against
   ``request_publication()`` while a publication is pending (one Redis SET NX).
7. Conditional GETs through the WSGI app: 304s per second for ``/publication/index.jws`` and the
   trust list with If-None-Match, and full GETs of the index.
8. Extra ("concurrent"): one upload sent 0.2 s after another process started a full publication:
   its latency, and whether the publication still commits.

The delta window is filled first (forced publications with no DSCs, cheap), so that every index
measured lists GATEWAY_PUBLISH_DELTA_WINDOW deltas as a running gateway's does. In this process
uploads publish eagerly, without background rebuilds (GATEWAY_PUBLISH_FULL_AFTER_* set high).
Seeding: every DSC is a real certificate issued in-process by its country's onboarded CSCA, with a
real detached CMS by the country's UPLOAD key (``gateway.pki.cms.sign(detached=True)``, every
1,000th verified with ``cms.verify_detached``); to keep 100,000 affordable, DSC key pairs come from
a pool of 100 keys. Rows are bulk-inserted with every column ``trustlist.services._store`` fills,
plus ``--revoked-share`` (default 1 %) additional revoked DSCs so that the revocation list is not
empty; ``record_change`` is called once per seeding step (without queueing a publication).

    .venv/bin/python bench/publication.py                          # PostgreSQL, 1k/10k/100k
    .venv/bin/python bench/publication.py --db sqlite --sizes 1000,10000
    .venv/bin/python bench/publication.py --sizes 100000 --visible-sizes 100000 \
        --experiments publish,rebuild,visible --profile            # and cProfile of the publication
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import gzip
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import common
from common import Response, banner, call, log_summary, parser, run_per_database, summarize, table

COUNTRIES = ("XA", "XB", "XC")
POSTGRES_DB = "gateway_bench_pub"  # not common's gateway_bench: the other benchmarks may run meanwhile
PUBLISH_TARGET_S = 10.0  # 100,000 DSCs
MEMORY_TARGET_BYTES = 1 << 30  # 1 GiB
CATCH_UP_TARGET = 0.01  # of the full trust list
VISIBLE_TARGET_S = 2.0
TARGET_SIZE = 100_000
KEY_POOL = 100
MIB = 1 << 20
EXPERIMENTS = ("publish", "rebuild", "sizes", "catch-up", "far-behind", "visible", "trigger", "gets", "concurrent")


def main() -> None:
    arguments = parser("Benchmark publication for verifiers (publish, sizes, catch-up, commit-to-visible, GETs).")
    arguments.set_defaults(db="postgres")
    arguments.add_argument("--sizes", default="1000,10000,100000", help="DSC counts, ascending")
    arguments.add_argument(
        "--visible-sizes",
        default="1000,10000,100000",
        help="sizes at which to measure commit-to-visible with a worker",
    )
    arguments.add_argument("--visible-repeats", type=int, default=20, help="timed uploads per size (default 20)")
    arguments.add_argument(
        "--visible-pause", type=float, default=0.5, help="seconds between those uploads (default 0.5)"
    )
    arguments.add_argument("--changes", type=int, default=10, help="uploads for the catch-up figure (default 10)")
    arguments.add_argument(
        "--far-changes",
        type=int,
        default=1100,
        help="uploads a verifier misses for the far-behind figure (default 1100: beyond the chain of deltas)",
    )
    arguments.add_argument(
        "--far-sizes", default="1000,10000", help="sizes at which to measure far-behind (default 1000,10000)"
    )
    arguments.add_argument("--requests", type=int, default=2000, help="requests per conditional GET figure")
    arguments.add_argument("--full-requests", type=int, default=500, help="full GETs of the index")
    arguments.add_argument("--revoked-share", type=float, default=0.01, help="revoked DSCs seeded, share of N")
    arguments.add_argument(
        "--fill-window",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after seeding, publish until the index lists a full delta window (steady state; default on)",
    )
    arguments.add_argument(
        "--experiments",
        default=",".join(EXPERIMENTS),
        help=f"comma-separated subset of {','.join(EXPERIMENTS)} (default all)",
    )
    arguments.add_argument(
        "--without-did",
        action="store_true",
        help="at the largest size, also publish once with GATEWAY_PUBLISH_DID=false (what the DID document costs)",
    )
    arguments.add_argument("--keep", action="store_true", help="keep the database and temporary folders")
    arguments.add_argument(
        "--child", choices=("publish", "rebuild", "trace", "profile", "once"), help=argparse.SUPPRESS
    )
    args = arguments.parse_args()
    if args.child:
        _child(args.child)
        return
    if run_per_database(args, __file__):
        return
    _run(args)


# --- the parent: one database, every size ------------------------------------------------------------


def _run(args: argparse.Namespace) -> None:
    sizes = sorted(int(size) for size in args.sizes.split(",") if size.strip())
    visible_sizes = {int(size) for size in args.visible_sizes.split(",") if size.strip()}
    far_sizes = {int(size) for size in args.far_sizes.split(",") if size.strip()}
    experiments = {name.strip() for name in args.experiments.split(",") if name.strip()}
    if unknown := experiments - set(EXPERIMENTS):
        raise SystemExit(f"unknown experiments: {', '.join(sorted(unknown))} (choose from {', '.join(EXPERIMENTS)})")

    from tests.factory import Pki

    pki = Pki.create()
    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-publication-"))
    os.environ["GATEWAY_PUBLISH_DIR"] = str(folder / "publish")
    os.environ["GATEWAY_PUBLISHER_KEY_DIR"] = str(folder / "publisher")
    # Uploads in this process publish eagerly, as deltas: no rebuild after each (catch-up counts
    # the deltas of 10 changes). The worker of the commit-to-visible figure runs the defaults.
    os.environ["GATEWAY_PUBLISH_FULL_AFTER_SECONDS"] = "86400"
    os.environ["GATEWAY_PUBLISH_FULL_AFTER_DELTAS"] = "100000"
    common.POSTGRES_BENCH_DB = POSTGRES_DB  # setup_django drops and creates this database
    env = common.setup_django(args.db, pki.ta.cert_pem)
    banner("Publication benchmark", env)

    from django.conf import settings
    from django.utils import timezone

    from tests.publishing import install_publisher
    from verifier.certificates import load_anchor

    print(
        f"Publish folder {settings.GATEWAY_PUBLISH_DIR}, publisher keys {settings.GATEWAY_PUBLISHER_KEY_DIR}, "
        f"trust anchor {env.trust_anchor_file} (all temporary). Delta window "
        f"{settings.GATEWAY_PUBLISH_DELTA_WINDOW}, full lists kept {settings.GATEWAY_PUBLISH_KEEP_FULL}, "
        f"DID document {'on' if settings.GATEWAY_PUBLISH_DID else 'off'}."
    )
    install_publisher(pki, at=timezone.now())
    countries = [pki.country(code) for code in COUNTRIES]  # onboarding publishes (eagerly) 9 times
    bench = SimpleNamespace(
        args=args,
        app=common.wsgi_application(),
        countries=countries,
        anchors=[load_anchor(pki.ta.cert_pem)],
        root=Path(settings.GATEWAY_PUBLISH_DIR),
        workdir=env.workdir,
        keys=_key_pool(),
    )
    results: dict[int, dict[str, Any]] = {}
    seeded = revoked = 0
    for size in sizes:
        print(f"\n### {size:,} DSCs on {args.db}\n")
        wanted_revoked = math.ceil(size * args.revoked_share)
        seconds = _seed(bench, seeded, size - seeded, revoked, wanted_revoked - revoked)
        print(
            f"Seeded to {size:,} trusted + {wanted_revoked:,} revoked DSCs in {seconds:.1f} s "
            f"({size - seeded + wanted_revoked - revoked:,} new rows; not timed below)."
        )
        seeded, revoked = size, wanted_revoked
        from publication.service import publish

        began = time.perf_counter()
        publish()  # the bulk insert's outbox row names no certificate: a reset (full lists), untimed
        print(f"Published the seeded rows (a reset: full lists, no delta) in {time.perf_counter() - began:.1f} s.")
        if args.fill_window:
            filled, took = _fill_window()
            print(
                f"Filled the delta window after the reset: {filled} forced publications (empty deltas) in "
                f"{took:.1f} s, so that every index below lists a full window of deltas, as a running gateway's "
                "does (not timed below)."
            )
        sys.stdout.flush()
        result: dict[str, Any] = {}
        results[size] = result
        if "publish" in experiments:
            result["publish"] = _measure_publish(args, size)
            _print_publish(result["publish"])
        if "rebuild" in experiments:
            result["rebuild"] = _spawn_child(args, "rebuild")
            _print_rebuild(result["rebuild"])
        if "sizes" in experiments:
            result["sizes"] = _artifact_sizes(bench.root)
            print()
            print(table(["artifact", "bytes"], [[label, _bytes(value)] for label, value in result["sizes"].items()]))
        if "catch-up" in experiments:
            result["catch_up"] = _catch_up(bench, args.changes)
            _print_catch_up(result["catch_up"])
        if "far-behind" in experiments and size in far_sizes:
            result["far_behind"] = _far_behind(bench, args.far_changes)
            _print_far_behind(result["far_behind"])
        if "visible" in experiments and size in visible_sizes:
            result["visible"] = _commit_to_visible(bench, size, args.visible_repeats)
            _print_visible(result["visible"])
        if "trigger" in experiments:
            result["trigger"] = _request_path(bench, args)
            _print_trigger(result["trigger"])
        if "gets" in experiments:
            result["gets"] = _conditional_gets(bench, args)
            _print_gets(result["gets"])
        if "concurrent" in experiments:
            result["concurrent"] = _upload_during_publication(bench, args)
            _print_concurrent(result["concurrent"])
        sys.stdout.flush()
    _print_summary(args.db, results)
    print()
    print(log_summary())
    sys.stdout.flush()
    common.cleanup(args, env, folder, database=POSTGRES_DB)


def _key_pool() -> list[Any]:
    from gateway.pki import issuance

    return [issuance.new_key("ec-p256") for _ in range(KEY_POOL)]


@contextlib.contextmanager
def _no_publication_on_commit() -> Iterator[None]:
    """Seeding commits a change; the publication it would queue is measured on its own instead."""
    import publication.tasks

    with mock.patch.object(publication.tasks, "request_publication", return_value=None):
        yield


def _seed(bench: SimpleNamespace, start: int, count: int, revoked_start: int, revoked_count: int) -> float:
    from django.db import transaction
    from django.utils import timezone

    from gateway.outbox.services import record_change
    from gateway.pki import certs, cms, issuance
    from trustlist.models import SignerCertificate

    began = time.perf_counter()
    now = timezone.now()
    countries = bench.countries
    uploader = {country.code: certs.thumbprint(country.upload.der) for country in countries}
    issuer = {country.code: certs.thumbprint(country.csca.der) for country in countries}
    work = [(f"bench DSC {i}", None) for i in range(start, start + count)]
    work += [(f"bench revoked DSC {i}", now) for i in range(revoked_start, revoked_start + revoked_count)]
    with _no_publication_on_commit(), transaction.atomic():
        for chunk_start in range(0, len(work), 5000):
            rows = []
            for offset, (label, revoked_at) in enumerate(work[chunk_start : chunk_start + 5000]):
                number = chunk_start + offset
                country = countries[number % len(countries)]
                dsc = issuance.issue(
                    issuance.name(f"{country.code} {label}", country.code),
                    at=now,
                    issuer=country.csca,
                    key=bench.keys[number % len(bench.keys)],
                    extended_key_usage=[issuance.EKU_VACCINATION],
                )
                der = dsc.der
                signature = cms.sign(der, country.upload.certificate, country.upload.key, detached=True)
                if number % 1000 == 0:
                    assert cms.verify_detached(signature, der).signer_der == country.upload.der
                rows.append(
                    SignerCertificate(
                        country=country.code,
                        thumbprint=certs.thumbprint(der),
                        kid=certs.kid(der),
                        raw_data=der,
                        signature=base64.b64encode(signature).decode("ascii"),
                        uploader_thumbprint=uploader[country.code],
                        not_before=dsc.certificate.not_valid_before_utc,
                        not_after=dsc.certificate.not_valid_after_utc,
                        usages=list(certs.dcc_usages(dsc.certificate)),
                        public_key_jwk=certs.public_jwk(dsc.certificate),
                        issuer_thumbprint=issuer[country.code],
                        created_at=now,
                        revoked_at=revoked_at,
                        revocation_reason="bench" if revoked_at else "",
                    )
                )
            SignerCertificate.objects.bulk_create(rows, batch_size=1000)
        record_change(kind="UPLOAD", at=now)
    return time.perf_counter() - began


def _fill_window() -> tuple[int, float]:
    """Publish until the chain of deltas reaches GATEWAY_PUBLISH_DELTA_WINDOW sequences back, as a
    running gateway's does."""
    from django.conf import settings

    from publication import artifacts
    from publication.models import Publication
    from publication.service import publish

    began = time.perf_counter()
    filled = 0
    while (latest := Publication.objects.published().newest()) is not None:
        index = artifacts.payload_of((Path(settings.GATEWAY_PUBLISH_DIR) / "index.jws").read_bytes())
        reachable = Publication.objects.filter(
            index_sha256__gt="", id__gt=index["chainStart"], id__lte=index["sequence"]
        ).count()
        if reachable >= settings.GATEWAY_PUBLISH_DELTA_WINDOW or filled > 2 * settings.GATEWAY_PUBLISH_DELTA_WINDOW:
            break
        publish(force=True)  # a delta (empty) and an index each
        filled += 1
    assert latest is not None
    return filled, time.perf_counter() - began


# --- 1. full publication in fresh processes ------------------------------------------------------------


def _measure_publish(args: argparse.Namespace, size: int) -> dict[str, Any]:
    result = _spawn_child(args, "publish")
    result["trace"] = _spawn_child(args, "trace")
    largest = size == max(int(s) for s in args.sizes.split(",") if s.strip())
    if args.without_did and largest:
        result["without_did"] = _spawn_child(args, "publish", GATEWAY_PUBLISH_DID="false")
    if args.profile and largest:
        _spawn_child(args, "profile")
    return result


def _spawn_child(args: argparse.Namespace, mode: str, **environment: str) -> dict[str, Any]:
    sys.stdout.flush()
    completed = subprocess.run(
        [sys.executable, __file__, "--db", args.db, "--child", mode],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        # DATABASE_URL, GATEWAY_* as setup_django set them: the same database and folders
        env={**os.environ, **environment},
    )
    result: dict[str, Any] = {}
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
        else:
            print(line)
    return result


def _child(mode: str) -> None:
    """One publication in a fresh process (Django configured from the parent's environment)."""
    import django

    django.setup()
    from django.db import connection

    from publication import service

    connection.ensure_connection()
    if mode == "profile":
        with common.Profiler(True, "publish(force=True, full=True) in a fresh process", limit=35):
            service.publish(force=True, full=True)
        print("RESULT {}")
        return
    if mode == "trace":
        print("RESULT " + json.dumps(_traced_publication(service)))
        return
    if mode == "once":
        print(f"PUBLISHING {time.time()}", flush=True)
        error = ""
        try:
            service.publish(force=True, full=True)
        except Exception as exc:  # reported by the parent: a failed publication is a result here
            error = f"{type(exc).__name__}: {exc}".strip()
        print("RESULT " + json.dumps({"ended": time.time(), "error": error}))
        return
    if mode == "rebuild":
        print("RESULT " + json.dumps(_timed_rebuild(service)))
        return
    phases = _PhaseTimer(service)
    rusage_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    reset = _reset_peak_rss()
    baseline = _proc_status("VmRSS")
    began, cpu = time.perf_counter(), time.process_time()
    publication = service.publish(force=True, full=True)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = _proc_status("VmHWM")
    rusage_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    first_phases = dict(phases.seconds)
    phases.seconds.clear()
    began, warm_cpu = time.perf_counter(), time.process_time()
    service.publish(force=True, full=True)
    warm, warm_cpu = time.perf_counter() - began, time.process_time() - warm_cpu
    assert publication is not None
    result = {
        "wall": wall,
        "cpu": cpu,
        "warm_wall": warm,
        "warm_cpu": warm_cpu,
        "rss_baseline": baseline,
        "rss_peak": peak if reset else max(peak, rusage_after),
        "peak_reset": reset,
        "rusage_before": rusage_before,
        "rusage_after": rusage_after,
        "phases": first_phases,
        "warm_phases": dict(phases.seconds),
        "sequence": publication.id,
        "trusted": publication.trusted_count,
        "revoked": publication.revoked_count,
        "trust_list_length": publication.trust_list_length,
    }
    print("RESULT " + json.dumps(result))


def _timed_rebuild(service: Any) -> dict[str, Any]:
    """One change published as a delta (untimed), then the background rebuild, timed."""
    from django.utils import timezone

    from gateway.outbox.services import record_change
    from trustlist.models import SignerCertificate

    some = SignerCertificate.objects.order_by("id").values_list("thumbprint", flat=True).first()
    record_change(kind="BENCH", at=timezone.now(), thumbprint=some or "")  # one certificate "changed"
    service.publish()
    named_at: list[float] = []
    original = service._publish_locked  # noqa: SLF001 - timed from outside

    def publish_locked(**kwargs: Any) -> Any:
        result = original(**kwargs)
        if kwargs.get("named") is not None:
            named_at.append(time.perf_counter())  # the index naming the new full lists is in place
        return result

    service._publish_locked = publish_locked  # noqa: SLF001
    phases = _PhaseTimer(service)
    reset = _reset_peak_rss()
    baseline = _proc_status("VmRSS")
    began, cpu = time.perf_counter(), time.process_time()
    publication = service.rebuild_full()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = _proc_status("VmHWM")
    assert publication is not None, "nothing was rebuilt"
    return {
        "wall": wall,
        "cpu": cpu,
        "named": (named_at[0] - began) if named_at else None,
        "rss_baseline": baseline,
        "rss_peak": peak if reset else 0,
        "phases": dict(phases.seconds),
        "sequence": publication.id,
        "full_sequence": publication.full_sequence,
        "trusted": publication.trusted_count,
    }


def _proc_status(field: str) -> int:
    """VmRSS / VmHWM of this process in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0). ru_maxrss cannot be reset and, after the
    vfork + exec of subprocess, starts at the *parent's* peak RSS, so it is not used for the peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# Top-level phases of a publication or rebuild, then (indented) parts of them summed over artifacts.
PHASES = (
    ("snapshot", "take_full", "snapshot.take_full (every row, entries built)", True),
    ("snapshot", "take_changes", "snapshot.take_changes (outbox since the last, rows it names)", True),
    ("service", "_roll_forward", "roll the snapshot forward through deltas (rebuild)", True),
    ("artifacts", "write_full_lists", "full lists (JSON, JWS, gzip, write: streamed)", True),
    ("artifacts", "delta", "delta (JSON + JWS)", True),
    ("artifacts", "index", "index (JSON + JWS)", True),
    ("did", "write_did_document", "DID document (JSON, JWS, gzip, write)", True),
    ("files", "write_atomically", "small files written (delta, index: write, fsync)", True),
    ("stream", "write", "  streamed writes: file, SHA-256, gzip level 1", False),
    ("artifacts", "sign_digest", "  ECDSA signatures", False),
)


def _phase_targets(service: Any) -> list[tuple[Any, str, str, bool]]:
    owners = {
        "snapshot": service.snapshot,
        "artifacts": service.artifacts,
        "files": service.files,
        "did": service.did,
        "service": service,
        "stream": service.files.Stream,
    }
    return [(owners[owner], name, label, top) for owner, name, label, top in PHASES]


class _PhaseTimer:
    """Wrap the functions publish() calls and add up the wall time spent in each."""

    def __init__(self, service: Any) -> None:
        self.seconds: dict[str, float] = {}
        for owner, name, label, _ in _phase_targets(service):
            setattr(owner, name, self._wrap(getattr(owner, name), label))

    def _wrap(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - began

        return wrapper


def _traced_publication(service: Any) -> dict[str, Any]:
    """tracemalloc peak of one publication, and the peak within each top-level phase."""
    import tracemalloc

    phase_peaks: dict[str, int] = {}
    overall = [0]

    def checkpoint() -> int:
        peak = tracemalloc.get_traced_memory()[1]
        overall[0] = max(overall[0], peak)
        tracemalloc.reset_peak()
        return peak

    def wrap(function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            checkpoint()
            try:
                return function(*args, **kwargs)
            finally:
                phase_peaks[label] = max(phase_peaks.get(label, 0), checkpoint())

        return wrapper

    for owner, name, label, top_level in _phase_targets(service):
        if top_level:
            setattr(owner, name, wrap(getattr(owner, name), label))
    tracemalloc.start()
    began = time.perf_counter()
    service.publish(force=True, full=True)
    wall = time.perf_counter() - began
    checkpoint()
    tracemalloc.stop()
    return {"wall": wall, "peak": overall[0], "phase_peaks": phase_peaks}


# --- 2. artifact sizes ---------------------------------------------------------------------------------


def _artifact_sizes(root: Path) -> dict[str, int]:
    from publication.models import Publication

    latest = Publication.objects.published().newest()
    assert latest is not None
    folder = root / "sequences" / str(latest.full_sequence)
    files = {
        "trustlist.jws": folder / "trustlist.jws",
        "trustlist.jws.gz": folder / "trustlist.jws.gz",
        "revocations.jws": folder / "revocations.jws",
        "revocations.jws.gz": folder / "revocations.jws.gz",
        "delta.json (no change)": root / "sequences" / str(latest.id) / "delta.json",
        "index.jws": root / "index.jws",
        "did.json": root / "did.json",
        "did.json.gz": root / "did.json.gz",
    }
    return {label: path.stat().st_size for label, path in files.items() if path.exists()}


# --- 3. catch-up after N changes -------------------------------------------------------------------


def _upload(bench: SimpleNamespace, number: int, *, must_succeed: bool = True) -> tuple[Response, str, float]:
    from django.utils import timezone

    from gateway.pki.certs import thumbprint

    country = bench.countries[number % len(bench.countries)]
    dsc = country.dsc(at=timezone.now())
    body = country.cms_b64(dsc.der)
    began = time.perf_counter()
    response = call(
        bench.app, "POST", "/signerCertificate", headers=country.headers(), body=body, content_type="application/cms"
    )
    seconds = time.perf_counter() - began
    if must_succeed and response.status != 201:
        raise SystemExit(f"upload answered {response.status}: {response.body[:300]!r}")
    return response, thumbprint(dsc.der), seconds


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _catch_up(bench: SimpleNamespace, changes: int) -> dict[str, Any]:
    """N uploads, each published on commit (eager, as deltas); what a verifier at the old index
    downloads: the new index and the deltas after its sequence."""
    from publication.folder import published_sequence
    from tests.publishing import served_trust_list
    from verifier.chain import apply_delta, walk_chain
    from verifier.folder import folder_loader
    from verifier.index import verify_index

    old = verify_index((bench.root / "index.jws").read_bytes(), bench.anchors, _now())
    state = served_trust_list(bench.root, bench.anchors, _now())  # what a verifier at the old index holds
    uploads = []
    for number in range(changes):
        before = published_sequence(bench.root)
        _, _, seconds = _upload(bench, number)
        uploads.append(seconds)
        after = published_sequence(bench.root)
        assert after is not None, "nothing is published"
        assert before is None or after > before, "the upload was not published as a new sequence"
    new = verify_index((bench.root / "index.jws").read_bytes(), bench.anchors, _now(), previous=old)
    # Walked back from the head, each delta checked against its successor (or the index), the
    # oldest one against the head of the old index: what verifier.sync downloads.
    walked = walk_chain(new, old.sequence, folder_loader(bench.root, new, bench.anchors, _now()), link=old.head)
    deltas = [descriptor for descriptor, _ in walked]
    assert len(deltas) == changes, f"expected {changes} deltas after {old.sequence}"
    position = old.sequence
    downloaded = len(new.raw) + sum(descriptor.length for descriptor in deltas)
    for descriptor, delta in walked:
        assert delta["previous"] == position, "the delta chain has a gap"
        apply_delta(state, delta)
        position = descriptor.sequence
    assert state == served_trust_list(bench.root, bench.anchors, _now()), "old state + deltas != full lists + deltas"
    gz = bench.root / (new.trust_list.path + ".gz")
    gzipped = sum(len(gzip.compress((bench.root / d.path).read_bytes(), 6)) for d in deltas)
    return {
        "index": len(new.raw),
        "index_gz": len(gzip.compress(new.raw, 6)),
        "deltas": downloaded - len(new.raw),
        "deltas_gz": gzipped,
        "delta_lengths": [delta.length for delta in deltas],
        "downloaded": downloaded,
        "listed": new.sequence - new.chain_start,
        "trust_list": new.trust_list.length,
        "trust_list_gz": gz.stat().st_size if gz.exists() else 0,
        "upload_seconds": uploads,
    }


def _far_behind(bench: SimpleNamespace, changes: int) -> dict[str, Any]:
    """A verifier that misses ``changes`` uploads, more than the chain of deltas reaches, while the
    full lists are rebuilt every GATEWAY_PUBLISH_FULL_AFTER_DELTAS changes (as the background task
    does): it catches up by spans, then deltas, instead of the full lists."""
    from django.conf import settings

    from publication.service import rebuild_full
    from tests.publishing import served_trust_list
    from verifier.chain import apply_delta, walk_chain, walk_spans
    from verifier.folder import folder_loader
    from verifier.index import verify_index

    old = verify_index((bench.root / "index.jws").read_bytes(), bench.anchors, _now())
    state = served_trust_list(bench.root, bench.anchors, _now())
    every = settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS if settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS < changes else 50
    rebuilds = []
    for number in range(changes):
        _upload(bench, number)
        if (number + 1) % every == 0:
            began = time.perf_counter()
            assert rebuild_full() is not None
            rebuilds.append(time.perf_counter() - began)
    began = time.perf_counter()
    rebuild_full()
    rebuilds.append(time.perf_counter() - began)
    new = verify_index((bench.root / "index.jws").read_bytes(), bench.anchors, _now(), previous=old)
    assert not new.reaches(old.sequence), "still within the chain of deltas: raise --far-changes"
    assert new.spans_from(old.sequence), "no chain of spans reaches the verifier"
    assert new.span is not None
    now = _now()
    spans = walk_spans(new, old.sequence, folder_loader(bench.root, new, bench.anchors, now, kind="span"))
    deltas = walk_chain(new, new.span.sequence, folder_loader(bench.root, new, bench.anchors, now), check_link=False)
    for _, payload in [*spans, *deltas]:
        apply_delta(state, payload)
    assert state == served_trust_list(bench.root, bench.anchors, _now()), "spans + deltas != full lists + deltas"
    span_bytes = sum(descriptor.length for descriptor, _ in spans)
    delta_bytes = sum(descriptor.length for descriptor, _ in deltas)
    return {
        "changes": changes,
        "behind": new.sequence - old.sequence,
        "chain": new.sequence - new.chain_start,
        "index": len(new.raw),
        "spans": [descriptor.length for descriptor, _ in spans],
        "span_bytes": span_bytes,
        "span_gz": sum(len(gzip.compress((bench.root / d.path).read_bytes(), 6)) for d, _ in spans),
        "deltas": len(deltas),
        "delta_bytes": delta_bytes,
        "downloaded": len(new.raw) + span_bytes + delta_bytes,
        "full": new.trust_list.length + new.revocation_list.length,
        "trust_list_gz": (bench.root / (new.trust_list.path + ".gz")).stat().st_size,
        "rebuild_seconds": rebuilds,
    }


def _print_far_behind(far: dict[str, Any]) -> None:
    print(
        f"\nFar behind: a verifier that missed {far['changes']:,} uploads ({far['behind']:,} sequences; the chain of "
        f"deltas reaches {far['chain']:,} back) downloads the index {_bytes(far['index'])}, {len(far['spans'])} spans "
        f"{_bytes(far['span_bytes'])} (each {min(far['spans']):,}-{max(far['spans']):,} B; gzip "
        f"{_bytes(far['span_gz'])}) and {far['deltas']} deltas {_bytes(far['delta_bytes'])}: "
        f"{_bytes(far['downloaded'])} = {far['downloaded'] / far['full']:.1%} of the full lists "
        f"({_bytes(far['full'])}; trust list .gz {_bytes(far['trust_list_gz'])}). Replayed onto its old state: equal "
        f"to the full lists + deltas. {len(far['rebuild_seconds'])} rebuilds (full lists, span, index, DID document), "
        f"median {statistics.median(far['rebuild_seconds']):.2f} s."
    )
    sys.stdout.flush()


# --- 4. commit-to-visible with a Celery worker -------------------------------------------------------


@contextlib.contextmanager
def _broker(url: str) -> Iterator[None]:
    """Queue this process's tasks on ``url`` instead of running them eagerly, and use that Redis
    as the cache (the publication-pending flag lives there), as a web process does in production."""
    from django.test import override_settings

    from gateway.celery import app as celery_app

    def reset() -> None:
        celery_app.close()
        celery_app.amqp._producer_pool = None  # noqa: SLF001 - Celery caches its producer pool

    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager")}
    reset()
    celery_app.conf.update(broker_url=url, task_always_eager=False)
    cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    try:
        with override_settings(CACHES=cache, CELERY_TASK_ALWAYS_EAGER=False):
            yield
    finally:
        reset()
        celery_app.conf.update(saved)


@contextlib.contextmanager
def _worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A gateway worker --concurrency 2`` (prefork, as scripts/stack.py runs it): one
    process can rebuild the full lists while the other publishes changes."""
    from tests import processes

    arguments = [sys.executable, "-m", "celery", "-A", "gateway", "worker", "--loglevel", "INFO", "--concurrency", "2"]
    arguments += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log, "wb") as output:
        process = subprocess.Popen(arguments, cwd=common.ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        processes.wait_for(lambda: b"ready." in log.read_bytes(), timeout=60, what=f"celery worker (log {log})")
        yield process
    finally:
        processes.stop(process)


class _Follower:
    """A verifier that follows the served index by its deltas, through the WSGI app."""

    def __init__(self, bench: SimpleNamespace) -> None:
        from verifier.index import verify_index

        self.bench = bench
        response = call(bench.app, "GET", "/publication/index.jws")
        self.index = verify_index(response.body, bench.anchors, _now())
        self.etag = response.headers["ETag"]
        self.bytes = 0

    def poll(self, thumb: str) -> bool:
        """Download a newer index and the deltas after the held sequence; True if one holds ``thumb``."""
        from verifier.chain import walk_chain
        from verifier.index import verify_index, verify_named

        bench = self.bench
        response = call(bench.app, "GET", "/publication/index.jws", headers={"HTTP_IF_NONE_MATCH": self.etag})
        if response.status == 304:
            return False
        index = verify_index(response.body, bench.anchors, _now(), previous=self.index)
        if not index.reaches(self.index.sequence):
            raise SystemExit(f"sequence {self.index.sequence} fell out of the window of index {index.sequence}")

        def load(descriptor: Any) -> dict[str, Any]:
            served = call(bench.app, "GET", f"/publication/{descriptor.path}")
            self.bytes += len(served.body)
            return verify_named(
                served.body, descriptor, index, bench.anchors, _now(), kind="delta", sequence=descriptor.sequence
            )

        found, position = False, self.index.sequence
        for descriptor, delta in walk_chain(index, self.index.sequence, load, link=self.index.head):
            assert delta["previous"] == position, "the delta chain has a gap"
            position = descriptor.sequence
            found = found or any(entry["thumbprint"] == thumb for entry in delta["upsert"])
        self.index, self.etag = index, response.headers["ETag"]
        self.bytes += len(response.body)
        return found


def _commit_to_visible(bench: SimpleNamespace, size: int, repeats: int) -> dict[str, Any]:
    from gateway.outbox.signals import change_committed
    from tests import processes

    commits: list[float] = []

    def on_commit(**_: object) -> None:
        commits.append(time.perf_counter())

    change_committed.connect(on_commit, weak=False, dispatch_uid="bench-commit-time")
    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    log = bench.workdir / f"worker-{size}.log"
    worker_env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_PUBLISH_FULL_")}
    worker_env.update(REDIS_URL=url, LOG_LEVEL="INFO")  # the rebuild policy at its defaults
    redis = processes.start_redis(port)
    latencies: list[float] = []
    gaps: list[float] = []
    began = time.perf_counter()
    try:
        with _worker(worker_env, log), _broker(url):
            follower = _Follower(bench)
            for number in range(repeats + 1):  # the first one warms the worker up and is not counted
                commits.clear()
                _, thumb, _ = _upload(bench, 1000 + number)
                answered = time.perf_counter()
                assert len(commits) == 1, "expected one committed change per upload"
                seen = _wait_visible(follower, thumb)
                if number:
                    latencies.append(seen - commits[0])
                    gaps.append(answered - commits[0])
                time.sleep(bench.args.visible_pause)
            ran = time.perf_counter() - began
            time.sleep(1)  # let a rebuild that started finish logging
    finally:
        processes.stop(redis)
        change_committed.disconnect(dispatch_uid="bench-commit-time")
    text = log.read_bytes()
    task_seconds = [float(v) for v in re.findall(rb"publish_changes\[[^]]+\] succeeded in ([0-9.]+)s", text)]
    rebuilds = [float(v) for v in re.findall(rb"rebuild_full_lists\[[^]]+\] succeeded in ([0-9.]+)s", text)]
    return {
        "latencies": latencies,
        "gaps": gaps,
        "task_seconds": task_seconds[1:],
        "rebuilds": rebuilds,
        "seconds": ran,
        "follower_bytes": follower.bytes,
    }


def _wait_visible(follower: _Follower, thumb: str, timeout: float = 300.0) -> float:
    """Poll every 10 ms until the follower has verified a delta that holds ``thumb``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if follower.poll(thumb):
            return time.perf_counter()
        time.sleep(0.01)
    raise SystemExit(f"the upload was not published within {timeout:.0f} s")


# --- 6. the request path: asking for a publication after a commit ----------------------------------------


def _request_path(bench: SimpleNamespace, args: argparse.Namespace) -> dict[str, float]:
    """Microseconds per call, in this process, with the tasks queued to a private Redis (no worker)."""
    from django.core.cache import cache

    from publication import tasks
    from tests import processes

    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = processes.start_redis(port)
    count = args.requests
    figures: dict[str, float] = {}
    try:
        with _broker(url):
            tasks.publish_changes.delay()  # connect once
            began = time.perf_counter()
            for _ in range(count):
                tasks.publish_changes.delay()
            figures["queue every time (before)"] = (time.perf_counter() - began) / count
            cache.set(tasks.PENDING, 1, 600)
            began = time.perf_counter()
            for _ in range(count):
                tasks.request_publication()
            figures["request_publication(), a publication pending"] = (time.perf_counter() - began) / count
            began = time.perf_counter()
            for _ in range(count):
                cache.delete(tasks.PENDING)  # as the task does when it starts: untimed below
                tasks.request_publication()
            with_delete = (time.perf_counter() - began) / count
            began = time.perf_counter()
            for _ in range(count):
                cache.delete(tasks.PENDING)
            figures["request_publication(), none pending (queues one)"] = (
                with_delete - (time.perf_counter() - began) / count
            )
            cache.delete(tasks.PENDING)
    finally:
        processes.stop(redis)
    return figures


# --- extra: an upload while a publication runs ------------------------------------------------------


def _upload_during_publication(bench: SimpleNamespace, args: argparse.Namespace) -> dict[str, Any]:
    """Latency of one upload alone, then of one sent 0.2 s after another process started publishing.

    Neither upload queues a publication; the next publication drains them.
    """
    with _no_publication_on_commit():
        alone = _upload(bench, 3000)[2]
    sys.stdout.flush()
    process = subprocess.Popen(
        [sys.executable, __file__, "--db", args.db, "--child", "once"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    assert process.stdout is not None
    started = 0.0
    for line in process.stdout:
        if line.startswith("PUBLISHING "):
            started = float(line.split()[1])
            break
    time.sleep(0.2)
    upload_start = time.time()
    with _no_publication_on_commit():
        response, _, during = _upload(bench, 3001, must_succeed=False)
    output, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"the publishing process failed ({process.returncode})")
    child = next(json.loads(line[7:]) for line in output.splitlines() if line.startswith("RESULT "))
    ended = child["ended"]
    return {
        "error": child["error"],
        "alone": alone,
        "during": during,
        "status": response.status,
        "publishing": ended - started,
        "overlapped": upload_start < ended,
        "finished_after_publication": upload_start + during > ended,
    }


# --- 5. conditional GETs ---------------------------------------------------------------------------


def _conditional_gets(bench: SimpleNamespace, args: argparse.Namespace) -> list[dict[str, Any]]:
    from verifier.index import verify_index

    index_response = call(bench.app, "GET", "/publication/index.jws")
    index = verify_index(index_response.body, bench.anchors, _now())
    trust_path = f"/publication/{index.trust_list.path}"
    figures = []

    def first(path: str, **headers: str) -> tuple[str, float]:
        began = time.perf_counter()
        response = call(bench.app, "GET", path, headers=headers)
        seconds = time.perf_counter() - began
        assert response.status == 200
        return response.headers["ETag"], seconds

    index_etag, _ = first("/publication/index.jws")
    trust_etag, trust_first = first(trust_path)
    gzip_etag, gzip_first = first(trust_path, HTTP_ACCEPT_ENCODING="gzip")
    cases = [
        (
            "GET /publication/index.jws, If-None-Match",
            "/publication/index.jws",
            {"HTTP_IF_NONE_MATCH": index_etag},
            304,
            args.requests,
            None,
        ),
        (
            "GET trust list, If-None-Match",
            trust_path,
            {"HTTP_IF_NONE_MATCH": trust_etag},
            304,
            args.requests,
            trust_first,
        ),
        (
            "GET trust list .gz, If-None-Match",
            trust_path,
            {"HTTP_IF_NONE_MATCH": gzip_etag, "HTTP_ACCEPT_ENCODING": "gzip"},
            304,
            args.requests,
            gzip_first,
        ),
        ("GET /publication/index.jws (full)", "/publication/index.jws", {}, 200, args.full_requests, None),
    ]
    for label, path, headers, status, count, first_seconds in cases:
        latencies = []
        began = time.perf_counter()
        for _ in range(count):
            start = time.perf_counter()
            response = call(bench.app, "GET", path, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status != status:
                raise SystemExit(f"{label}: expected {status}, got {response.status}")
        elapsed = time.perf_counter() - began
        figures.append(
            {
                "label": label,
                "count": count,
                "per_second": count / elapsed,
                "summary": summarize(latencies),
                "bytes": len(response.body),
                "first": first_seconds,
            }
        )
    return figures


# --- printing ------------------------------------------------------------------------------------------


def _mib(value: float) -> str:
    return f"{value / MIB:,.1f} MiB"


def _bytes(value: float) -> str:
    return f"{value:,.0f} B" if value < 100_000 else f"{value:,.0f} B ({value / 1e6:.1f} MB)"


def _print_publish(publish: dict[str, Any]) -> None:
    trace = publish["trace"]
    print(
        f"\nPublication (fresh process, sequence {publish['sequence']}: {publish['trusted']:,} trusted entries "
        f"incl. CSCAs, {publish['revoked']:,} revoked):\n"
    )
    print(
        table(
            ["figure", "value"],
            [
                [
                    "publish(force=True, full=True), first in a fresh process: wall / CPU",
                    f"{publish['wall']:.2f} s / {publish['cpu']:.2f} s",
                ],
                [
                    "publish(force=True, full=True), second in the same process: wall / CPU",
                    f"{publish['warm_wall']:.2f} s / {publish['warm_cpu']:.2f} s",
                ],
                ["peak RSS during the publication (VmHWM)", _mib(publish["rss_peak"])],
                ["RSS before publishing (Django set up, connected)", _mib(publish["rss_baseline"])],
                [
                    "RSS growth during the publication (peak - before)",
                    _mib(publish["rss_peak"] - publish["rss_baseline"]),
                ],
                [
                    "ru_maxrss before / after (before = parent's RSS at spawn)",
                    f"{_mib(publish['rusage_before'])} / {_mib(publish['rusage_after'])}",
                ],
                ["tracemalloc peak (Python heap allocated by publish)", _mib(trace["peak"])],
                ["publish(force=True, full=True) under tracemalloc", f"{trace['wall']:.2f} s"],
            ],
        )
    )
    print()
    rows = []
    for _, _, label, _ in PHASES:
        peak = trace["phase_peaks"].get(label)
        rows.append(
            [
                label,
                f"{publish['phases'].get(label, 0.0):.3f}",
                f"{publish['warm_phases'].get(label, 0.0):.3f}",
                _mib(peak) if peak is not None else "",
            ]
        )
    covered = sum(seconds for label, seconds in publish["phases"].items() if not label.startswith(" "))
    warm_covered = sum(seconds for label, seconds in publish["warm_phases"].items() if not label.startswith(" "))
    rows.append(
        [
            "other (lock, reservation, outbox update, audit, checkpoint, prune)",
            f"{publish['wall'] - covered:.3f}",
            f"{publish['warm_wall'] - warm_covered:.3f}",
            "",
        ]
    )
    print(table(["phase of the publication", "s (first)", "s (second)", "tracemalloc peak in phase"], rows))
    if without := publish.get("without_did"):
        growth = without["rss_peak"] - without["rss_baseline"]
        print(
            f"\nThe same with GATEWAY_PUBLISH_DID=false (fresh process): {without['wall']:.2f} s first, "
            f"{without['warm_wall']:.2f} s second; peak RSS {_mib(without['rss_peak'])} (growth {_mib(growth)})."
        )
    sys.stdout.flush()


def _print_rebuild(rebuild: dict[str, Any]) -> None:
    named = f"{rebuild['named']:.2f} s" if rebuild["named"] is not None else "-"
    print(
        f"\nBackground rebuild (fresh process; one change published as a delta first): rebuild_full() "
        f"{rebuild['wall']:.2f} s wall, {rebuild['cpu']:.2f} s CPU; the index naming the full lists of "
        f"{rebuild['full_sequence']} ({rebuild['trusted']:,} entries) was in place after {named}, the DID document "
        f"after that; peak RSS {_mib(rebuild['rss_peak'])} "
        f"(growth {_mib(rebuild['rss_peak'] - rebuild['rss_baseline'])}).\n"
    )
    rows = [
        [label, f"{rebuild['phases'].get(label, 0.0):.3f}"] for _, _, label, _ in PHASES if label in rebuild["phases"]
    ]
    covered = sum(seconds for label, seconds in rebuild["phases"].items() if not label.startswith(" "))
    rows.append(["other (locks, delta publication first, index, audit, prune)", f"{rebuild['wall'] - covered:.3f}"])
    print(table(["phase of the rebuild", "s"], rows))
    sys.stdout.flush()


def _print_catch_up(catch: dict[str, Any]) -> None:
    gz = catch["index_gz"] + catch["deltas_gz"]
    print(
        f"\nCatch-up after {len(catch['delta_lengths'])} uploads (each its own sequence; the chain of deltas "
        f"reaches {catch['listed']} sequences back): index {_bytes(catch['index'])} + deltas {_bytes(catch['deltas'])} "
        f"(each {min(catch['delta_lengths']):,}-{max(catch['delta_lengths']):,} B) = {_bytes(catch['downloaded'])}: "
        f"{catch['downloaded'] / catch['trust_list']:.3%} of the trust list JWS ({_bytes(catch['trust_list'])}). "
        f"Gzip-encoded on the wire (level 6): index {catch['index_gz']:,} B + deltas {catch['deltas_gz']:,} B = "
        f"{gz:,} B, {gz / catch['trust_list_gz']:.3%} of the trust list's .gz ({_bytes(catch['trust_list_gz'])}). "
        f"Deltas verified and replayed onto the old state: equal to the full lists of F + the deltas from F. "
        f"Upload + eager delta publication per request: "
        f"median {statistics.median(catch['upload_seconds']) * 1000:.0f} ms."
    )
    sys.stdout.flush()


def _print_visible(visible: dict[str, Any]) -> None:
    stats = summarize(visible["latencies"])
    tasks = visible["task_seconds"]
    worker = (
        f" The worker's publish_changes tasks took p50 {statistics.median(tasks) * 1000:.0f} ms, "
        f"max {max(tasks) * 1000:.0f} ms ({len(tasks)} tasks)."
        if tasks
        else ""
    )
    rebuilds = visible["rebuilds"]
    background = (
        f" Meanwhile the worker rebuilt the full lists {len(rebuilds)} time(s), "
        f"{', '.join(f'{seconds:.2f}' for seconds in rebuilds)} s."
        if rebuilds
        else " No rebuild of the full lists ran meanwhile."
    )
    print(
        f"\nCommit-to-visible with a Celery worker (prefork, 2 processes; {stats.count} uploads after one warm-up, "
        f"{visible['seconds']:.0f} s): p50 {stats.p50_ms / 1000:.3f} s, p95 {stats.p95_ms / 1000:.3f} s, "
        f"max {stats.max_ms / 1000:.3f} s, min {stats.min_ms / 1000:.3f} s (commit to 201: max "
        f"{max(visible['gaps']) * 1000:.0f} ms).{worker}{background}"
    )
    sys.stdout.flush()


def _print_trigger(trigger: dict[str, float]) -> None:
    print()
    rows = [[label, f"{seconds * 1e6:,.0f}"] for label, seconds in trigger.items()]
    print(table(["after a commit, in the request (Redis broker and cache)", "µs per call"], rows))
    sys.stdout.flush()


def _print_gets(gets: list[dict[str, Any]]) -> None:
    rows = []
    for figure in gets:
        stats = figure["summary"]
        rows.append(
            [
                figure["label"],
                figure["count"],
                f"{figure['per_second']:,.0f}",
                f"{stats.p50_ms:.3f}",
                f"{stats.p95_ms:.3f}",
                f"{figure['first'] * 1000:.0f} ms" if figure["first"] is not None else "",
                _bytes(figure["bytes"]),
            ]
        )
    print()
    header = ["request (WSGI, in-process)", "n", "per s", "p50 ms", "p95 ms", "first 200 (ETag computed)", "body"]
    print(table(header, rows))
    sys.stdout.flush()


def _print_concurrent(concurrent: dict[str, Any]) -> None:
    publishing, during, alone = concurrent["publishing"], concurrent["during"] * 1000, concurrent["alone"] * 1000
    error = concurrent["error"]
    outcome = f"FAILED ({error})" if error else "committed"
    if not concurrent["overlapped"]:
        print(f"\nExtra: the publication ({publishing:.2f} s, {outcome}) ended before the concurrent upload started.")
        return
    print(
        f"\nExtra: an upload sent 0.2 s after another process started publishing answered {concurrent['status']} "
        f"in {during:,.0f} ms (alone: {alone:.0f} ms). The publication ({publishing:.2f} s): {outcome}."
    )
    sys.stdout.flush()


def _print_summary(db: str, results: dict[int, dict[str, Any]]) -> None:
    print(f"\n### Summary — {db}\n")
    rows = []
    for size, result in results.items():
        publish, sizes, catch = result.get("publish"), result.get("sizes"), result.get("catch_up")
        visible, gets, concurrent = result.get("visible"), result.get("gets"), result.get("concurrent")
        rebuild = result.get("rebuild")
        stats = summarize(visible["latencies"]) if visible else None
        rss = (publish["rss_peak"], publish["rss_peak"] - publish["rss_baseline"]) if publish else None
        rows.append(
            [
                f"{size:,}",
                f"{publish['wall']:.2f} / {publish['cpu']:.2f}" if publish else "-",
                f"{rebuild['wall']:.2f} / {rebuild['cpu']:.2f} ({rebuild['named']:.2f})" if rebuild else "-",
                f"{rss[0] / MIB:,.0f} / {rss[1] / MIB:,.0f}" if rss else "-",
                f"{publish['trace']['peak'] / MIB:,.0f}" if publish else "-",
                f"{sizes['trustlist.jws'] / 1e6:.2f} / {sizes['trustlist.jws.gz'] / 1e6:.2f}" if sizes else "-",
                f"{sizes['did.json'] / 1e6:.2f}" if sizes else "-",
                f"{catch['downloaded']:,} ({catch['downloaded'] / catch['trust_list']:.2%})" if catch else "-",
                f"{stats.p50_ms / 1000:.3f} / {stats.p95_ms / 1000:.3f} / {stats.max_ms / 1000:.3f}" if stats else "-",
                f"{gets[0]['per_second']:,.0f} / {gets[1]['per_second']:,.0f}" if gets else "-",
                ("FAILED" if concurrent["error"] else "ok") if concurrent and concurrent["overlapped"] else "-",
            ]
        )
    header = [
        "DSCs",
        "full publication s (wall / CPU)",
        "rebuild s (wall / CPU (index named))",
        "peak RSS / growth MiB",
        "tracemalloc MiB",
        "trust list / .gz MB",
        "did.json MB",
        "catch-up B (% of list)",
        "commit-to-visible p50 / p95 / max s",
        "304/s index / trust list",
        "publication with a concurrent upload",
    ]
    print(table(header, rows))
    print()
    scope = "" if db == "postgres" else " (targets are for PostgreSQL; shown for comparison)"
    publish = results.get(TARGET_SIZE, {}).get("publish")
    if publish:
        print(
            f"- Target {TARGET_SIZE:,} DSCs published in < {PUBLISH_TARGET_S:.0f} s: "
            f"{'met' if publish['wall'] < PUBLISH_TARGET_S else 'NOT met'} ({publish['wall']:.2f} s){scope}"
        )
        print(
            f"- Target {TARGET_SIZE:,} DSCs published in < 1 GiB (peak RSS): "
            f"{'met' if publish['rss_peak'] < MEMORY_TARGET_BYTES else 'NOT met'} ({_mib(publish['rss_peak'])}; "
            f"tracemalloc peak {_mib(publish['trace']['peak'])}){scope}"
        )
    for size, result in results.items():
        if catch := result.get("catch_up"):
            share = catch["downloaded"] / catch["trust_list"]
            print(
                f"- Target catch-up after {len(catch['delta_lengths'])} changes < {CATCH_UP_TARGET:.0%} of the full "
                f"list, {size:,} DSCs: {'met' if share < CATCH_UP_TARGET else 'NOT met'} ({share:.3%}){scope}"
            )
    for size, result in results.items():
        if visible := result.get("visible"):
            stats = summarize(visible["latencies"])
            print(
                f"- Target commit-to-visible < {VISIBLE_TARGET_S:.0f} s, {size:,} DSCs (judged on max): "
                f"{'met' if stats.max_ms / 1000 < VISIBLE_TARGET_S else 'NOT met'} "
                f"(p50 {stats.p50_ms / 1000:.3f} s, p95 {stats.p95_ms / 1000:.3f} s, max {stats.max_ms / 1000:.3f} s)"
                f"{scope}"
            )
    for size, result in results.items():
        if rebuild := result.get("rebuild"):
            print(
                f"- Background rebuild of the full lists and did.json, {size:,} DSCs: {rebuild['wall']:.2f} s "
                f"(< {PUBLISH_TARGET_S:.0f} s: {'met' if rebuild['wall'] < PUBLISH_TARGET_S else 'NOT met'}), "
                f"peak RSS {_mib(rebuild['rss_peak'])}{scope}"
            )


if __name__ == "__main__":
    main()
