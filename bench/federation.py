"""Following a peer gateway of this kind at scale on PostgreSQL (issue 20): docs/federation.md,
"Measurements".

    .venv/bin/python bench/federation.py                      # 100,000 DSCs, ~5 min with seeding
    .venv/bin/python bench/federation.py --size 20000 --visible-trials 3 --profile   # quick, cProfile

Two gateways, each in processes of its own with its own database, publish folder, publisher key
and trust anchor:

- **the peer** (``fedbench_a``, id ``peer-a.example``, countries XP, XQ, XR) is one long-lived
  child process: it seeds ``--size`` DSCs issued by its countries' CSCAs (real certificates, one
  EC key per 64 of them; rows written with ``gateway.dbwrite.insert_many``, i.e. COPY,
  **bypassing the upload path's checks**, so they carry no upload CMS: a publication entry has
  none anyway), publishes once (full lists), then makes changes on request through the product's
  services (``upload_signer_certificate`` with a CMS signed by the country's UPLOAD key,
  ``revoke_by_person``) and publishes each time. Its publish folder is served over HTTP by
  ``python -m http.server`` on a free loopback port (never 8000), as a mirror would serve it.
- **here** (``fedbench_b``, id ``here-b.example``, countries XA, XB, XC) follows the peer: the
  operator's configuration as in production (``federation.services.add_peer`` with the
  statement signed by this gateway's trust anchor), the peer's publication fetched with the
  verifier's ``http_fetch``.

Measured, each sync in a fresh process (``federation.services.sync_peer``, as the Celery task
calls it; the publication the import's outbox change asks for is left out and timed on its own):

1. **First import**: wall and CPU time (process, PostgreSQL backend), peak RSS (VmHWM), bytes
   downloaded (the sync's own count, in its audit event).
2. **Follow-up** after ``--changes`` changes at the peer (half new DSCs uploaded, half revoked),
   then one publication by the peer: the same figures, as a share of the first. Then a second
   follow-up after as many changes again: the first follow-up is also the first to read the
   imported rows after their commit (PostgreSQL sets their hint bits; autovacuum has not yet
   visited them), the second shows a sync in the steady state.
3. **Change to visible here** (the last change made just after a scheduled sync, so that it
   waits for nearly the whole interval): the peer on a schedule (``--interval`` seconds) and a loop that
   does what Celery beat and an eager worker do (``federation.tasks.sync_due_peers`` every
   ``GATEWAY_FEDERATION_TICK_SECONDS``, on a fixed schedule; the sync, then this gateway's
   publication of what it imported, in the same process). At random moments the peer uploads one
   DSC and publishes it; a verifier polling this gateway's publish folder every 20 ms (the
   verifier's ``catch_up`` from the index it holds: the index and the deltas since, verified)
   sees it. The time from the peer's publication being in place to this
   gateway's being in place, for each of ``--visible-trials`` changes and the last one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import banner, log_summary, parser, table

PEER_DB = "fedbench_a"
HERE_DB = "fedbench_b"
PEER_ID = "peer-a.example"
HERE_ID = "here-b.example"
PEER_COUNTRIES = ("XP", "XQ", "XR")
HERE_COUNTRIES = ("XA", "XB", "XC")
KEYS_EVERY = 64  # DSCs per EC key: key generation is not what is measured
FIRST_SECONDS_TARGET = 30.0
FIRST_RSS_TARGET = 1 << 30  # 1 GiB
FOLLOW_UP_SHARE_TARGET = 0.01
VISIBLE_SLACK_TARGET = 2.0  # seconds over the interval
MIB = 1 << 20


def main() -> None:
    arguments = parser("Benchmark following a peer gateway: first import, follow-up sync, change to visible.")
    arguments.set_defaults(db="postgres")
    arguments.add_argument("--size", type=int, default=100_000, help="DSCs at the peer (default 100,000)")
    arguments.add_argument("--changes", type=int, default=10, help="changes before the follow-up sync (default 10)")
    arguments.add_argument("--interval", type=int, default=10, help="the peer's sync interval in seconds (default 10)")
    arguments.add_argument(
        "--visible-trials", type=int, default=6, help="changes at random moments timed to visible (default 6; +1)"
    )
    arguments.add_argument("--keep", action="store_true", help="keep the databases and temporary folders")
    arguments.add_argument("--child", choices=("peer", "sync", "publish", "beat"), help=argparse.SUPPRESS)
    arguments.add_argument("--peer-pk", type=int, help=argparse.SUPPRESS)
    args = arguments.parse_args()
    if args.child:
        {"peer": _peer_child, "sync": _sync_child, "publish": _publish_child, "beat": _beat_child}[args.child](args)
        return
    if args.db != "postgres":
        raise SystemExit("this benchmark seeds the peer with PostgreSQL COPY: --db postgres only")
    _run(args)


# --- environments -------------------------------------------------------------------------------


def _database_url(name: str) -> str:
    return common.POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgres://") + f"/{name}"


def _recreate(name: str) -> None:
    import psycopg

    with psycopg.connect(common.POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _common_environment(folder: Path) -> dict[str, str]:
    """Settings both gateways share: no broker (eager tasks), no background rebuild of the full
    lists after every publication (with a broker it runs in the background and does not delay a
    delta; eagerly it would run inline and be measured as part of every change)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DATABASE_URL", "REDIS_URL"))}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "gateway.settings",
        "GATEWAY_VAR_DIR": str(folder),
        "GATEWAY_PUBLISH_DIR": str(folder / "publish"),
        "GATEWAY_PUBLISHER_KEY_DIR": str(folder / "publisher"),
        "GATEWAY_TRUSTED_PROXIES": f"{common.PROXY}/32",
        "GATEWAY_TRUST_ANCHOR_FILES": str(folder / "trust-anchor.pem"),
        "GATEWAY_PUBLISH_FULL_AFTER_SECONDS": "86400",
        "GATEWAY_PUBLISH_FULL_AFTER_DELTAS": "100000",
        "LOG_LEVEL": "WARNING",
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if port == 8000:  # kept for the demo server
        return _free_port()
    return int(port)


