"""Load on the production-like stack (scripts/stack.py) through nginx with mutual TLS.

Countries upload fresh DSCs (some raced from two connections at once, some revoked), readers
download the trust list (full and conditional, If-None-Match), and verifiers sync the signed
publication (index.jws and the lists and deltas it names, conditionally) with the verifier SDK,
all at once for a bounded time, over keep-alive HTTPS connections with the demo countries' client
certificates. It prints requests/s and latency per kind, the statuses, the machine, and checks:

- no 5xx and no failed connection;
- no DSC stored twice, every 2xx upload in /trustList exactly once afterwards (unless revoked,
  then absent, and revoked in the database), each raced DSC accepted exactly once;
- every published index and list a verifier downloaded verified (verifier.sync, which checks
  each with the verifier SDK against the pinned trust anchor);
- eventually published: a fresh verifier's state equals /trustList's DSCs, revocations included.

    .venv/bin/python bench/stack_load.py                         # brings a stack up, ~30 s of load
    .venv/bin/python bench/stack_load.py --duration 60 --readers 24
    .venv/bin/python bench/stack_load.py --stack-dir var/stack --listen 127.0.0.1:8443   # a running one

tests/test_stack_load.py runs the same code for a short time and asserts the checks only.
"""

from __future__ import annotations

import argparse
import base64
import collections
import concurrent.futures
import datetime as dt
import http.client
import json
import os
import random
import resource
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import machine_cpu_seconds, summarize, table  # noqa: E402
from gateway.pki import cms, issuance  # noqa: E402
from gateway.pki.certs import thumbprint  # noqa: E402
from tests.stack_support import CertPair, DemoCountry, Stack  # noqa: E402
from verifier import sync as verifier_sync  # noqa: E402
from verifier.certificates import load_anchor  # noqa: E402
from verifier.reasons import PublicationReason, VerificationError  # noqa: E402

COUNTRIES = ("XA", "XB", "XC")


@dataclass(frozen=True)
class LoadConfig:
    duration: float = 30.0
    uploaders_per_country: int = 1
    readers: int = 12  # /trustList and /trustList/DSC/<CC>
    verifiers: int = 3  # publication sync clients (index.jws and what it names)
    revoke_every: int = 4  # revoke every n-th accepted upload of an uploader
    race_every: int = 8  # every n-th upload is sent on two connections at once
    conditional_share: float = 0.7  # share of trust-list reads with If-None-Match once an ETag is known
    seed: int = 1


@dataclass(frozen=True)
class Sample:
    kind: str
    status: int  # 0: the connection failed
    seconds: float


@dataclass(frozen=True)
class Entry:
    """One upload or revocation and what the client was told."""

    country: str
    action: str  # "upload" or "revoke"
    thumbprint: str
    status: int


@dataclass
class LoadResult:
    config: LoadConfig
    wall_seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    ledger: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # connection failures, with the request
    verified_syncs: collections.Counter[str] = field(default_factory=collections.Counter)  # by mode
    verification_failures: list[str] = field(default_factory=list)
    machine_busy: float = 0.0  # share of all cores busy during the run
    client_cpu_seconds: float = 0.0
    cpu_by_role: dict[str, float] = field(default_factory=dict)  # CPU seconds during the run
    machine_cpu_seconds: float = 0.0  # busy CPU seconds of the whole machine during the run
    problems: list[str] = field(default_factory=list)
    publish_seconds: float | None = None  # from the end of the load until a verifier saw everything

    @property
    def statuses(self) -> collections.Counter[int]:
        return collections.Counter(sample.status for sample in self.samples)


