"""Fault injection against the production-like stack (scripts/stack.py), with a ledger.

The stack runs on a private PostgreSQL cluster and a private Redis that these tests stop,
restart and crash; the machine's shared servers are never touched. Every upload a test makes
is written to a ledger with what the client was told: 2xx, a refusal (4xx), a 5xx (with its
body and headers), or "unknown" (connection error or timeout). After the fault is healed the
ledger is reconciled against the database, the published lists (synced and verified by the
reference verifier, through nginx, pinned to the trust anchor) and the audit log
(the reliability test plan, 2c "nothing lost"):

- every 2xx is stored exactly once, has its upload audit event, and is in the published trust
  list within CATCH_UP seconds of the fault being healed;
- every refusal is not stored; a 5xx is not stored either, unless the database went away while
  acknowledging the commit (PostgreSQL had made it durable, the gateway never heard: rare, and
  the 503 says a retry tells); an "unknown" may be stored or not; for both, an identical retry
  answers 201 or 409 accordingly (and what it stores is published like a 2xx); nothing is ever
  stored twice or without its audit event;
- the outbox drains, the audit log verifies (manage.py verify_audit_log), no sequence is
  published twice, and a watcher that reads the publish folder all along sees the sequence never
  go back and every index it reads verify with everything it names (verify_folder).

Run with `make test-faults` (pytest -m faults, in a process of its own).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from gateway.pki import issuance
from tests import processes, stack_support
from verifier import sync as verifier_sync
from verifier.certificates import load_anchor
from verifier.folder import verify_folder
from verifier.index import verify_index
from verifier.reasons import PublicationReason, VerificationError

pytestmark = pytest.mark.faults

PG_BIN = Path("/usr/lib/postgresql/15/bin")
COUNTRIES = ("XA", "XB", "XC")
CATCH_UP = 60  # seconds after a fault is healed by which every accepted upload must be published
SWEEP = 3  # seconds between the beat sweeper's runs in this stack


@pytest.fixture
def _django_db_helper() -> None:
    """No test database: the stack has its own, on the private cluster. (Overrides pytest-django's
    fixture, which conftest's autouse fixture asks for, so that this process never connects to
    the machine's shared PostgreSQL.)"""


# --- private servers ------------------------------------------------------------------------


class PrivatePostgres:
    """A throwaway cluster on a free port (initdb runs as the postgres user: it refuses root)."""

    def __init__(self) -> None:
        for binary in ("initdb", "pg_ctl"):
            assert (PG_BIN / binary).exists(), f"{PG_BIN / binary} is missing (apt-get install postgresql-15)"
        for binary in ("runuser", "psql"):
            assert shutil.which(binary), f"{binary} is missing"
        self.root = Path(tempfile.mkdtemp(prefix="gateway-faults-pg-"))
        shutil.chown(self.root, "postgres")
        self.data, self.sockets, self.log = self.root / "data", self.root / "sockets", self.root / "postgres.log"
        self.port = stack_support.free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.sockets.mkdir()
        shutil.chown(self.sockets, "postgres")

    def start(self) -> None:
        self._pg("pg_ctl", *self._options(), "start")

    def restart(self, mode: str) -> None:
        self._pg("pg_ctl", *self._options(), "-m", mode, "restart")

    def stop(self, mode: str) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def cleanup(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _options(self) -> list[str]:
        server = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        return ["-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", server]

    def _pg(self, binary: str, *arguments: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / binary), *arguments],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 0, f"{binary} {' '.join(arguments)}: {done.stdout}{done.stderr}"


# --- the stack --------------------------------------------------------------------------------


@dataclass
class FaultStack:
    dir: Path
    listen: str
    env: dict[str, str]  # scripts/stack.py's environment
    postgres: PrivatePostgres
    redis_port: int
    redis: subprocess.Popen[bytes] | None = None
    http: stack_support.Stack | None = None  # requests, manage.py and SQL, once the stack is up
    countries: dict[str, stack_support.DemoCountry] = field(default_factory=dict)

    @property
    def api(self) -> stack_support.Stack:
        assert self.http is not None
        return self.http

    @property
    def publish(self) -> Path:
        return self.dir / "publish"

    def script(self, *arguments: str) -> None:
        done = subprocess.run(
            [*stack_support.SCRIPT, *arguments], env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"stack.py {' '.join(arguments)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        return self.api.sql(query)

    def stop_redis(self) -> None:
        assert self.redis is not None
        processes.stop(self.redis)
        self.redis = None

    def start_redis(self) -> None:
        assert self.redis is None
        self.redis = processes.start_redis(self.redis_port)

    def pid(self, service: str) -> int | None:
        pid_file = self.dir / "run" / f"{service}.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None

    def unpublished_changes(self) -> int:
        return self.sql("SELECT count(*) FROM outbox_change WHERE published_at IS NULL")[0][0]

    def healthy(self) -> None:
        """Where every test starts: servers and services up, nothing left to publish."""
        if self.redis is None:
            self.start_redis()
        if not self.postgres.running():
            self.postgres.start()
        for service in ("celery-worker", "celery-beat"):
            pid = self.pid(service)
            if pid is None or not _alive(pid):
                self.start_service(service)
        processes.wait_for(lambda: not self.unpublished_changes(), timeout=CATCH_UP, what="a quiet publisher")

    def start_service(self, name: str) -> None:
        """``stack.py start`` and wait until the service says it is ready (Celery workers)."""
        offset = len(self.log(name))
        self.script("start", name)
        if name.startswith("celery-worker"):
            processes.wait_for(lambda: " ready." in self.log(name)[offset:], timeout=30, what=f"{name} to start")

    def log(self, name: str) -> str:
        path = self.dir / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tails(self, lines: int = 30) -> str:
        """The end of each service's log, for failure messages."""
        names = [*sorted(p.stem for p in (self.dir / "log").glob("celery-*.log")), "gunicorn"]
        return "\n".join(f"--- {name}\n" + "\n".join(self.log(name).splitlines()[-lines:]) for name in names)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def stack() -> Iterator[FaultStack]:
    for binary in ("redis-server", "nginx"):
        assert shutil.which(binary), f"{binary} is not installed (scripts/ensure-services installs it)"
    postgres = PrivatePostgres()
    folder = Path(tempfile.mkdtemp(prefix="gateway-faults-stack-"))
    listen, redis_port = f"127.0.0.1:{stack_support.free_port()}", stack_support.free_port()
    env = {
        **os.environ,
        "GATEWAY_STACK_DIR": str(folder),
        "GATEWAY_STACK_LISTEN": listen,
        "GATEWAY_STACK_POSTGRES": postgres.url,
        "GATEWAY_STACK_DATABASE": "gateway_faults",
        "GATEWAY_STACK_REDIS": f"redis://127.0.0.1:{redis_port}/0",
        "GATEWAY_STACK_RATE": "100000r/s",
        "GATEWAY_STACK_BURST": "100000",
        "GATEWAY_STACK_ANONYMOUS_RATE": "100000r/s",
        "GATEWAY_STACK_ANONYMOUS_BURST": "100000",
        "GATEWAY_STACK_WORKERS": "2",
        "GATEWAY_PUBLISH_SWEEP": str(SWEEP),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "GATEWAY_REQUIRE_SERVICES", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    running = FaultStack(folder, listen, env, postgres, redis_port)
    try:
        postgres.init()
        postgres.start()
        running.start_redis()
        running.script("up")
        exported = dict(
            line.removeprefix("export ").split("=", 1)
            for line in (folder / "env").read_text().splitlines()
            if line.startswith("export ")
        )
        host, port = listen.rsplit(":", 1)
        running.http = stack_support.Stack(folder, host, int(port), {**env, **exported})
        running.countries = {code: running.http.country(code) for code in COUNTRIES}
        yield running
    finally:
        try:
            subprocess.run([*stack_support.SCRIPT, "down"], env=env, capture_output=True, timeout=120, check=False)
        finally:
            if running.redis is not None:
                processes.stop(running.redis)
            postgres.cleanup()
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def healthy(stack: FaultStack) -> FaultStack:
    stack.healthy()
    return stack


# --- the ledger -------------------------------------------------------------------------------

_numbers = itertools.count()


@dataclass
class Entry:
    country: str
    thumbprint: str
    payload: bytes
    valid: bool  # an upload the gateway must accept (else one it must refuse)
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""
    retry_status: int | None = None

    @property
    def outcome(self) -> str:
        if self.status is None:
            return "unknown"
        if 200 <= self.status < 300:
            return "2xx"
        return "refused" if 400 <= self.status < 500 else "5xx"

    def describe(self) -> str:
        return f"{self.country} {self.thumbprint[:16]}: {self.outcome} {self.status} {self.body[:300]!r} {self.error}"


@dataclass
class Ledger:
    stack: FaultStack
    entries: list[Entry] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def upload(self, code: str, *, valid: bool = True) -> Entry:
        country = self.stack.countries[code]
        now = dt.datetime.now(dt.UTC)
        number = next(_numbers)
        # A valid DSC is issued by the country's onboarded CSCA; an invalid one by a CSCA nobody
        # onboarded, which the gateway must refuse (400) and not store.
        issuer = (
            country.csca if valid else issuance.issue(issuance.name(f"{code} rogue {number}", code), at=now, ca=True)
        )
        dsc = issuance.issue(
            issuance.name(f"{code} fault DSC {number}", code),
            at=now,
            issuer=issuer,
            extended_key_usage=[issuance.EKU_VACCINATION],
        )
        entry = Entry(code, hashlib.sha256(dsc.der).hexdigest(), country.cms_b64(dsc.der), valid)
        entry.status, entry.headers, entry.body, entry.error = _post(self.stack, code, entry.payload)
        with self.lock:
            self.entries.append(entry)
        return entry

    def counts(self) -> dict[str, int]:
        return dict(Counter(entry.outcome for entry in self.entries))

    def summary(self) -> str:
        counts = self.counts()
        return " / ".join(f"{name} {counts.get(name, 0)}" for name in ("2xx", "refused", "5xx", "unknown"))


def _post(stack: FaultStack, code: str, payload: bytes) -> tuple[int | None, dict[str, str], bytes, str]:
    try:
        response = stack.api.request(
            "POST",
            "/signerCertificate",
            cert=stack.countries[code].auth,
            body=payload,
            headers={"Content-Type": "application/cms"},
        )
    except (OSError, http.client.HTTPException) as exc:
        return None, {}, b"", f"{type(exc).__name__}: {exc}"
    return response.status, response.headers, response.body, ""


def upload_many(ledger: Ledger, count: int, *, threads: int = 3, invalid_every: int = 0) -> list[Entry]:
    """``count`` uploads spread over the demo countries, ``threads`` at a time."""

    def one(number: int) -> Entry:
        valid = not (invalid_every and number % invalid_every == invalid_every - 1)
        return ledger.upload(COUNTRIES[number % len(COUNTRIES)], valid=valid)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


class Uploader:
    """Clients that keep uploading (one invalid upload in ``invalid_every``) until stopped."""

    def __init__(self, ledger: Ledger, *, threads: int = 3, invalid_every: int = 6) -> None:
        self.ledger, self.invalid_every = ledger, invalid_every
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> Uploader:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _client(self, number: int) -> None:
        for sent in itertools.count():
            if self.halt.is_set():
                return
            valid = sent % self.invalid_every != self.invalid_every - 1
            entry = self.ledger.upload(COUNTRIES[number % len(COUNTRIES)], valid=valid)
            if entry.outcome in ("5xx", "unknown"):
                time.sleep(0.2)  # roughly what a client honouring Retry-After does


# --- what verifiers see -----------------------------------------------------------------------


def anchors(stack: FaultStack) -> list:
    return [load_anchor(stack.api.trust_anchor.read_bytes())]


class Verifier:
    """The reference verifier (verifier.sync) syncing through nginx, keeping its state between
    syncs as a real one does: it follows deltas across the faults, or falls back to full lists."""

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack
        self.state = stack.dir / "verifier-state"
        self.base = f"https://{stack.listen}/publication/"

    def fetch(self, url: str, headers: dict[str, str], cap: int, progress: object = None) -> verifier_sync.Response:
        connection = self.stack.api.connection()
        try:
            connection.request(
                "GET", urllib.parse.urlsplit(url).path, headers={**headers, "Accept-Encoding": "identity"}
            )
            response = connection.getresponse()
            body = response.read(cap + 1)
            if len(body) > cap:
                raise VerificationError(PublicationReason.OVERSIZE, url)
            return verifier_sync.Response(response.status, dict(response.getheaders()), body)
        finally:
            connection.close()

    def trusted(self) -> set[str]:
        """Sync, then the thumbprints the verifier now trusts. A sync may race a publication that
        prunes what the index it read names; it is retried, and must succeed."""
        for attempt in range(3):
            try:
                verifier_sync.sync(
                    self.base, self.state, anchors(self.stack), dt.datetime.now(dt.UTC), fetch=self.fetch
                )
                break
            except VerificationError:
                if attempt == 2:
                    raise
                time.sleep(0.5)
        return set(verifier_sync.SyncState.load(self.state).trusted)


@pytest.fixture(scope="module")
def verifier(stack: FaultStack) -> Verifier:
    return Verifier(stack)


def _publish_lock_holders(folder: Path, *, waiting: bool = False) -> set[int]:
    """Processes holding a lock on a file of the publish folder (a publication is running), or
    with ``waiting``, blocked waiting for one."""
    inodes = {path.stat().st_ino for path in folder.glob(".*lock")}
    found = set()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        blocked = len(parts) > 1 and parts[1] == "->"
        if blocked:
            del parts[1]
        if blocked == waiting and len(parts) > 5 and parts[1] == "FLOCK":
            if int(parts[5].rsplit(":", 1)[1]) in inodes:
                found.add(int(parts[4]))
    return found


def _in_group(pid: int, group: int | None) -> bool:
    try:
        return os.getpgid(pid) == group
    except ProcessLookupError:
        return False


class FolderWatcher(threading.Thread):
    """Reads the publish folder all along, as a mirror or a polling verifier would: the index's
    sequence never goes back, two indexes never claim one sequence, and every index verifies with
    everything it names (a problem only counts if that index is still the current one after the
    check, since a newer one may prune what an older one named)."""

    def __init__(self, stack: FaultStack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.halt = threading.Event()
        self.problems: list[str] = []
        self.sequences: list[int] = []
        self.current: bytes = b""

    def run(self) -> None:
        while not self.halt.wait(0.02):
            try:
                self.check()
            except Exception as exc:
                self.problems.append(f"watcher: {type(exc).__name__}: {exc}")

    def check(self) -> None:
        try:
            data = (self.stack.publish / "index.jws").read_bytes()
        except FileNotFoundError:
            self.problems.append("index.jws disappeared")
            return
        if data == self.current:
            return
        now = dt.datetime.now(dt.UTC)
        try:
            index = verify_index(data, anchors(self.stack), now)
        except VerificationError as exc:
            self.problems.append(f"index.jws does not verify: {exc}")
            return
        if self.sequences and index.sequence < self.sequences[-1]:
            self.problems.append(f"the index went back from {self.sequences[-1]} to {index.sequence}")
        elif self.sequences and index.sequence == self.sequences[-1]:
            self.problems.append(f"two different indexes claim sequence {index.sequence}")
        self.current = data
        self.sequences.append(index.sequence)
        report = verify_folder(self.stack.publish, anchors(self.stack), now)
        if report.problems and (self.stack.publish / "index.jws").read_bytes() == data:
            self.problems.extend(f"index {index.sequence}: {problem}" for problem in report.problems)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)
        self.check()


@pytest.fixture
def watcher(healthy: FaultStack) -> Iterator[FolderWatcher]:
    watching = FolderWatcher(healthy)
    watching.check()
    watching.start()
    yield watching
    watching.stop()
    assert watching.problems == [], watching.problems[:10]


# --- reconciliation ---------------------------------------------------------------------------


def _stored(stack: FaultStack, thumbprints: set[str]) -> tuple[Counter[str], Counter[str]]:
    """How often each thumbprint is stored, and its successful upload audit events."""
    listed = ",".join(f"'{t}'" for t in sorted(thumbprints)) or "''"
    rows = stack.sql(f"SELECT thumbprint FROM trustlist_signercertificate WHERE thumbprint IN ({listed})")
    events = stack.sql(
        "SELECT subject_thumbprint FROM audit_auditevent WHERE action = 'UPLOAD' AND outcome = 'SUCCESS' "
        f"AND subject_thumbprint IN ({listed})"
    )
    return Counter(row[0] for row in rows), Counter(row[0] for row in events)


def reconcile(stack: FaultStack, ledger: Ledger, verifier: Verifier, *, healed_at: float) -> float:
    """Ledger against database, published lists and audit log (see the module docstring).
    Returns the seconds from ``healed_at`` until everything accepted was published."""
    thumbprints = {entry.thumbprint for entry in ledger.entries}
    stored, audited = _stored(stack, thumbprints)
    for entry in ledger.entries:
        assert stored[entry.thumbprint] <= 1, f"stored twice: {entry.describe()}"
        assert audited[entry.thumbprint] == stored[entry.thumbprint], f"stored without its event: {entry.describe()}"
        if entry.outcome == "2xx":
            assert entry.valid, f"accepted what must be refused: {entry.describe()}"
            assert entry.status == 201, entry.describe()
            assert stored[entry.thumbprint] == 1, f"accepted but not stored: {entry.describe()}"
        elif entry.outcome == "refused":
            assert stored[entry.thumbprint] == 0, f"refused but stored: {entry.describe()}"
        if entry.outcome == "refused":
            assert not entry.valid, f"wrongly refused: {entry.describe()}"
            assert entry.status == 400, entry.describe()
    # An identical retry of what got a 5xx or no answer: 201 if it was not stored, 409 if it was
    # (a 5xx whose commit's acknowledgement was lost: stored, whole, with its audit event).
    for entry in ledger.entries:
        if entry.valid and entry.outcome in ("5xx", "unknown"):
            entry.retry_status, _, body, error = _post(stack, entry.country, entry.payload)
            expected = 409 if stored[entry.thumbprint] else 201
            assert entry.retry_status == expected, (
                f"retry answered {entry.retry_status} {body!r} {error}: {entry.describe()}"
            )
    accepted = {e.thumbprint for e in ledger.entries if e.outcome == "2xx" or e.retry_status}
    stored, audited = _stored(stack, thumbprints)
    assert set(+stored) == accepted, "stored is not what the ledger says was accepted"
    assert all(audited[t] == 1 for t in accepted)

    try:
        processes.wait_for(
            lambda: accepted <= verifier.trusted(),
            timeout=max(1.0, healed_at + CATCH_UP - time.monotonic()),
            what="the accepted uploads to be published",
            interval=0.25,
        )
    except AssertionError as exc:
        missing = len(accepted - verifier.trusted())
        raise AssertionError(f"{exc}: {missing} unpublished\n{stack.tails()}") from None
    seconds = time.monotonic() - healed_at
    assert not (thumbprints - accepted) & verifier.trusted(), "something refused is published"
    processes.wait_for(lambda: not stack.unpublished_changes(), timeout=CATCH_UP, what="the outbox to drain")
    report = verify_folder(stack.publish, anchors(stack), dt.datetime.now(dt.UTC))
    assert report.problems == [], report.problems
    twice = stack.sql(
        "SELECT details->>'sequence', count(*) FROM audit_auditevent WHERE action = 'PUBLISH' "
        "GROUP BY 1 HAVING count(*) > 1"
    )
    assert twice == [], f"sequences published more than once: {twice}"
    issued = [
        row[0] for row in stack.sql("SELECT issued_at FROM trustlist_publication WHERE index_sha256 <> '' ORDER BY id")
    ]
    assert issued == sorted(issued), "issue times go back as sequences go up"
    stack.api.manage("verify_audit_log")
    return seconds


def queue_tasks(stack: FaultStack, name: str, count: int = 1, **options: Any) -> None:
    """Put tasks on the stack's broker, as the gateway and beat do."""
    app = Celery("faults", broker=stack.api.env["REDIS_URL"], set_as_current=False)
    try:
        for _ in range(count):
            app.send_task(name, **options)
    finally:
        app.close()


def _published_sequences(stack: FaultStack) -> list[int]:
    """Every "published sequence N" the workers logged."""
    return [
        int(number)
        for log in sorted((stack.dir / "log").glob("celery-worker*.log"))
        for number in re.findall(r"published sequence (\d+)", log.read_text(errors="replace"))
    ]


# --- 1. Redis stopped while uploads continue ------------------------------------------------


def test_redis_down_uploads_succeed_and_the_worker_publishes_them_when_it_returns(healthy, watcher, verifier):
    stack, ledger = healthy, Ledger(healthy)
    worker = stack.pid("celery-worker")
    assert worker is not None
    assert stack.redis is not None
    # The worker holds messages it has not acknowledged across the outage, as it does whenever a
    # task runs (acks_late) or waits for its countdown: a task waiting 30 s, and publications
    # kept running (they wait for the publish folder's lock, held here) until Redis is back.
    # Unpatched, kombu crashes the worker on either and nothing is published again (gateway/broker.py).
    waiting = f"faults-{uuid.uuid4()}"
    queue_tasks(stack, "trustlist.tasks.publish_if_due", countdown=30, task_id=waiting)
    processes.wait_for(lambda: waiting in stack.log("celery-worker"), timeout=10, what="the worker to take the task")
    with open(stack.publish / ".lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            upload_many(ledger, 3)
            processes.wait_for(
                lambda: any(_in_group(p, worker) for p in _publish_lock_holders(stack.publish, waiting=True)),
                timeout=10,
                what="a publication to wait for the lock",
            )
            # Hung first (SIGSTOP: connections stay open, nothing answers), then gone.
            os.kill(stack.redis.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                hung = upload_many(ledger, 3)
                hung_seconds = time.monotonic() - started
            finally:
                os.kill(stack.redis.pid, signal.SIGCONT)
            assert [e.status for e in hung] == [201] * 3, [e.describe() for e in hung]
            stack.stop_redis()
            try:
                during = upload_many(ledger, 18, invalid_every=6)
                assert [e.status for e in during if e.valid] == [201] * 15, [e.describe() for e in during]
                assert [e.status for e in during if not e.valid] == [400] * 3, [e.describe() for e in during]
                listed = ",".join(f"'{e.thumbprint}'" for e in during if e.valid)
                # Each change's outbox row committed with it, whether or not its task was queued.
                assert stack.sql(f"SELECT count(*) FROM outbox_change WHERE thumbprint IN ({listed})") == [(15,)]
                time.sleep(2)  # the worker has noticed the loss and keeps trying to reconnect
                assert _alive(worker), f"the worker exited when Redis went away\n{stack.tails()}"
                reconnected = len(stack.log("celery-worker"))
            finally:
                stack.start_redis()
            processes.wait_for(
                lambda: "Connected to" in stack.log("celery-worker")[reconnected:], timeout=30, what="the reconnection"
            )
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)  # the old publications end, on the old connection
    healed_at = time.monotonic()
    seconds = reconcile(stack, ledger, verifier, healed_at=healed_at)
    after = upload_many(ledger, 3)
    assert [e.status for e in after] == [201] * 3
    reconcile(stack, ledger, verifier, healed_at=time.monotonic())
    assert stack.pid("celery-worker") == worker
    assert _alive(worker), "the same worker published once Redis was back"
    print(
        f"\nRedis hung, then down: {ledger.summary()}; 3 uploads took {hung_seconds:.1f} s while it hung; "
        f"all published {seconds:.1f} s after it returned"
    )


# --- 2. PostgreSQL restarted while uploads continue ------------------------------------------


def _gunicorn_workers(stack: FaultStack) -> set[int]:
    master = stack.pid("gunicorn")
    assert master is not None
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def test_postgres_restarts_are_503_with_retry_after_and_the_web_workers_recover(healthy, watcher, verifier):
    stack, ledger = healthy, Ledger(healthy)
    web_workers = _gunicorn_workers(stack)
    upload_many(ledger, 3)  # every web worker now holds a database connection
    marks = []  # ledger positions: before the restart, before the crash, at the end
    with Uploader(ledger, threads=3):
        time.sleep(1.5)
        marks.append(len(ledger.entries))
        stack.postgres.restart("fast")  # what an operator does: clean shutdown, sessions terminated
        time.sleep(2)
        marks.append(len(ledger.entries))
        stack.postgres.stop("immediate")  # a crash: no checkpoint, WAL recovery on start
        time.sleep(2)  # down: connections are refused
        stack.postgres.start()
        time.sleep(2)
    marks.append(len(ledger.entries))
    healed_at = time.monotonic()
    failures = [e for e in ledger.entries if e.outcome == "5xx"]
    assert failures, "no request met the database while it was down; the test proves nothing"
    for entry in failures:
        assert entry.status == 503, entry.describe()
        assert entry.headers.get("retry-after", "").isdigit(), entry.describe()
        body = json.loads(entry.body)
        assert (body["code"], body["reason"]) == ("0x008", "DATABASE_UNAVAILABLE"), entry.describe()
    # The same web workers, with new connections, serve again: nobody restarted them.
    recovered = upload_many(ledger, 6)
    assert [e.status for e in recovered] == [201] * 6, [e.describe() for e in recovered]
    assert _gunicorn_workers(stack) == web_workers
    seconds = reconcile(stack, ledger, verifier, healed_at=healed_at)
    # Only a commit in flight when the server went away can be stored behind its 503 (its retry
    # answered 409): at most one per uploader thread and fault, not every upload of the outage.
    stored_behind_503 = [e for e in ledger.entries if e.outcome == "5xx" and e.retry_status == 409]
    assert len(stored_behind_503) <= 3 * 2, [e.describe() for e in stored_behind_503]
    fast, crash = (Counter(e.outcome for e in ledger.entries[a:b])["5xx"] for a, b in itertools.pairwise(marks))
    print(
        f"\nPostgreSQL restarted (-m fast: {fast} 503s; crash and 2 s down: {crash} 503s, "
        f"{len(stored_behind_503)} of them committed before the connection broke): {ledger.summary()}; "
        f"all published {seconds:.1f} s after it was back"
    )


# --- 3. the Celery worker killed during a publication ---------------------------------------


def _kill_during_publication(stack: FaultStack, *, delay: float, timeout: float = 30) -> int:
    """Wait until a process of the worker holds a lock of the publish folder (it is publishing),
    wait ``delay`` more, and if it still holds it SIGKILL the worker's whole process group.
    Returns the process that held the lock."""
    worker = stack.pid("celery-worker")
    assert worker is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for holder in _publish_lock_holders(stack.publish):
            if not _in_group(holder, worker):
                continue
            time.sleep(delay)
            if holder not in _publish_lock_holders(stack.publish):
                break  # that publication is over; wait for the next one
            os.killpg(worker, signal.SIGKILL)
            stack.script("kill", "celery-worker")  # reaps it and removes its pid file
            return holder
        time.sleep(0.002)
    raise AssertionError(f"no publication started within {timeout} s\n{stack.tails()}")


def test_worker_killed_during_publication_leaves_a_valid_folder_and_publishes_afterwards(healthy, watcher, verifier):
    stack, ledger = healthy, Ledger(healthy)
    kills = []
    with Uploader(ledger, threads=3, invalid_every=8):
        for delay in (0.0, 0.02, 0.05):
            before = verify_index((stack.publish / "index.jws").read_bytes(), anchors(stack), dt.datetime.now(dt.UTC))
            kills.append(_kill_during_publication(stack, delay=delay))
            # Right after the crash: the index names files that exist and verify, and it has
            # not gone back. (The watcher checks the same all along.)
            report = verify_folder(stack.publish, anchors(stack), dt.datetime.now(dt.UTC))
            assert report.problems == [], report.problems
            assert report.sequence >= before.sequence
            stack.start_service("celery-worker")
    healed_at = time.monotonic()
    seconds = reconcile(stack, ledger, verifier, healed_at=healed_at)
    torn = stack.sql("SELECT count(*) FROM trustlist_publication WHERE index_sha256 = ''")[0][0]
    leftovers = sorted(str(p.relative_to(stack.publish)) for p in stack.publish.rglob(".*.tmp"))
    print(
        f"\nworker killed {len(kills)} times during a publication: {ledger.summary()}; all published "
        f"{seconds:.1f} s after the last restart; {torn} sequence(s) reserved and never published; "
        f"temporary files left behind: {leftovers or 'none'}"
    )


# --- 4. two workers publishing at once ----------------------------------------------------------


def test_two_workers_publishing_at_once_never_share_or_reverse_a_sequence(healthy, watcher, verifier):
    stack, ledger = healthy, Ledger(healthy)
    logged_before = _published_sequences(stack)
    try:
        stack.start_service("celery-worker-2")
        with Uploader(ledger, threads=4, invalid_every=10):
            for _ in range(6):
                queue_tasks(stack, "trustlist.tasks.publish_changes", count=4)
                queue_tasks(stack, "trustlist.tasks.publish_if_due", count=2)
                time.sleep(1)
        healed_at = time.monotonic()
        seconds = reconcile(stack, ledger, verifier, healed_at=healed_at)
        second = stack.log("celery-worker-2")
    finally:
        stack.script("stop", "celery-worker-2")
    assert "publish_changes" in second, "the second worker took no publication task"
    logged = _published_sequences(stack)
    assert len(set(logged)) == len(logged), f"a sequence was published twice: {sorted(logged)}"
    assert len(watcher.sequences) >= 2
    print(
        f"\ntwo workers: {ledger.summary()}; {len(logged) - len(logged_before)} sequences published "
        f"({second.count('published sequence')} by the second worker), all uploads {seconds:.1f} s after the last one"
    )