# --- the parent: here, the peer's process and its HTTP server --------------------------------------


def _run(args: argparse.Namespace) -> None:
    from tests.factory import Pki

    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-federation-"))
    peer_folder, here_folder = folder / "peer", folder / "here"
    for path in (peer_folder, here_folder):
        (path / "static").mkdir(parents=True)
    pki = Pki.create()
    (here_folder / "trust-anchor.pem").write_bytes(pki.ta.cert_pem)
    peer = _start_peer(args, peer_folder)
    try:
        _recreate(HERE_DB)
        here_env = {
            **_common_environment(here_folder),
            "DATABASE_URL": _database_url(HERE_DB),
            "GATEWAY_FEDERATION_ID": HERE_ID,
        }
        os.environ.clear()
        os.environ.update(here_env)
        env = _setup_here()
        banner("Federation: following a peer gateway", env)
        ready = _read_line(peer)
        print(
            f"The peer: {args.size:,} DSCs of {', '.join(PEER_COUNTRIES)} seeded in {ready['seed_seconds']:.1f} s "
            f"(COPY), its first publication (full lists) in {ready['publish_seconds']:.1f} s: trust list "
            f"{ready['trust_list_bytes']:,} bytes ({ready['trust_list_bytes'] / args.size:,.0f} B per DSC). "
            f"Here: {', '.join(HERE_COUNTRIES)} onboarded (not the peer's countries: nothing is kept aside).\n"
        )
        sys.stdout.flush()
        server = _serve(peer_folder / "publish")
        try:
            endpoint = f"http://127.0.0.1:{server.port}/"
            peer_pk = _configure(pki, ready["trust_anchor_pem"], endpoint)
            results = _measure(args, peer, peer_pk, here_env, here_folder)
        finally:
            server.process.terminate()
            server.process.wait()
    finally:
        if peer.poll() is None:
            peer.stdin.write("quit\n")  # type: ignore[union-attr]
            peer.stdin.flush()  # type: ignore[union-attr]
            peer.wait(timeout=60)
    _print(args, results)
    print()
    print(log_summary())
    sys.stdout.flush()
    from django.db import connections

    connections.close_all()
    if args.keep:
        print(f"\nKept: {folder}, databases {PEER_DB} and {HERE_DB}")
        return
    shutil.rmtree(folder, ignore_errors=True)
    import psycopg

    with psycopg.connect(common.POSTGRES_ADMIN_URL, autocommit=True) as connection:
        for name in (PEER_DB, HERE_DB):
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _setup_here() -> common.Environment:
    import django
    from django.core.management import call_command

    django.setup()
    import gateway.wsgi  # noqa: F401 - as common.setup_django: logging configured the same way

    common._count_log_records()  # noqa: SLF001 - the shared plumbing's log counter
    call_command("migrate", interactive=False, verbosity=0)
    return common.Environment(
        "postgres", os.environ["DATABASE_URL"], Path(os.environ["GATEWAY_VAR_DIR"]), Path("trust-anchor.pem")
    )