class Client:
    """A keep-alive HTTPS connection that reconnects when the server closed it."""

    def __init__(self, stack: Stack, cert: CertPair | None) -> None:
        self.stack, self.cert = stack, cert
        self.context: ssl.SSLContext = stack.context(cert)
        self.connection: http.client.HTTPSConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes, float]:
        """(status, headers in lower case, body, seconds); status 0 if the connection failed.
        A GET on a kept-alive connection that the server had closed is sent again once; an upload
        or a revocation never is (the server may have acted on it: that is for the ledger)."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPSConnection(
                    self.stack.host, self.stack.port, context=self.context, timeout=60
                )
            start = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 1 and method == "GET":
                    continue
                return 0, {"error": repr(exc)}, b"", time.perf_counter() - start
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                return 0, {"error": repr(exc)}, b"", time.perf_counter() - start
            seconds = time.perf_counter() - start
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data, seconds
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class Recorder:
    """Samples and ledger entries of one thread (merged at the end, so no lock per request)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.ledger: list[Entry] = []
        self.errors: list[str] = []
        self.verified: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []

    def sample(self, kind: str, status: int, seconds: float, headers: dict[str, str], what: str) -> None:
        self.samples.append(Sample(kind, status, seconds))
        if status == 0:
            self.errors.append(f"{what}: {headers.get('error')}")


# --- the three roles ------------------------------------------------------------------------------


def _uploader(stack: Stack, code: str, number: int, config: LoadConfig, deadline: float, out: Recorder) -> None:
    country = stack.country(code)
    main = Client(stack, country.auth)
    racers = [Client(stack, country.auth), Client(stack, country.auth)]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    accepted = sent = 0
    try:
        while time.monotonic() < deadline:
            sent += 1
            body, print_, der = _fresh_upload(country, f"{code} load {number}-{sent}")
            if config.race_every and sent % config.race_every == 0:
                barrier = threading.Barrier(2)

                def race(client: Client, barrier: threading.Barrier = barrier, body: bytes = body) -> tuple:
                    barrier.wait(timeout=30)
                    return client.request("POST", "/signerCertificate", body, {"Content-Type": "application/cms"})

                answers = list(pool.map(race, racers))
                for status, headers, _, seconds in answers:
                    out.sample("POST /signerCertificate (raced)", status, seconds, headers, f"raced upload {print_}")
                    out.ledger.append(Entry(code, "upload", print_, status))
                status = 201 if any(answer[0] == 201 for answer in answers) else answers[0][0]
            else:
                status, headers, _, seconds = main.request(
                    "POST", "/signerCertificate", body, {"Content-Type": "application/cms"}
                )
                out.sample("POST /signerCertificate", status, seconds, headers, f"upload {print_}")
                out.ledger.append(Entry(code, "upload", print_, status))
            if status != 201:
                continue
            accepted += 1
            if config.revoke_every and accepted % config.revoke_every == 0:
                # Signed afresh: a replay of the upload's CMS does not revoke (docs/policy.md).
                revocation = base64.b64encode(
                    cms.sign(der, country.upload.certificate, country.upload.key, detached=False)
                )
                status, headers, _, seconds = main.request(
                    "DELETE", "/signerCertificate", revocation, {"Content-Type": "application/cms"}
                )
                out.sample("DELETE /signerCertificate", status, seconds, headers, f"revoke {print_}")
                out.ledger.append(Entry(code, "revoke", print_, status))
    finally:
        pool.shutdown()
        for client in (main, *racers):
            client.close()


def _fresh_upload(country: DemoCountry, name: str) -> tuple[bytes, str, bytes]:
    dsc = issuance.issue(
        issuance.name(name, country.code),
        at=dt.datetime.now(dt.UTC),
        issuer=country.csca,
        extended_key_usage=[issuance.EKU_VACCINATION],
    )
    message = cms.sign(dsc.der, country.upload.certificate, country.upload.key, detached=False)
    return base64.b64encode(message), thumbprint(dsc.der), dsc.der


def _reader(stack: Stack, number: int, config: LoadConfig, deadline: float, out: Recorder) -> None:
    rng = random.Random(config.seed * 1000 + number)
    client = Client(stack, stack.country(COUNTRIES[number % len(COUNTRIES)]).auth)
    etags: dict[str, str] = {}
    try:
        while time.monotonic() < deadline:
            path = rng.choice(["/trustList", *(f"/trustList/DSC/{code}" for code in COUNTRIES)])
            conditional = path in etags and rng.random() < config.conditional_share
            headers = {"If-None-Match": etags[path]} if conditional else {}
            status, answer, body, seconds = client.request("GET", path, headers=headers)
            kind = ("GET /trustList" if path == "/trustList" else "GET /trustList/DSC/<CC>") + (
                " (If-None-Match)" if conditional else ""
            )
            out.sample(kind, status, seconds, answer, f"GET {path}")
            if status == 200:
                json.loads(body)  # a torn or truncated body would not parse
                if "etag" in answer:
                    etags[path] = answer["etag"]
    finally:
        client.close()


