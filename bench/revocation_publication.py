"""Publishing revoked DCC hashes at scale on PostgreSQL (issue 19): the gateway's side of
docs/revocation-distribution.md ("Publishing at scale").

    .venv/bin/python bench/revocation_publication.py                         # 1 M and 10 M, ~15 min
    .venv/bin/python bench/revocation_publication.py --sizes 100000 --profile  # quick, with cProfile

On a database created for the run (``gateway_pubbench``, dropped at the end unless ``--keep``), with
the publish folder, publisher keys and trust anchor in temporary folders, per size (ascending, the
database grows from one to the next):

1. **Seeding** (not timed against a target): revocation batches of at most 1,000 hashes (as the
   API allows), each of one hash type (UCI, COUNTRYCODEUCI, SIGNATURE in turn), over 1,000 kids
   (base64 of 8 random bytes; the first is a real DSC XA uploaded) spread over XA, XB and XC, and
   1 % of the hashes under UNKNOWN_KID of each country; random 16-byte hashes. Rows go in with
   PostgreSQL COPY, **bypassing the API's per-upload checks** (CMS signature, uploader, kid):
   the batches carry no CMS and no audit event, and no outbox change is recorded (each
   measurement below makes the change it needs). Then VACUUM ANALYZE, as autovacuum would.
2. **First publication naming the content**: the index is made not to name ``dcc-revocations``
   (the provider unregistered for one publication, as before a deployment that adds the room),
   then ``publication.service.publish()`` in a fresh process reads every group
   (``RevokedHashesContent.groups(None)``), encodes and writes every part: wall and CPU time of
   the process and of its PostgreSQL backend, peak RSS (VmHWM), the time in each phase.
3. **Every group changed, one scoped outbox change each** (a bulk import through the API, or
   every country re-uploading): ``publish()`` reads the groups one query each; parts exist.
4. **Forced full rebuild**: one REVOCATION_BATCH change with an empty scope (read everything
   again: ``_read_named``'s other full path; ``publish --force --full`` does not re-read named
   content) then ``publish()``: the same read and encoding as 2, but the parts are on disk.
5. **Full download**: ``verifier.sync.sync`` into an empty folder through a local fetch reading
   the publish folder (every byte as served: parts raw, the manifest as written; publication
   writes no .gz twin of a named artifact, so its gzip sizes are computed here: what nginx's
   gzip_static would serve if it did). Bytes per revoked hash, manifest + parts.
6. **Catch-up**: one batch of 1,000 new hashes under the real DSC's kid, uploaded through the
   API (``POST /revocation-list``, CMS signed by XA's UPLOAD key: ``revocation.services``), its
   publication then timed in a fresh process; the bytes ``sync`` downloads from the state of 5,
   against the full download.

80 million is extrapolated: sizes from the format (``byte_ranges``, header sizes, the manifest's
bytes per group and per part measured), times and memory from the growth between the two sizes.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import common
from common import banner, call, log_summary, parser, table

POSTGRES_DB = "gateway_pubbench"  # not common's gateway_bench: other benchmarks may run meanwhile
COUNTRIES = ("XA", "XB", "XC")
KIDS = 1000
UNKNOWN_SHARE = 0.01  # of the hashes, under UNKNOWN_KID (split over the countries)
BATCH_ENTRIES = 1000  # revocation.batches.MAX_ENTRIES
HASH_TYPES = ("UCI", "COUNTRYCODEUCI", "SIGNATURE")
TARGET_SIZE = 10_000_000
PUBLISH_TARGET_S = 60.0
MEMORY_TARGET_BYTES = 2 << 30  # 2 GiB
BYTES_PER_HASH_TARGET = 17.0
CATCH_UP_TARGET = 0.01  # of the full download
EXTRAPOLATED = 80_000_000
MIB = 1 << 20


def main() -> None:
    arguments = parser("Benchmark publishing revoked DCC hashes (full build, rebuild, download, catch-up).")
    arguments.set_defaults(db="postgres")
    arguments.add_argument("--sizes", default="1000000,10000000", help="revoked hashes, ascending")
    arguments.add_argument("--kids", type=int, default=KIDS, help="kids the hashes are spread over (default 1000)")
    arguments.add_argument("--catch-up", type=int, default=1000, help="hashes of the catch-up batch (default 1000)")
    arguments.add_argument("--keep", action="store_true", help="keep the database and temporary folders")
    arguments.add_argument("--child", choices=("publish",), help=argparse.SUPPRESS)
    args = arguments.parse_args()
    if args.child:
        _child(args.profile)
        return
    if args.db != "postgres":
        raise SystemExit("this benchmark seeds with PostgreSQL COPY: --db postgres only")
    _run(args)


# --- the parent: one database, every size --------------------------------------------------------


def _run(args: argparse.Namespace) -> None:
    sizes = sorted(int(size) for size in args.sizes.split(",") if size.strip())
    from tests.factory import Pki

    pki = Pki.create()
    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-revpub-"))
    os.environ["GATEWAY_PUBLISH_DIR"] = str(folder / "publish")
    os.environ["GATEWAY_PUBLISHER_KEY_DIR"] = str(folder / "publisher")
    # No background rebuild of the trust lists after each publication (eager tasks run it right
    # away): only the revoked hashes' publication is measured.
    os.environ["GATEWAY_PUBLISH_FULL_AFTER_SECONDS"] = "86400"
    os.environ["GATEWAY_PUBLISH_FULL_AFTER_DELTAS"] = "100000"
    common.POSTGRES_BENCH_DB = POSTGRES_DB  # setup_django drops and creates this database
    env = common.setup_django(args.db, pki.ta.cert_pem)
    banner("Revoked DCC hashes: publication at scale", env)

    from django.conf import settings
    from django.utils import timezone

    from tests.publishing import install_publisher
    from verifier.certificates import load_anchor

    install_publisher(pki, at=timezone.now())
    bench = SimpleNamespace(
        args=args,
        app=common.wsgi_application(),
        countries={code: pki.country(code) for code in COUNTRIES},
        anchors=[load_anchor(pki.ta.cert_pem)],
        root=Path(settings.GATEWAY_PUBLISH_DIR),
        folder=folder,
        counts={},  # (country, kid) -> hashes seeded
        rng=random.Random(19),
    )
    bench.real_kid = _real_dsc_kid(bench)
    bench.groups = _groups(bench, args.kids)
    print(
        f"Publish folder, publisher keys, trust anchor and verifier folders under {folder} (temporary). "
        f"{args.kids:,} kids over {', '.join(COUNTRIES)} ({bench.real_kid} is a real DSC of XA), plus "
        f"UNKNOWN_KID of each country with {UNKNOWN_SHARE:.0%} of the hashes; batches of at most "
        f"{BATCH_ENTRIES:,} hashes of one hash type each. Seeded with COPY, bypassing the API's checks "
        "(CMS, uploader, kid): see the docstring."
    )
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        print(f"\n### {size:,} revoked hashes\n")
        seconds, batches = _seed(bench, size)
        print(f"Seeded to {size:,} hashes in {batches:,} batches in {seconds:.1f} s (COPY, then VACUUM ANALYZE).")
        result: dict[str, Any] = {"size": size}
        results[size] = result
        _forget_content(bench)
        result["first"] = _publish_in_child(args, "first publication naming the content (every group)")
        result["first"]["parts_on_disk"] = _parts_on_disk(bench.root)
        _record_changes([_scope(country, kid) for country, kid in bench.counts])
        result["scoped"] = _publish_in_child(args, "every group changed (one scoped change each)")
        _record_changes([""])
        result["rebuild"] = _publish_in_child(args, "forced full rebuild (a change with an empty scope)")
        result["download"] = _full_download(bench, size)
        result["catch_up"] = _catch_up(bench, args, size)
        _print_size(result)
        sys.stdout.flush()
    _print_summary(results)
    print()
    print(log_summary())
    sys.stdout.flush()
    common.cleanup(args, env, folder, database=POSTGRES_DB)


def _real_dsc_kid(bench: SimpleNamespace) -> str:
    """XA uploads a real DSC (its kid takes one of the kids' places) and gets the revocation roles."""
    from django.utils import timezone

    from countries import services as country_services
    from countries.models import Role, TrustedParty
    from trustlist.models import SignerCertificate

    xa = bench.countries["XA"]
    party = TrustedParty.objects.get(country="XA", certificate_type="AUTHENTICATION")
    for role in (Role.REVOCATION_UPLOADER, Role.REVOCATION_LIST_READER, Role.REVOCATION_DELETER):
        country_services.grant_role(party_id=party.pk, role=role, actor="bench", at=timezone.now())
    dsc = xa.dsc(at=timezone.now())
    response = call(
        bench.app,
        "POST",
        "/signerCertificate",
        headers=xa.headers(),
        body=xa.cms_b64(dsc.der),
        content_type="application/cms",
    )
    if response.status != 201:
        raise SystemExit(f"the DSC upload answered {response.status}: {response.body[:300]!r}")
    return SignerCertificate.objects.get(country="XA").kid


def _groups(bench: SimpleNamespace, kids: int) -> list[tuple[str, str, float]]:
    """(country, kid, share of the hashes) of every group."""
    kid_share = (1 - UNKNOWN_SHARE) / kids
    groups = [("XA", bench.real_kid, kid_share)]
    for number in range(1, kids):
        kid = base64.b64encode(bench.rng.randbytes(8)).decode("ascii")
        groups.append((COUNTRIES[number % len(COUNTRIES)], kid, kid_share))
    groups += [(country, "UNKNOWN_KID", UNKNOWN_SHARE / len(COUNTRIES)) for country in COUNTRIES]
    return groups


def _scope(country: str, kid: str) -> str:
    from revocation.scopes import scope_of

    return scope_of(country, kid)


# --- seeding ---------------------------------------------------------------------------------------


def _seed(bench: SimpleNamespace, size: int) -> tuple[float, int]:
    """Grow every group to its share of ``size`` hashes, in new batches (COPY)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from gateway.pki.certs import thumbprint

    began = time.perf_counter()
    now = timezone.now()
    expires = now + dt.timedelta(days=365)
    uploaders = {code: thumbprint(country.upload.der) for code, country in bench.countries.items()}
    wanted = _shares(size, bench.groups)
    batch_lines: list[str] = []
    hash_chunks: list[bytes] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM revocation_revocationbatch")
        next_id = cursor.fetchone()[0] + 1
    batches = 0
    stamp = now.isoformat()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's cursor, for COPY
        with raw.copy("COPY revocation_revocationhash (batch_id, kid, hash_type, hash) FROM STDIN") as copy:
            for (country, kid, _), count in zip(bench.groups, wanted, strict=True):
                missing = count - bench.counts.get((country, kid), 0)
                for start in range(0, missing, BATCH_ENTRIES):
                    entries = min(BATCH_ENTRIES, missing - start)
                    hash_type = HASH_TYPES[(next_id + batches) % len(HASH_TYPES)]
                    batch_pk = next_id + batches
                    batches += 1
                    batch_lines.append(
                        f"{batch_pk}\t{uuid.UUID(int=bench.rng.getrandbits(128), version=4)}\t{country}\t{kid}\t"
                        f"{hash_type}\t{expires.isoformat()}\t{stamp}\t{stamp}\tf\t\t{entries}\t{uploaders[country]}\n"
                    )
                    hexed = bench.rng.randbytes(16 * entries).hex()
                    prefix = f"{batch_pk}\t{kid}\t{hash_type}\t\\\\x"
                    hash_chunks.append(
                        "".join(f"{prefix}{hexed[i : i + 32]}\n" for i in range(0, len(hexed), 32)).encode("ascii")
                    )
                    if len(hash_chunks) >= 200:
                        copy.write(b"".join(hash_chunks))
                        hash_chunks.clear()
                bench.counts[(country, kid)] = max(count, bench.counts.get((country, kid), 0))
            copy.write(b"".join(hash_chunks))
        columns = (
            "id, batch_id, country, kid, hash_type, expires, created_at, changed, deleted, cms, entry_count, "
            "uploader_thumbprint"
        )
        with raw.copy(f"COPY revocation_revocationbatch ({columns}) FROM STDIN") as copy:
            copy.write("".join(batch_lines).encode("ascii"))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('revocation_revocationbatch', 'id'), "
            "(SELECT MAX(id) FROM revocation_revocationbatch))"
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE revocation_revocationbatch")
        cursor.execute("VACUUM ANALYZE revocation_revocationhash")
    return time.perf_counter() - began, batches


def _shares(size: int, groups: list[tuple[str, str, float]]) -> list[int]:
    counts = [int(size * share) for _, _, share in groups]
    for number in range(size - sum(counts)):  # the rounding's remainder, one each to the first groups
        counts[number % len(counts)] += 1
    return counts


@contextlib.contextmanager
def _no_publication_on_commit() -> Iterator[None]:
    """A change committed here is published by the process measured, not eagerly in this one."""
    import publication.tasks

    with mock.patch.object(publication.tasks, "request_publication", return_value=None):
        yield


def _record_changes(scopes: list[str]) -> None:
    from django.db import transaction
    from django.utils import timezone

    from gateway.outbox.services import record_change
    from revocation.services import BATCH_CHANGE

    with _no_publication_on_commit(), transaction.atomic():
        for scope in scopes:
            record_change(kind=BATCH_CHANGE, at=timezone.now(), country=scope[:2], scope=scope)


def _forget_content(bench: SimpleNamespace) -> None:
    """One publication with the revoked hashes' provider unregistered: the index then no longer
    names the content, and the next publication reads it whole, as the first one after a
    deployment that adds the room does. The parts on disk are removed too (pruning keeps them
    for a while), so that it writes every part."""
    import shutil

    from publication import providers
    from publication.service import publish
    from verifier.revocation_parts import REVOCATION_ARTIFACT

    provider = providers._named[REVOCATION_ARTIFACT]  # noqa: SLF001 - the registered instance, to put back
    providers.unregister_named_content(REVOCATION_ARTIFACT)
    try:
        publish(force=True)
    finally:
        providers.register_named_content(provider)
    shutil.rmtree(bench.root / "parts" / REVOCATION_ARTIFACT, ignore_errors=True)


def _parts_on_disk(root: Path) -> tuple[int, int]:
    from verifier.revocation_parts import REVOCATION_ARTIFACT

    paths = list((root / "parts" / REVOCATION_ARTIFACT).iterdir())
    return len(paths), sum(path.stat().st_size for path in paths)


# --- a publication in a fresh process -----------------------------------------------------------------


def _publish_in_child(args: argparse.Namespace, label: str) -> dict[str, Any]:
    sys.stdout.flush()
    command = [sys.executable, __file__, "--db", args.db, "--child", "publish"]
    if args.profile:
        command.append("--profile")
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, env=os.environ)
    result: dict[str, Any] = {}
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
        else:
            print(line)
    result["label"] = label
    return result


# What a publication of the revoked hashes spends its time in (wrapped in the child, wall time
# summed; a name the code does not have is left out): the provider's groups (database read and
# encoding), the read and the encoding alone, waiting for the part files to be on disk, the whole
# content build, and the manifest's signed version (canonical JSON, its digest, JWS, file).
_PHASES = (
    ("revocation.content", "RevokedHashesContent.groups", "groups: read + encode (generator, summed)"),
    ("revocation.content", "_read_group", "  of which the database read"),
    ("revocation.content", "encode_sorted_group", "  of which encoding"),
    ("revocation.content", "encode_group", "  of which encoding"),
    ("publication.files", "ManyFiles.close", "waiting for the part files"),
    ("publication.partitions", "manifest", "partitions.manifest (the whole build)"),
    ("publication.service", "_write_named", "manifest: canonical JSON, digest, JWS, write"),
)


def _child(profile: bool) -> None:
    """``publish()`` once in a fresh process (Django configured from the parent's environment)."""
    import django

    django.setup()
    from django.db import connection

    from publication import service

    connection.ensure_connection()
    seconds = _wrap_phases()
    backend = common.database_backend_pid()
    baseline = _proc_status("VmRSS")
    backend_cpu = common.process_cpu_seconds(backend)
    began, cpu = time.perf_counter(), time.process_time()
    with common.Profiler(profile, "publish(force=True)", limit=30):
        # force: the first publication has no outbox change to publish, only content to name
        publication = service.publish(force=True)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    backend_cpu = common.process_cpu_seconds(backend) - backend_cpu
    assert publication is not None, "nothing was published"
    from verifier.revocation_parts import REVOCATION_ARTIFACT

    descriptor = publication.artifacts[REVOCATION_ARTIFACT]["descriptor"]
    result = {
        "wall": wall,
        "cpu": cpu,
        "backend_cpu": backend_cpu,
        "rss_baseline": baseline,
        "rss_peak": _proc_status("VmHWM"),
        "phases": seconds,
        "manifest_length": descriptor["length"],
        "manifest_sequence": descriptor["sequence"],
        "sequence": publication.id,
    }
    print("RESULT " + json.dumps(result))


def _wrap_phases() -> dict[str, float]:
    import importlib

    seconds: dict[str, float] = {}
    for module_name, dotted, label in _PHASES:
        owner: Any = importlib.import_module(module_name)
        *path, name = dotted.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        function = getattr(owner, name, None)
        if function is None:
            continue
        wrap = _timed_generator if name == "groups" else _timed
        setattr(owner, name, wrap(function, label, seconds))
    return seconds


def _timed(function: Callable[..., Any], label: str, seconds: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - began

    return wrapper


def _timed_generator(function: Callable[..., Any], label: str, seconds: dict[str, float]) -> Callable[..., Any]:
    """The time spent inside a generator, not in its consumer between two items."""

    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        iterator = iter(function(*args, **kwargs))
        while True:
            began = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - began
                return
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - began
            yield item

    return wrapper


def _proc_status(field: str) -> int:
    """VmRSS / VmHWM of this process in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


# --- the verifier's side -------------------------------------------------------------------------------

BASE = "https://gateway.example/publication/"


class _LocalFetch:
    """``verifier.fetch.Fetch`` reading the publish folder: every body as it is on disk (what
    nginx and the gateway's view send without gzip), counted by kind."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bytes: dict[str, int] = {}
        self.files: dict[str, int] = {}

    def __call__(self, url: str, headers: dict[str, str], cap: int, progress: Any) -> Any:
        from verifier.fetch import Response

        path = url.removeprefix(BASE)
        try:
            body = (self.root / path).read_bytes()
        except FileNotFoundError:
            return Response(404, {}, b"")
        kind = _kind(path)
        self.bytes[kind] = self.bytes.get(kind, 0) + len(body)
        self.files[kind] = self.files.get(kind, 0) + 1
        return Response(200, {}, body)


def _kind(path: str) -> str:
    from verifier.revocation_parts import REVOCATION_ARTIFACT

    if path.startswith(f"parts/{REVOCATION_ARTIFACT}/"):
        return "parts"
    if path.endswith(f"/{REVOCATION_ARTIFACT}.jws"):
        return "manifest"
    return "index" if path == "index.jws" else "other (lists, deltas, other named content)"


def _sync(bench: SimpleNamespace, folder: Path) -> tuple[Any, _LocalFetch, float]:
    from verifier.sync import sync

    fetch = _LocalFetch(bench.root)
    began = time.perf_counter()
    # A whole sync has a 60 s deadline by default: a full download of 10 M hashes from disk with
    # an fsync per part file can take longer on a busy machine, and is not what is timed here.
    result = sync(BASE, folder, bench.anchors, dt.datetime.now(dt.UTC), fetch=fetch, timeout=3600)
    return result, fetch, time.perf_counter() - began


def _full_download(bench: SimpleNamespace, size: int) -> dict[str, Any]:
    from verifier.revocation_parts import REVOCATION_ARTIFACT, parse_manifest
    from verifier.sync import SyncState

    folder = bench.folder / f"verifier-{size}"
    result, fetch, seconds = _sync(bench, folder)
    content = SyncState.load(folder).artifacts[REVOCATION_ARTIFACT]["content"]
    groups = parse_manifest(content)
    descriptor = SyncState.load(folder).artifacts[REVOCATION_ARTIFACT]
    manifest = (bench.root / f"sequences/{descriptor['sequence']}/{REVOCATION_ARTIFACT}.jws").read_bytes()
    parts = [part for group in groups for part in group.parts]
    parts_gzip = 0
    for part in parts:  # what a .gz twin of each part would weigh (random hashes do not compress)
        parts_gzip += len(_gzip((bench.root / "parts" / REVOCATION_ARTIFACT / part.sha256).read_bytes(), 6))
    hashes = sum(group.hashes for group in groups)
    seeded = sum(bench.counts.values())  # the size, and the catch-up batches of the smaller sizes
    assert hashes == seeded, f"the manifest lists {hashes:,} hashes, {seeded:,} were seeded"
    return {
        "hashes": hashes,
        "seconds": seconds,
        "mode": result.mode,
        "total": result.downloaded_bytes,
        "bytes": dict(fetch.bytes),
        "files": dict(fetch.files),
        "groups": len(groups),
        "parts": len(parts),
        "parts_bytes": sum(part.length for part in parts),
        "parts_gzip6": parts_gzip,
        "manifest": len(manifest),
        "manifest_gzip1": len(_gzip(manifest, 1)),
        "manifest_gzip6": len(_gzip(manifest, 6)),
        "manifest_json": len(json.dumps(content, separators=(",", ":"))),
        # what one more part adds to the manifest's JSON (its entry and a comma), for the model
        "part_entry_json": sum(
            len(json.dumps({"length": part.length, "sha256": part.sha256}, separators=(",", ":"))) + 1 for part in parts
        )
        / max(len(parts), 1),
        "folder": folder,
    }


def _gzip(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def _catch_up(bench: SimpleNamespace, args: argparse.Namespace, size: int) -> dict[str, Any]:
    """A batch of new hashes under the real DSC's kid through the API; its publication timed in a
    fresh process; what the verifier of the full download fetches to catch up."""
    from django.utils import timezone

    xa = bench.countries["XA"]
    value = {
        "country": "XA",
        "expires": (timezone.now() + dt.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kid": bench.real_kid,
        "hashType": "SIGNATURE",
        "entries": [{"hash": base64.b64encode(bench.rng.randbytes(16)).decode("ascii")} for _ in range(args.catch_up)],
    }
    body = xa.cms_b64(json.dumps(value).encode())
    began = time.perf_counter()
    with _no_publication_on_commit():
        response = call(
            bench.app, "POST", "/revocation-list", headers=xa.headers(), body=body, content_type="application/cms-text"
        )
    upload_seconds = time.perf_counter() - began
    if response.status != 201:
        raise SystemExit(f"the batch upload answered {response.status}: {response.body[:300]!r}")
    bench.counts[("XA", bench.real_kid)] += args.catch_up
    publication = _publish_in_child(args, f"incremental: one batch of {args.catch_up:,} hashes")
    folder = bench.folder / f"verifier-{size}"
    result, fetch, seconds = _sync(bench, folder)
    return {
        "hashes": args.catch_up,
        "upload": upload_seconds,
        "publish": publication,
        "total": result.downloaded_bytes,
        "mode": result.mode,
        "bytes": dict(fetch.bytes),
        "files": dict(fetch.files),
        "sync_seconds": seconds,
    }


# --- printing ---------------------------------------------------------------------------------------


def _mib(value: float) -> str:
    return f"{value / MIB:,.0f} MiB"


def _phases(seconds: dict[str, float], form: str) -> str:
    labels = dict.fromkeys(label for _, _, label in _PHASES)  # in _PHASES' order, once each
    return "; ".join(f"{label.strip()} {form.format(seconds[label])} s" for label in labels if label in seconds)


def _publish_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key in ("first", "scoped", "rebuild"):
        run = result[key]
        rows.append(
            [
                run["label"],
                f"{run['wall']:.1f}",
                f"{run['cpu']:.1f} / {run['backend_cpu']:.1f}",
                f"{_mib(run['rss_peak'])} ({_mib(run['rss_baseline'])} before)",
                _phases(run["phases"], "{:.1f}"),
            ]
        )
    run = result["catch_up"]["publish"]
    rows.append(
        [
            run["label"],
            f"{run['wall']:.2f}",
            f"{run['cpu']:.2f} / {run['backend_cpu']:.2f}",
            f"{_mib(run['rss_peak'])} ({_mib(run['rss_baseline'])} before)",
            _phases(run["phases"], "{:.2f}"),
        ]
    )
    return rows


def _print_size(result: dict[str, Any]) -> None:
    size = result["download"]["hashes"]  # as listed: the size plus smaller sizes' catch-up batches
    print()
    print(
        table(
            ["publish()", "wall s", "CPU s (process / PostgreSQL backend)", "peak RSS", "phases (wall)"],
            _publish_rows(result),
        )
    )
    first = result["first"]
    count, length = first["parts_on_disk"]
    print(f"\nThe first publication wrote {count:,} part files, {length:,} bytes.")
    download = result["download"]
    print(
        f"\nFull download (sync into an empty folder, {download['seconds']:.1f} s, mode {download['mode']}): "
        f"{download['groups']:,} groups, {download['parts']:,} parts "
        f"({download['parts'] / max(download['groups'], 1):.1f} per group).\n"
    )
    manifest_parts = download["manifest"] + download["parts_bytes"]
    rows = [
        ["parts (served raw)", f"{download['parts_bytes']:,}", f"{download['parts_bytes'] / size:.2f}"],
        ["parts if gzip -6 (not served)", f"{download['parts_gzip6']:,}", f"{download['parts_gzip6'] / size:.2f}"],
        ["manifest JWS (served raw: no .gz twin)", f"{download['manifest']:,}", f"{download['manifest'] / size:.3f}"],
        ["manifest JWS gzip -1 (a twin at GZIP_LEVEL)", f"{download['manifest_gzip1']:,}", ""],
        ["manifest JWS gzip -6", f"{download['manifest_gzip6']:,}", ""],
        ["manifest's JSON content", f"{download['manifest_json']:,}", ""],
        ["**manifest + parts as served**", f"{manifest_parts:,}", f"**{manifest_parts / size:.2f}**"],
        [
            "manifest gzip -1 + parts",
            f"{download['manifest_gzip1'] + download['parts_bytes']:,}",
            f"{(download['manifest_gzip1'] + download['parts_bytes']) / size:.2f}",
        ],
        ["whole sync (+ index, lists, deltas, other content)", f"{download['total']:,}", ""],
    ]
    print(table(["full download", "bytes", "B per hash"], rows))
    catch = result["catch_up"]
    share = catch["total"] / manifest_parts
    print(
        f"\nCatch-up after one batch of {catch['hashes']:,} new hashes "
        f"(uploaded through the API in {catch['upload'] * 1000:.0f} ms): sync ({catch['mode']}, "
        f"{catch['sync_seconds']:.2f} s) downloaded {catch['total']:,} bytes = {share:.3%} of the full download "
        f"(manifest + parts): "
        + ", ".join(f"{kind} {value:,} B in {catch['files'][kind]} file(s)" for kind, value in catch["bytes"].items())
    )


def _print_summary(results: dict[int, dict[str, Any]]) -> None:
    print("\n### Summary\n")
    sizes = sorted(results)
    model = _extrapolate(results) if len(sizes) >= 2 else None
    header = ["", *(f"{size:,}" for size in sizes)]
    if model:
        header.append(f"{EXTRAPOLATED:,} (extrapolated)")

    def row(label: str, values: list[str], extrapolated: str = "") -> list[str]:
        return [label, *values, *([extrapolated] if model else [])]

    def served(result: dict[str, Any]) -> int:
        return result["download"]["manifest"] + result["download"]["parts_bytes"]

    rows = [
        row(
            "first publication: wall s (CPU process / PostgreSQL)",
            [
                f"{r['first']['wall']:.1f} ({r['first']['cpu']:.1f} / {r['first']['backend_cpu']:.1f})"
                for r in map(results.get, sizes)
            ],
            f"~{model['first_wall']:.0f}" if model else "",
        ),
        row(
            "first publication: peak RSS",
            [_mib(r["first"]["rss_peak"]) for r in map(results.get, sizes)],
            f"~{_mib(model['first_rss'])}" if model else "",
        ),
        row(
            "every group changed (scoped): wall s",
            [f"{r['scoped']['wall']:.1f}" for r in map(results.get, sizes)],
            f"~{model['scoped_wall']:.0f}" if model else "",
        ),
        row(
            "forced full rebuild: wall s / peak RSS",
            [f"{r['rebuild']['wall']:.1f} / {_mib(r['rebuild']['rss_peak'])}" for r in map(results.get, sizes)],
            f"~{model['rebuild_wall']:.0f}" if model else "",
        ),
        row(
            "groups / parts",
            [f"{r['download']['groups']:,} / {r['download']['parts']:,}" for r in map(results.get, sizes)],
            f"{model['groups']:,} / {model['parts']:,}" if model else "",
        ),
        row(
            "manifest JWS (gzip -1)",
            [f"{r['download']['manifest']:,} ({r['download']['manifest_gzip1']:,})" for r in map(results.get, sizes)],
            f"~{model['manifest']:,}" if model else "",
        ),
        row(
            "full download, manifest + parts as served: B / B per hash",
            [f"{served(r):,} / **{served(r) / r['download']['hashes']:.2f}**" for r in map(results.get, sizes)],
            f"~{model['served']:,} / {model['served'] / EXTRAPOLATED:.2f}" if model else "",
        ),
        row(
            "catch-up after 1,000 revocations: B (% of full)",
            [f"{r['catch_up']['total']:,} ({r['catch_up']['total'] / served(r):.2%})" for r in map(results.get, sizes)],
            f"~{model['catch_up']:,} ({model['catch_up'] / model['served']:.2%})" if model else "",
        ),
        row(
            "incremental publish (1,000 revocations): wall s / peak RSS",
            [
                f"{r['catch_up']['publish']['wall']:.2f} / {_mib(r['catch_up']['publish']['rss_peak'])}"
                for r in map(results.get, sizes)
            ],
            f"~{model['incremental_wall']:.1f}" if model else "",
        ),
    ]
    print(table(header, rows))
    if model:
        print(
            f"\n{EXTRAPOLATED:,}: sizes from the format (byte_ranges of each group, header bytes, the manifest's "
            f"bytes per part and per group measured at {sizes[-1]:,}); times and RSS linear through the two "
            f"largest sizes (a + b·N)."
        )
    print()
    target = results.get(TARGET_SIZE)
    if target is None:
        print(f"(Targets are for {TARGET_SIZE:,} hashes: not measured in this run.)")
        return
    first, rebuild = target["first"], target["rebuild"]
    hashes = target["download"]["hashes"]
    per_hash = served(target) / hashes
    per_hash_gzip = (target["download"]["manifest_gzip1"] + target["download"]["parts_bytes"]) / hashes
    share = target["catch_up"]["total"] / served(target)
    worst_rss = max(first["rss_peak"], rebuild["rss_peak"])
    incremental = target["catch_up"]["publish"]["wall"]
    verdict = {True: "met", False: "NOT met"}
    print(
        f"- Full publication < {PUBLISH_TARGET_S:.0f} s: {verdict[first['wall'] < PUBLISH_TARGET_S]} "
        f"(first {first['wall']:.1f} s, forced rebuild {rebuild['wall']:.1f} s)"
    )
    print(
        f"- Full publication < 2 GiB peak RSS: {verdict[worst_rss < MEMORY_TARGET_BYTES]} "
        f"({_mib(first['rss_peak'])}, rebuild {_mib(rebuild['rss_peak'])})"
    )
    print(
        f"- Full download ≤ {BYTES_PER_HASH_TARGET:.0f} B per hash: {verdict[per_hash <= BYTES_PER_HASH_TARGET]} "
        f"({per_hash:.2f} B, manifest raw; {per_hash_gzip:.2f} B with the manifest gzip'd)"
    )
    print(
        f"- Catch-up after 1,000 revocations < {CATCH_UP_TARGET:.0%} of the full download: "
        f"{verdict[share < CATCH_UP_TARGET]} ({share:.3%}; its publication {incremental:.2f} s)"
    )


def _extrapolate(results: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """80 M: sizes from the format, times and memory linear through the two largest sizes."""
    from verifier.revocation_partition import HEADER_SIZE, RECORD_SIZE, byte_ranges

    small, large = sorted(results)[-2:]
    measured = results[large]

    def linear(key: Callable[[dict[str, Any]], float]) -> float:
        a, b = key(results[small]), key(results[large])
        slope = (b - a) / (large - small)
        return b + slope * (EXTRAPOLATED - large)

    download = measured["download"]
    groups = download["groups"]
    # The groups' shares as seeded give each group's hashes at 80 M, and byte_ranges its parts.
    shares = [share for _, _, share in _groups_shape(groups)]
    counts = [int(EXTRAPOLATED * share) for share in shares]
    parts = 0
    part_bytes = 0
    kid_length = 8
    for count in counts:
        ranges = byte_ranges(count)
        parts += len(ranges)
        part_bytes += len(ranges) * (HEADER_SIZE + kid_length) + count * RECORD_SIZE
    # A part's entry in the JSON, then base64url in the JWS (4/3): the manifest grows with parts.
    per_part = download["part_entry_json"] * 4 / 3
    manifest = int(download["manifest"] + per_part * (parts - download["parts"]))
    # Catch-up: 1,000 random hashes land in every part of a kid's group (32 at 80 M), so the
    # verifier fetches that group's parts whole, plus the manifest and the index.
    kid_count = counts[0] + 1000
    kid_parts = len(byte_ranges(kid_count))
    touched = min(kid_parts, 1000)
    group_bytes = kid_parts * (HEADER_SIZE + kid_length) + kid_count * RECORD_SIZE
    index_and_rest = (
        measured["catch_up"]["total"]
        - measured["catch_up"]["bytes"].get("manifest", 0)
        - measured["catch_up"]["bytes"].get("parts", 0)
    )
    catch_up = int(index_and_rest + manifest + group_bytes * touched / kid_parts)
    return {
        "first_wall": linear(lambda r: r["first"]["wall"]),
        "first_rss": linear(lambda r: r["first"]["rss_peak"]),
        "scoped_wall": linear(lambda r: r["scoped"]["wall"]),
        "rebuild_wall": linear(lambda r: r["rebuild"]["wall"]),
        "incremental_wall": _incremental(measured, manifest),
        "groups": groups,
        "parts": parts,
        "manifest": manifest,
        "served": manifest + part_bytes,
        "catch_up": catch_up,
    }


def _incremental(measured: dict[str, Any], manifest: int) -> float:
    """An incremental publication at 80 M: what it costs at the largest size measured, its work on
    the content (one group read and encoded, the manifest built, signed and written) grown as the
    manifest does (the group grows less: 8x the hashes, but only its few parts are rewritten). The
    rest (outbox, index, audit checkpoint) does not grow with the hashes. A straight line through
    the two sizes is no use here: at both, the fixed part's noise is larger than the growth."""
    run = measured["catch_up"]["publish"]
    phases = run["phases"]
    content = phases.get("partitions.manifest (the whole build)", 0.0) + phases.get(
        "manifest: canonical JSON, digest, JWS, write", 0.0
    )
    return run["wall"] + content * (manifest / measured["download"]["manifest"] - 1)


def _groups_shape(groups: int) -> list[tuple[str, str, float]]:
    """The shares of the groups as seeded (the kids' first, then UNKNOWN_KID's), for the model."""
    kids = groups - len(COUNTRIES)
    return [("", "", (1 - UNKNOWN_SHARE) / kids)] * kids + [("", "", UNKNOWN_SHARE / len(COUNTRIES))] * len(COUNTRIES)


if __name__ == "__main__":
    main()