def _configure(pki: Any, peer_anchor_pem: str, endpoint: str) -> int:
    """Here's countries onboarded, its publisher key, and the peer configured as an operator does
    (its statement signed by here's trust anchor: ta_sign_peer)."""
    from django.utils import timezone

    from federation import services, statements
    from federation.models import PeerKind
    from tests.publishing import install_publisher

    install_publisher(pki, at=timezone.now())
    for code in HERE_COUNTRIES:
        pki.country(code)
    anchor = statements.trust_anchor_der(peer_anchor_pem)
    data = statements.statement(PEER_ID, PeerKind.GATEWAY, endpoint, anchor)
    peer = services.add_peer(
        gateway_id=PEER_ID,
        name="Peer A",
        kind=PeerKind.GATEWAY,
        endpoint=endpoint,
        trust_anchor_pem=peer_anchor_pem,
        signature=statements.sign(data, pki.ta.certificate, pki.ta.key),
        interval_seconds=None,
        actor="bench",
        at=timezone.now(),
    )
    from publication.service import publish

    publish(force=True, full=True)  # here's own first publication, before anything is imported
    return int(peer.pk)


class _Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process, self.port = process, port


def _serve(root: Path) -> _Server:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return _Server(process, port)
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the peer's HTTP server did not start")


def _start_peer(args: argparse.Namespace, folder: Path) -> subprocess.Popen[str]:
    env = {
        **_common_environment(folder),
        "DATABASE_URL": _database_url(PEER_DB),
        "GATEWAY_FEDERATION_ID": PEER_ID,
        "GATEWAY_VIRTUAL_COUNTRIES": ",".join(PEER_COUNTRIES),
    }
    command = [sys.executable, __file__, "--child", "peer", "--size", str(args.size)]
    return subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _read_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The child's next RESULT line (other lines are printed as they come)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("RESULT "):
            return dict(json.loads(line.removeprefix("RESULT ")))
        print(line, end="")
    raise SystemExit(f"the child process ended ({process.wait()}) without a result")


def _ask_peer(peer: subprocess.Popen[str], command: str) -> dict[str, Any]:
    assert peer.stdin is not None
    peer.stdin.write(command + "\n")
    peer.stdin.flush()
    return _read_line(peer)


def _child_run(args: argparse.Namespace, mode: str, env: dict[str, str], *extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, *extra]
    if args.profile and mode == "sync":
        command.append("--profile")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    result = _read_line(process)
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="")
    if process.wait() != 0:
        raise SystemExit(f"--child {mode} failed")
    return result