PUBLICATION_KINDS = (
    ("index.jws", "GET /publication/index.jws"),
    ("trustlist", "GET /publication/…/trustlist.jws"),
    ("revocations", "GET /publication/…/revocations.jws"),
    ("delta", "GET /publication/…/delta.json"),
)


def _verifier(stack: Stack, number: int, folder: Path, deadline: float, out: Recorder) -> None:
    """The verifier SDK's sync in a loop: it downloads the index conditionally and, when it
    changed, the deltas or the full lists it names, verifying each against the trust anchor."""
    client = Client(stack, None)  # the publication is public: no client certificate
    anchors = [load_anchor(stack.trust_anchor.read_bytes())]
    base = f"https://{stack.host}:{stack.port}/publication/"

    def fetch(url: str, headers: dict[str, str], cap: int, progress: Any = None) -> verifier_sync.Response:
        path = urllib.parse.urlsplit(url).path
        status, answer, body, seconds = client.request("GET", path, headers={**headers, "Accept-Encoding": "identity"})
        kind = next((label for key, label in PUBLICATION_KINDS if key in path.rsplit("/", 1)[-1]), f"GET {path}")
        if status == 304:
            kind += " (If-None-Match)"
        out.sample(kind, status, seconds, answer, f"GET {path}")
        if status == 0:
            raise VerificationError(PublicationReason.HTTP_ERROR, f"{path}: {answer.get('error')}")
        if len(body) > cap:
            raise VerificationError(PublicationReason.OVERSIZE, f"{path}: {len(body)} bytes, at most {cap}")
        return verifier_sync.Response(status, answer, body)

    try:
        while time.monotonic() < deadline:
            try:
                result = verifier_sync.sync(base, folder, anchors, dt.datetime.now(dt.UTC), fetch=fetch)
                out.verified[result.mode] += 1
            except VerificationError as exc:
                out.failures.append(f"verifier {number}: {exc}")
                time.sleep(0.1)
    finally:
        client.close()


# --- running and checking -------------------------------------------------------------------------


