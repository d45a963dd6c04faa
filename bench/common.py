"""Shared benchmark plumbing: machine description, Django on a fresh database, in-process WSGI calls.

Every benchmark runs in one process per database (Django settings are read once per process), so
``--db both`` re-runs the script once with ``--db sqlite`` and once with ``--db postgres``.
Nothing goes over the network: requests are WSGI environ dicts handed to
``gateway.wsgi.application``, timed with ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import io
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
POSTGRES_BENCH_DB = "gateway_bench"
PROXY = "127.0.0.1"
DATABASES = ("sqlite", "postgres")


# --- command line ---------------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    result.add_argument("--profile", action="store_true", help="run the timed part under cProfile and print the top")
    return result


def run_per_database(args: argparse.Namespace, script: str) -> bool:
    """For ``--db both``, run ``script`` once per database in a child process; True if it did."""
    if args.db != "both":
        return False
    argv: list[str] = []
    arguments = iter(sys.argv[1:])
    for arg in arguments:
        if arg == "--db":
            next(arguments, None)  # and its value
        elif not arg.startswith("--db="):
            argv.append(arg)
    for db in DATABASES:
        sys.stdout.flush()
        subprocess.run([sys.executable, script, *argv, "--db", db], check=True)
    return True


# --- Django on a fresh database --------------------------------------------------------------------


@dataclass
class Environment:
    db: str
    database_url: str
    workdir: Path
    trust_anchor_file: Path


def setup_django(db: str, trust_anchor_pem: bytes) -> Environment:
    """Configure the gateway for ``db`` on a database created for this run, then migrate.

    SQLite: a new file in a temporary directory. PostgreSQL: ``gateway_bench`` dropped and
    created again. Identity headers are trusted from 127.0.0.1 and the given trust anchor is the
    only one configured. Everything else is the product's defaults (no Redis: eager tasks,
    local-memory cache).
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"gateway-bench-{db}-"))
    if not os.environ.get("BENCH_KEEP"):  # BENCH_KEEP=1 keeps the SQLite file and trust anchor
        creator = os.getpid()
        atexit.register(lambda: os.getpid() == creator and shutil.rmtree(workdir, ignore_errors=True))
    ta_file = workdir / "trust-anchor.pem"
    (workdir / "static").mkdir()  # STATIC_ROOT (under GATEWAY_VAR_DIR): keeps WhiteNoise quiet
    ta_file.write_bytes(trust_anchor_pem)
    if db == "sqlite":
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    elif db == "postgres":
        _recreate_postgres_database()
        database_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgres://") + (
            f"/{POSTGRES_BENCH_DB}"
        )
    else:
        raise ValueError(db)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "gateway.settings",
            "DATABASE_URL": database_url,
            "GATEWAY_VAR_DIR": str(workdir),
            "GATEWAY_TRUSTED_PROXIES": f"{PROXY}/32",
            "GATEWAY_TRUST_ANCHOR_FILES": str(ta_file),
            "LOG_LEVEL": "WARNING",
        }
    )
    # BENCH_BROKER=redis://... measures the production set-up: tasks are queued to Redis (for a
    # worker elsewhere) instead of run eagerly inside the request, as the embedded default does.
    if os.environ.get("BENCH_BROKER"):
        os.environ["REDIS_URL"] = os.environ["BENCH_BROKER"]
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.pop("DJANGO_DEBUG", None)

    import django
    from django.core.management import call_command

    django.setup()
    import gateway.wsgi  # noqa: F401 - runs django.setup() again, which reconfigures logging

    _count_log_records()
    call_command("migrate", interactive=False, verbosity=0)
    return Environment(db, database_url, workdir, ta_file)


class _CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[tuple[str, str, str]] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[(record.levelname, record.name, record.getMessage()[:100])] += 1
        if record.levelno >= logging.ERROR:
            sys.stderr.write(self.format(record) + "\n")


_log_counter = _CountingHandler()


def _count_log_records() -> None:
    """Count warnings instead of printing one line per request (errors are still printed)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler):
            root.removeHandler(handler)
    root.addHandler(_log_counter)


def log_summary() -> str:
    """The warnings and errors the gateway logged during the run, counted."""
    if not _log_counter.counts:
        return "The gateway logged no warnings or errors in this process."
    lines = ["The gateway logged, in this process (forked workers not counted):"]
    lines += [
        f"  {count:6d} x {level} {name}: {message}"
        for (level, name, message), count in _log_counter.counts.most_common()
    ]
    return "\n".join(lines)


def _recreate_postgres_database() -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_BENCH_DB}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{POSTGRES_BENCH_DB}"')


def wsgi_application() -> Callable[..., Iterable[bytes]]:
    from gateway.wsgi import application

    return application


# --- machine description ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _database_description() -> list[tuple[str, str]]:
    from django.db import connection

    rows: list[tuple[str, str]] = [("Database engine", connection.settings_dict["ENGINE"])]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT version()")
            rows.append(("Database server", cursor.fetchone()[0]))
            for setting in ("synchronous_commit", "fsync", "shared_buffers"):
                cursor.execute(f"SHOW {setting}")
                rows.append((f"  {setting}", cursor.fetchone()[0]))
            import psycopg

            rows.append(("Driver", f"psycopg {psycopg.__version__} (libpq {psycopg.pq.version()})"))
        elif connection.vendor == "sqlite":
            import sqlite3

            rows.append(("Database server", f"SQLite {sqlite3.sqlite_version} (in-process, file database)"))
            for pragma in ("journal_mode", "synchronous"):
                cursor.execute(f"PRAGMA {pragma}")
                rows.append((f"  {pragma}", str(cursor.fetchone()[0])))
        else:
            rows.append(("Database server", connection.vendor))
    rows.append(("CONN_MAX_AGE", str(connection.settings_dict.get("CONN_MAX_AGE"))))
    return rows


def code_state() -> str:
    """HEAD commit (read from .git, no git command) and the newest product source file's time."""
    head = "unknown"
    try:
        git = ROOT / ".git"
        common = git
        if git.is_file():  # a worktree: its HEAD in its own folder, the branches in the main one's
            git = Path(git.read_text().removeprefix("gitdir:").strip())
            common = (git / (git / "commondir").read_text().strip()).resolve()
        ref = (git / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            name = ref.removeprefix("ref: ")
            ref_file = common / name
            head = (
                f"{name.removeprefix('refs/heads/')} @ {ref_file.read_text().strip()[:12]}"
                if ref_file.exists()
                else name
            )
        else:
            head = ref[:12]
    except OSError:
        pass
    sources = [
        path
        for folder in ("gateway", "countries", "trustlist")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts or path.name != "__init__.py"
    ]
    newest = max((path.stat().st_mtime for path in sources), default=0.0)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(newest))
    return f"{head} (HEAD; working tree may differ), newest product .py modified {stamp}"