# --- measuring ----------------------------------------------------------------------------------------


def _measure(
    args: argparse.Namespace, peer: subprocess.Popen[str], peer_pk: int, env: dict[str, str], folder: Path
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    results["first"] = _child_run(args, "sync", env, "--peer-pk", str(peer_pk))
    results["publish"] = _child_run(args, "publish", env)
    results["changes"] = _ask_peer(peer, f"change {args.changes}")
    results["follow_up"] = _child_run(args, "sync", env, "--peer-pk", str(peer_pk))
    # Once more: the first follow-up is also the first to read the imported rows after their
    # commit (PostgreSQL sets their hint bits then; autovacuum has not visited them yet).
    _ask_peer(peer, f"change {args.changes}")
    results["follow_up_2"] = _child_run(args, "sync", env, "--peer-pk", str(peer_pk))
    results["visible"] = _visible(args, peer, peer_pk, env, folder)
    return results


def _visible(
    args: argparse.Namespace, peer: subprocess.Popen[str], peer_pk: int, env: dict[str, str], folder: Path
) -> dict[str, Any]:
    """Changes at the peer at random moments, each timed from the peer's publication in place to
    here's publication in place (a verifier polling here's folder)."""
    from django.utils import timezone

    from federation import services
    from federation.models import Peer
    from verifier.certificates import load_anchor
    from verifier.sync import catch_up

    services.set_interval(Peer.objects.get(pk=peer_pk), args.interval, actor="bench", at=timezone.now())
    beat = subprocess.Popen([sys.executable, __file__, "--child", "beat"], env=env, stdout=subprocess.PIPE, text=True)
    tick = float(_read_line(beat)["tick"])
    anchors = [load_anchor((folder / "trust-anchor.pem").read_bytes())]
    root = folder / "publish"
    base = "https://here.example/publication/"

    def fetch(url: str, headers: dict[str, str], cap: int, progress: Any) -> Any:
        from verifier.fetch import Response

        try:
            return Response(200, {}, (root / url.removeprefix(base)).read_bytes())
        except FileNotFoundError:
            return Response(404, {}, b"")

    # The verifier's catch-up from the index held: each poll verifies here's index and the deltas
    # since (milliseconds), rather than loading and saving a state file of 100,000 entries.
    held = (root / "index.jws").read_bytes()

    def published(thumb: str) -> bool:
        nonlocal held
        caught = catch_up(base, held, anchors, dt.datetime.now(dt.UTC), fetch=fetch, timeout=600)
        if caught is None:
            return False
        held = caught.index.raw
        upserted = {entry["thumbprint"] for delta in caught.deltas for entry in delta["upsert"]}
        return thumb in upserted or (caught.full is not None and thumb in caught.full[0])

    rng = random.Random(20)
    latencies: list[float] = []
    log = folder / "beat.jsonl"
    try:
        time.sleep(args.interval)  # the first scheduled sync has run
        for trial in range(args.visible_trials + 1):
            if trial < args.visible_trials:
                time.sleep(rng.uniform(0, args.interval))
            else:  # the last one just after a scheduled sync ended: it waits for nearly the whole interval
                syncs = len(log.read_text().splitlines())
                while len(log.read_text().splitlines()) == syncs:
                    time.sleep(0.01)
            done = _ask_peer(peer, "change 1")
            (thumb,) = done["added"]
            while not published(thumb):
                if time.time() - done["published_at"] > 10 * args.interval + 60:
                    raise SystemExit("a change at the peer did not become visible here")
                time.sleep(0.02)
            latencies.append(time.time() - done["published_at"])
    finally:
        beat.terminate()
        beat.wait()
    syncs = [json.loads(line) for line in (folder / "beat.jsonl").read_text().splitlines()]
    return {"interval": args.interval, "tick": tick, "latencies": latencies, "syncs": syncs}


# --- children -----------------------------------------------------------------------------------------


def _proc_status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _django() -> None:
    import django

    django.setup()
    common._count_log_records()  # noqa: SLF001 - the shared plumbing's log counter


def _no_publication_on_commit() -> Any:
    from unittest import mock

    import publication.tasks

    return mock.patch.object(publication.tasks, "request_publication", return_value=None)


def _sync_child(args: argparse.Namespace) -> None:
    """One sync of the peer, as the Celery task runs it (its publication left out: timed apart)."""
    _django()
    from django.db import connection
    from django.utils import timezone

    from federation import services
    from gateway.audit.models import Action, AuditEvent

    connection.ensure_connection()
    backend = common.database_backend_pid()
    baseline = _proc_status("VmRSS")
    no_publication = _no_publication_on_commit()  # its import is not the sync's
    backend_cpu = common.process_cpu_seconds(backend)
    began, cpu = time.perf_counter(), time.process_time()
    with common.Profiler(args.profile, "sync_peer", limit=35), no_publication:
        outcome = services.sync_peer(args.peer_pk, now=timezone.now())
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    backend_cpu = common.process_cpu_seconds(backend) - backend_cpu
    assert outcome is not None, "nothing changed at the peer"
    event = AuditEvent.objects.filter(action=Action.FEDERATION_SYNC).order_by("-pk").first()
    assert event is not None
    result = {
        "wall": wall,
        "cpu": cpu,
        "backend_cpu": backend_cpu,
        "rss_baseline": baseline,
        "rss_peak": _proc_status("VmHWM"),
        "downloaded": event.details["downloaded"],
        "full": event.details["full"],
        "added": outcome.added,
        "revoked": outcome.revoked,
        "changed": len(outcome.changed),
    }
    print("RESULT " + json.dumps(result))


def _publish_child(args: argparse.Namespace) -> None:
    """Here's publication of what the first import wrote (one change naming no certificate: new
    full lists), as the worker's publish task would run it."""
    _django()
    from publication.service import publish

    began = time.perf_counter()
    publication = publish()
    wall = time.perf_counter() - began
    assert publication is not None
    result = {"wall": wall, "rss_peak": _proc_status("VmHWM"), "sequence": publication.id}
    print("RESULT " + json.dumps(result))


def _beat_child(args: argparse.Namespace) -> None:
    """What Celery beat and an eager worker do: ``sync_due_peers`` every tick, on a fixed
    schedule; each due peer's sync runs inline, then the publication its change asks for."""
    _django()
    from django.conf import settings

    from federation.tasks import sync_due_peers

    # The schedule beat would run (the setting of its own is newer than the schedule entry: a
    # run on an older revision, to compare, reads the entry).
    tick = float(settings.CELERY_BEAT_SCHEDULE["federation-sync"]["schedule"])
    print("RESULT " + json.dumps({"tick": tick}), flush=True)
    start = time.monotonic()
    number = 0
    log = Path(settings.VAR_DIR) / "beat.jsonl"
    while True:
        began = time.time()
        due = sync_due_peers()
        if due:  # each sync with its publication, for the report (the pipe is not read any more)
            with log.open("a") as handle:
                handle.write(json.dumps({"at": began, "seconds": time.time() - began}) + "\n")
        number = max(number + 1, int((time.monotonic() - start) / tick) + 1)  # missed ticks are skipped
        time.sleep(max(0.0, start + number * tick - time.monotonic()))


def _peer_child(args: argparse.Namespace) -> None:
    """The peer gateway: seeded, published once, then changes on request (stdin), each published."""
    from tests.factory import Pki

    folder = Path(os.environ["GATEWAY_VAR_DIR"])
    pki = Pki.create()
    (folder / "trust-anchor.pem").write_bytes(pki.ta.cert_pem)
    _recreate(PEER_DB)
    _django()
    from django.core.management import call_command
    from django.utils import timezone

    from publication.service import publish
    from tests.publishing import install_publisher

    call_command("migrate", interactive=False, verbosity=0)
    countries = [pki.country(code) for code in PEER_COUNTRIES]
    install_publisher(pki, at=timezone.now())
    began = time.perf_counter()
    _seed_peer(countries, args.size)
    seeded = time.perf_counter() - began
    began = time.perf_counter()
    publish(force=True, full=True)
    published = time.perf_counter() - began
    from publication.models import Publication

    latest = Publication.objects.order_by("-id").first()
    assert latest is not None
    trust_list = sum(
        path.stat().st_size for path in (folder / "publish").rglob("trustlist.jws") if str(latest.id) in path.parts
    )
    result = {
        "seed_seconds": seeded,
        "publish_seconds": published,
        "trust_anchor_pem": pki.ta.cert_pem.decode("ascii"),
        "trust_list_bytes": trust_list,
    }
    print("RESULT " + json.dumps(result), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            return
        if command[0] == "change":
            print("RESULT " + json.dumps(_peer_changes(countries, int(command[1]))), flush=True)


def _seed_peer(countries: list[Any], size: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from gateway import dbwrite
    from gateway.outbox.services import record_change
    from gateway.pki import certs, issuance
    from trustlist.models import SignerCertificate

    now = timezone.now()
    issuers = {country.code: certs.thumbprint(country.csca.der) for country in countries}

    def rows() -> Any:
        key = None
        for number in range(size):
            if number % KEYS_EVERY == 0:
                key = issuance.new_key("ec-p256")
            country = countries[number % len(countries)]
            dsc = issuance.issue(
                issuance.name(f"{country.code} bench DSC {number}", country.code),
                at=now,
                issuer=country.csca,
                key=key,
                extended_key_usage=[issuance.EKU_VACCINATION],
            )
            der = dsc.der
            yield SignerCertificate(
                country=country.code,
                thumbprint=certs.thumbprint(der),
                kid=certs.kid(der),
                raw_data=der,
                signature="",
                uploader_thumbprint="",
                not_before=dsc.certificate.not_valid_before_utc,
                not_after=dsc.certificate.not_valid_after_utc,
                usages=list(certs.dcc_usages(dsc.certificate)),
                public_key_jwk=certs.public_jwk(dsc.certificate),
                issuer_thumbprint=issuers[country.code],
                created_at=now,
            )

    with _no_publication_on_commit(), transaction.atomic():
        dbwrite.insert_many(SignerCertificate, rows())
        record_change(kind="UPLOAD", at=now)


def _peer_changes(countries: list[Any], count: int) -> dict[str, Any]:
    """``count`` changes through the product's services: every other one a new DSC uploaded (a
    CMS signed by its country's UPLOAD key), the others a DSC revoked; then one publication."""
    from django.utils import timezone

    from countries.identity import ClientIdentity
    from countries.models import TrustedParty
    from gateway.pki import certs
    from publication.service import publish
    from trustlist.models import SignerCertificate
    from trustlist.services import revoke_by_person, upload_signer_certificate

    added: list[str] = []
    revoked: list[str] = []
    with _no_publication_on_commit():
        for number in range(count):
            country = countries[number % len(countries)]
            if number % 2 == 0:
                dsc = country.dsc(at=timezone.now())
                party = TrustedParty.objects.get(country=country.code, certificate_type="AUTHENTICATION")
                identity = ClientIdentity(country=country.code, thumbprint=party.thumbprint, party_id=party.pk)
                upload_signer_certificate(
                    identity=identity, cms_der=country.cms(dsc.der), at=timezone.now(), actor="bench"
                )
                added.append(certs.thumbprint(dsc.der))
            else:
                row = SignerCertificate.objects.filter(country=country.code, revoked_at__isnull=True).first()
                assert row is not None
                revoke_by_person(row_id=row.pk, reason="bench", actor="bench", at=timezone.now())
                revoked.append(row.thumbprint)
    publication = publish()
    assert publication is not None
    return {"added": added, "revoked": revoked, "published_at": time.time(), "sequence": publication.id}


# --- printing -----------------------------------------------------------------------------------------


def _mib(value: float) -> str:
    return f"{value / MIB:,.0f} MiB"


def _print(args: argparse.Namespace, results: dict[str, Any]) -> None:
    first, follow = results["first"], results["follow_up"]
    rows = []
    runs = (
        (f"first import ({args.size:,} DSCs)", first),
        (f"follow-up ({args.changes} changes)", follow),
        (f"second follow-up ({args.changes} more)", results["follow_up_2"]),
    )
    for label, run in runs:
        rows.append(
            [
                label,
                "full lists" if run["full"] else "deltas",
                f"{run['wall']:.2f}",
                f"{run['cpu']:.2f} / {run['backend_cpu']:.2f}",
                f"{_mib(run['rss_peak'])} ({_mib(run['rss_baseline'])} before)",
                f"{run['downloaded']:,}",
                f"{run['added']:,} / {run['revoked']:,} / {run['changed']:,}",
            ]
        )
    print(
        table(
            ["sync", "fetched", "wall s", "CPU s (process / PostgreSQL)", "peak RSS", "bytes", "added/revoked/changed"],
            rows,
        )
    )
    publication = results["publish"]
    print(
        f"\nHere's publication of the first import (new full lists, the worker's task, not part of the sync): "
        f"{publication['wall']:.1f} s, peak RSS {_mib(publication['rss_peak'])}."
    )
    visible = results["visible"]
    latencies = visible["latencies"]
    print(
        f"\nChange at the peer to visible here (interval {visible['interval']} s, beat tick {visible['tick']:g} s, "
        f"{len(latencies)} changes, the last made just after a scheduled sync ended): "
        + ", ".join(f"{value:.2f}" for value in latencies)
        + f" s; median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s."
    )
    syncs = visible["syncs"]
    if len(syncs) >= 2:
        periods = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(syncs)]
        seconds = [sync["seconds"] for sync in syncs]
        print(
            f"Scheduled syncs meanwhile: {len(syncs)}, every {min(periods):.2f}-{max(periods):.2f} s; each with "
            f"here's publication of what it imported took {statistics.median(seconds):.2f} s (median), "
            f"{max(seconds):.2f} s at most."
        )
    byte_share = follow["downloaded"] / first["downloaded"]
    time_share = follow["wall"] / first["wall"]
    verdict = {True: "met", False: "NOT met"}
    print()
    if args.size == 100_000:
        print(
            f"- First import < {FIRST_SECONDS_TARGET:.0f} s: {verdict[first['wall'] < FIRST_SECONDS_TARGET]} "
            f"({first['wall']:.1f} s)"
        )
        print(
            f"- First import < 1 GiB peak RSS: {verdict[first['rss_peak'] < FIRST_RSS_TARGET]} "
            f"({_mib(first['rss_peak'])})"
        )
    else:
        print(f"(The first import's targets are for 100,000 DSCs: this run had {args.size:,}.)")
    print(
        f"- Follow-up < {FOLLOW_UP_SHARE_TARGET:.0%} of the first, bytes and time: "
        f"{verdict[byte_share < FOLLOW_UP_SHARE_TARGET and time_share < FOLLOW_UP_SHARE_TARGET]} "
        f"(bytes {byte_share:.4%}, time {time_share:.2%}; the second follow-up "
        f"{results['follow_up_2']['wall'] / first['wall']:.2%} of the time)"
    )
    bound = visible["interval"] + VISIBLE_SLACK_TARGET
    print(
        f"- Change to visible < interval + {VISIBLE_SLACK_TARGET:.0f} s = {bound:.0f} s: "
        f"{verdict[max(latencies) < bound]} (max {max(latencies):.2f} s)"
    )


if __name__ == "__main__":
    main()