def run_load(stack: Stack, config: LoadConfig, workdir: Path) -> LoadResult:
    """Run every role for ``config.duration`` seconds, then check (:func:`check`)."""
    result = LoadResult(config)
    deadline_in = config.duration
    recorders: list[Recorder] = []
    threads: list[threading.Thread] = []

    def start(target: Any, *args: Any) -> None:
        recorder = Recorder()
        recorders.append(recorder)
        thread = threading.Thread(target=target, args=(*args, recorder), daemon=True)
        threads.append(thread)

    _wait_for_first_publication(stack)
    roles_before = cpu_by_role(stack)
    busy_before, total_before = machine_cpu_seconds()
    cpu_before = _own_cpu()
    started = time.monotonic()
    deadline = started + deadline_in
    for code in COUNTRIES:
        for number in range(config.uploaders_per_country):
            start(_uploader, stack, code, number, config, deadline)
    for number in range(config.readers):
        start(_reader, stack, number, config, deadline)
    for number in range(config.verifiers):
        start(_verifier, stack, number, workdir / f"verifier-{number}", deadline)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=deadline_in + 120)
        if thread.is_alive():
            result.problems.append(f"a load thread ({thread.name}) did not finish")
    result.wall_seconds = time.monotonic() - started
    busy_after, total_after = machine_cpu_seconds()
    result.client_cpu_seconds = _own_cpu() - cpu_before
    roles_after = cpu_by_role(stack)
    result.machine_busy = (busy_after - busy_before) / max(total_after - total_before, 1e-9)
    result.machine_cpu_seconds = busy_after - busy_before
    result.cpu_by_role = {
        role: sum(cpu - roles_before.get(role, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for role, pids in roles_after.items()
    }
    for recorder in recorders:
        result.samples += recorder.samples
        result.ledger += recorder.ledger
        result.errors += recorder.errors
        result.verified_syncs.update(recorder.verified)
        result.verification_failures += recorder.failures
    check(stack, result, workdir)
    return result


def _wait_for_first_publication(stack: Stack, timeout: float = 60) -> None:
    """A stack just brought up has nothing published until its worker's first run (a verifier
    would get 404 for index.jws): the load starts once there is an index."""
    deadline = time.monotonic() + timeout
    while stack.request("GET", "/publication/index.jws").status != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing published {timeout:.0f} s after the stack came up")
        time.sleep(0.2)


def cpu_by_role(stack: Stack) -> dict[str, dict[int, float]]:
    """Cumulative CPU seconds of the stack's processes, by role and pid: nginx, gunicorn, the
    Celery worker and beat (each with the processes under it, from the pid files in run/), and
    the PostgreSQL backends connected to the stack's database."""
    from bench.common import process_cpu_seconds

    roles: dict[str, dict[int, float]] = {}
    for role, pid_file in (
        ("nginx", "nginx.pid"),
        ("gunicorn", "gunicorn.pid"),
        ("celery worker", "celery-worker.pid"),
        ("celery beat", "celery-beat.pid"),
    ):
        try:
            root = int((stack.dir / "run" / pid_file).read_text().strip())
        except (OSError, ValueError):
            continue
        roles[role] = {pid: process_cpu_seconds(pid) for pid in _process_tree(root)}
    database = stack.database_url.rsplit("/", 1)[-1]
    backends = stack.sql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'")
    roles["postgres backends"] = {pid: process_cpu_seconds(pid) for (pid,) in backends}
    return roles


def _process_tree(root: int) -> list[int]:
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                queue += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def check(stack: Stack, result: LoadResult, workdir: Path, publish_timeout: float = 90) -> None:
    problems = result.problems
    server_errors = [s for s in result.samples if s.status >= 500]
    if server_errors:
        problems.append(f"{len(server_errors)} server errors: {collections.Counter(s.kind for s in server_errors)}")
    if result.errors:
        problems.append(f"{len(result.errors)} failed connections, e.g. {result.errors[:3]}")
    if result.verification_failures:
        problems.append(f"{len(result.verification_failures)} failed verifications: {result.verification_failures[:3]}")
    if result.config.verifiers and not (result.verified_syncs["full"] + result.verified_syncs["delta"]):
        problems.append("no verifier downloaded and verified a publication")

    # The ledger against the database and /trustList.
    uploads: dict[str, list[int]] = collections.defaultdict(list)
    revoked: set[str] = set()
    for entry in result.ledger:
        if entry.action == "upload":
            uploads[entry.thumbprint].append(entry.status)
        elif entry.status == 204:
            revoked.add(entry.thumbprint)
    accepted = {print_ for print_, statuses in uploads.items() if 201 in statuses}
    for print_, statuses in uploads.items():
        if statuses.count(201) > 1:
            problems.append(f"{print_} was accepted {statuses.count(201)} times")
        if len(statuses) > 1 and sorted(statuses) != [201, 409]:
            problems.append(f"a raced upload of {print_} was answered {sorted(statuses)}, not one 201 and one 409")
    duplicates = stack.sql(
        "SELECT thumbprint, count(*) FROM trustlist_signercertificate GROUP BY thumbprint HAVING count(*) > 1"
    )
    if duplicates:
        problems.append(f"DSCs stored more than once: {duplicates[:5]}")
    rows = dict(stack.sql("SELECT thumbprint, revoked_at IS NOT NULL FROM trustlist_signercertificate"))
    listing = stack.request("GET", "/trustList", cert=stack.country("XA").auth)
    if listing.status != 200:
        problems.append(f"GET /trustList answered {listing.status} after the load")
        return
    listed = collections.Counter(e["thumbprint"] for e in listing.json() if e["certificateType"] == "DSC")
    for print_ in accepted:
        if print_ not in rows:
            problems.append(f"accepted upload {print_} is not in the database")
        elif print_ in revoked:
            if listed[print_] or not rows[print_]:
                problems.append(f"revoked {print_} is still listed or not revoked in the database")
        elif listed[print_] != 1:
            problems.append(f"accepted upload {print_} is listed {listed[print_]} times in /trustList")
    refused = set(uploads) - accepted
    if stored := refused & set(rows):
        problems.append(f"uploads that got no 2xx are stored: {sorted(stored)[:5]}")

    # Eventually published: a new verifier sees exactly what /trustList lists, and the revocations.
    anchors = [load_anchor(stack.trust_anchor.read_bytes())]
    base = f"https://{stack.host}:{stack.port}/publication/"
    started = time.monotonic()
    state = None
    while time.monotonic() - started < publish_timeout:
        folder = Path(tempfile.mkdtemp(prefix="final-", dir=workdir))
        try:
            verifier_sync.sync(base, folder, anchors, dt.datetime.now(dt.UTC), fetch=_fetcher(stack))
        except VerificationError as exc:
            problems.append(f"the final publication does not verify: {exc}")
            return
        state = verifier_sync.SyncState.load(folder)
        published = {t for t, e in state.trusted.items() if e.get("type") == "DSC"}
        if published == set(listed) and revoked <= set(state.revoked):
            result.publish_seconds = time.monotonic() - started
            return
        time.sleep(0.5)
    problems.append(
        f"not published within {publish_timeout:.0f} s after the load (sequence {state and state.sequence})"
    )


def _fetcher(stack: Stack) -> Any:
    client = Client(stack, None)

    def fetch(url: str, headers: dict[str, str], cap: int, progress: Any = None) -> verifier_sync.Response:
        status, answer, body, _ = client.request("GET", urllib.parse.urlsplit(url).path, headers=headers)
        if status == 0 or len(body) > cap:
            raise VerificationError(PublicationReason.HTTP_ERROR, f"{url}: {answer.get('error') or 'oversize'}")
        return verifier_sync.Response(status, answer, body)

    return fetch


# --- report -----------------------------------------------------------------------------------------


def report(result: LoadResult) -> str:
    wall = result.wall_seconds
    by_kind: dict[str, list[Sample]] = collections.defaultdict(list)
    for sample in result.samples:
        by_kind[sample.kind].append(sample)
    rows = []
    for kind in sorted(by_kind):
        samples = by_kind[kind]
        rows.append(_row(kind, samples, wall))
    rows.append(_row("**all**", result.samples, wall))
    lines = [
        table(("kind", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "statuses"), rows),
        "",
        f"Wall time {wall:.1f} s. Machine CPU busy during the run: {result.machine_busy:.0%} of all cores "
        f"({result.machine_cpu_seconds:.1f} CPU s). Where it went:",
        "",
        _cpu_table(result),
        "",
        f"Verifier syncs that verified: {dict(result.verified_syncs)}; failed: {len(result.verification_failures)}.",
    ]
    uploads = collections.Counter((e.action, e.status) for e in result.ledger)
    ledger = ", ".join(f"{action} {status}: {count}" for (action, status), count in sorted(uploads.items()))
    lines.append(f"Ledger: {ledger or 'no uploads.'}")
    if result.publish_seconds is not None:
        lines.append(f"Published: a new verifier saw every change {result.publish_seconds:.1f} s after the load ended.")
    lines.append("")
    lines.append("Checks: " + ("all passed." if not result.problems else "FAILED"))
    lines += [f"- {problem}" for problem in result.problems]
    return "\n".join(lines)


def _cpu_table(result: LoadResult) -> str:
    total = max(result.machine_cpu_seconds, 1e-9)
    seconds = {**result.cpu_by_role, "load generator (this process)": result.client_cpu_seconds}
    seconds["rest of the machine (kernel, WAL writer, anything else)"] = total - sum(seconds.values())
    rows = [(role, f"{value:.1f}", f"{value / total:.0%}") for role, value in seconds.items()]
    return table(("process", "CPU s", "share of busy CPU"), rows)


def _row(kind: str, samples: list[Sample], wall: float) -> tuple[object, ...]:
    summary = summarize([s.seconds for s in samples])
    statuses = collections.Counter(s.status for s in samples)
    return (
        kind,
        summary.count,
        f"{summary.count / wall:.1f}",
        f"{summary.p50_ms:.1f}",
        f"{summary.p95_ms:.1f}",
        f"{summary.p99_ms:.1f}",
        f"{summary.max_ms:.0f}",
        ", ".join(f"{status or 'failed'}: {count}" for status, count in sorted(statuses.items())),
    )


# --- command line ---------------------------------------------------------------------------------


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    arguments.add_argument("--uploaders-per-country", type=int, default=1)
    arguments.add_argument("--readers", type=int, default=12, help="trust-list reader threads (default 12)")
    arguments.add_argument("--verifiers", type=int, default=3, help="publication sync threads (default 3)")
    arguments.add_argument("--revoke-every", type=int, default=4)
    arguments.add_argument("--race-every", type=int, default=8)
    arguments.add_argument("--gunicorn-workers", default="3", help="when this script brings the stack up")
    arguments.add_argument("--stack-dir", type=Path, help="a running stack's GATEWAY_STACK_DIR (with --listen)")
    arguments.add_argument("--listen", help="a running stack's GATEWAY_STACK_LISTEN, e.g. 127.0.0.1:8443")
    args = arguments.parse_args()
    config = LoadConfig(
        duration=args.duration,
        uploaders_per_country=args.uploaders_per_country,
        readers=args.readers,
        verifiers=args.verifiers,
        revoke_every=args.revoke_every,
        race_every=args.race_every,
    )
    from tests import stack_support

    workdir = Path(tempfile.mkdtemp(prefix="stack-load-"))
    if args.stack_dir and args.listen:
        stack = stack_support.attach(args.stack_dir.resolve(), args.listen)
        owned = False
    else:
        print("bringing the stack up (scripts/stack.py up) ...", file=sys.stderr)
        stack = stack_support.start(workdir / "stack", rate="100000r/s", burst="100000", workers=args.gunicorn_workers)
        owned = True
    try:
        print(f"\n## Load through nginx (mutual TLS) on the stack at {stack.host}:{stack.port}\n")
        print("```")
        print(_machine(stack))
        print("```\n")
        print(_stack_description(stack, config, owned, args.gunicorn_workers))
        sys.stdout.flush()
        result = run_load(stack, config, workdir)
        print(report(result))
        load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"\nLoad average (1/5/15 min) after the run: {load}")
    finally:
        if owned:
            stack_support.stop(stack)
    sys.exit(1 if result.problems else 0)


def _machine(stack: Stack) -> str:
    """bench/common.py's machine description, with Django pointed at the stack's database."""
    for name in ("DATABASE_URL", "GATEWAY_VAR_DIR", "GATEWAY_TRUST_ANCHOR_FILES"):
        os.environ[name] = stack.env[name]
    os.environ["DJANGO_SETTINGS_MODULE"] = "gateway.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from bench.common import machine_description

    return machine_description()


def _stack_description(stack: Stack, config: LoadConfig, owned: bool, workers: str) -> str:
    gunicorn = f"gunicorn {workers} workers" if owned else "gunicorn (as configured)"
    return (
        f"Stack: nginx (2 worker processes, TLS 1.3, per-certificate rate limit out of reach) → {gunicorn} "
        "on a unix socket → Django; Celery worker (concurrency 2) and beat; PostgreSQL and a private Redis; "
        "everything and the load generator on this machine.\n\n"
        f"Load for {config.duration:.0f} s, threads in one process, each with its own keep-alive connection: "
        f"{config.uploaders_per_country * len(COUNTRIES)} uploaders (one per country: fresh DSCs back to back, "
        f"every {config.race_every}th raced on two more connections, every {config.revoke_every}th accepted one "
        f"revoked), {config.readers} trust-list readers (/trustList and /trustList/DSC/<CC>, "
        f"{config.conditional_share:.0%} conditional once an ETag is known), {config.verifiers} verifiers "
        "(verifier.sync in a loop: index.jws with If-None-Match, then the deltas or full lists it names, "
        "each verified against the trust anchor).\n"
    )


if __name__ == "__main__":
    main()