def background_cpu_percent(seconds: float = 1.0) -> float:
    """Share of all cores busy over a short sample: other work that would disturb the run."""
    before = machine_cpu_seconds()
    time.sleep(seconds)
    after = machine_cpu_seconds()
    total = after[1] - before[1]
    return max(after[0] - before[0], 0.0) / total if total else 0.0


def cpu_reference() -> str:
    """A fixed single-core workload (Python bytecode, SHA-256, zlib), best of 3: the same kind of
    VM has run at quite different speeds from one day to another (up to 1.8x on the same
    code), so figures from different days compare only through this."""
    import hashlib
    import zlib

    data = bytes(range(256)) * 4096  # 1 MiB
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for number in range(300_000):
            total += number * number % 7
        for _ in range(8):
            hashlib.sha256(data).digest()
            zlib.compress(data, 1)
        best = min(best, time.process_time() - start)
    return f"{best * 1000:.0f} ms (lower is faster; bench/common.py cpu_reference)"


def machine_description() -> str:
    import cryptography
    import django
    from cryptography.hazmat.backends.openssl.backend import backend

    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    busy = background_cpu_percent()
    rows = [
        ("CPU", _cpu_model()),
        ("Cores (logical)", str(os.cpu_count())),
        ("Cores usable", str(len(os.sched_getaffinity(0)))),
        ("RAM", _memory_gib()),
        ("Load average (1/5/15 min)", load),
        ("CPU busy just before the run", f"{busy:.0%} of all cores (1 s sample)"),
        ("CPU speed reference", cpu_reference()),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Django", django.get_version()),
        ("cryptography", f"{cryptography.__version__} ({backend.openssl_version_text()})"),
        ("Code", code_state()),
        *_database_description(),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)} : {value}" for name, value in rows)


# --- in-process WSGI -------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def call(
    app: Callable[..., Iterable[bytes]],
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: str = "",
) -> Response:
    """Call the WSGI application as a server behind the TLS terminator would (REMOTE_ADDR 127.0.0.1).

    ``headers`` are environ keys (``HTTP_X_SSL_CLIENT_SHA256`` ...). The response iterable is
    consumed and closed, so Django's request_finished handlers run inside the call.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": PROXY,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    if headers:
        environ.update(headers)
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = status
        captured["headers"] = response_headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Response(int(captured["status"].split()[0]), dict(captured["headers"]), content)


# --- CPU accounting ------------------------------------------------------------------------------


def database_backend_pid() -> int | None:
    """PID of this connection's PostgreSQL backend (same machine), None on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process from /proc (0.0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(values[:8]) / tick  # guest time is already included in user
    idle = (values[3] + values[4]) / tick
    return total - idle, total


# --- statistics and printing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float


def summarize(seconds: Sequence[float]) -> Summary:
    ms = sorted(value * 1000 for value in seconds)
    if len(ms) >= 2:
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    else:
        p50 = p95 = p99 = ms[0]
    return Summary(len(ms), statistics.fmean(ms), p50, p95, p99, ms[-1], ms[0])


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (also readable as plain text)."""
    text_rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(header[i]), *(len(row[i]) for row in text_rows)) for i in range(len(header))]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in text_rows]
    return "\n".join(lines)


def banner(title: str, env: Environment) -> None:
    print(f"\n## {title} — {env.db}\n")
    print("```")
    print(machine_description())
    print("```\n")
    sys.stdout.flush()


class Profiler:
    """cProfile around a block when enabled; prints the top functions afterwards."""

    def __init__(self, enabled: bool, label: str, limit: int = 30) -> None:
        self.enabled, self.label, self.limit = enabled, label, limit
        self._profile: Any = None

    def __enter__(self) -> Profiler:
        if self.enabled:
            import cProfile

            self._profile = cProfile.Profile()
            self._profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._profile is None:
            return
        self._profile.disable()
        import pstats

        for order in ("cumulative", "tottime"):
            stream = io.StringIO()
            stats = pstats.Stats(self._profile, stream=stream)
            stats.strip_dirs().sort_stats(order).print_stats(self.limit)
            print(f"\n### cProfile of {self.label}, by {order} (timings inflated by profiling)\n")
            print("```")
            print(stream.getvalue().strip())
            print("```")


def cleanup(args: argparse.Namespace, env: Environment, folder: Path, *, database: str) -> None:
    """Remove a run's folders and its PostgreSQL database, unless ``--keep`` asked to keep them."""
    from django.db import connections

    connections.close_all()
    if args.keep:
        print(f"\nKept: {folder}, {env.workdir}, database {env.database_url}")
        return
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(env.workdir, ignore_errors=True)
    if args.db == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
