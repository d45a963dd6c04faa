"""Real processes for end-to-end tests: Redis, Celery worker and beat, manage.py commands.

They run against the test database that pytest-django created (its name is read from the
live connection), so the tests using them need committed data: django_db(transaction=True).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    params = connection.settings_dict
    assert connection.vendor == "postgresql", "worker tests need PostgreSQL"
    user = params.get("USER") or "postgres"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{params['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(redis_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "GATEWAY_TRUST_ANCHOR_FILES": ",".join(settings.GATEWAY_TRUST_ANCHOR_FILES),
        "GATEWAY_PUBLISH_DIR": settings.GATEWAY_PUBLISH_DIR,
        "GATEWAY_PUBLISHER_KEY_DIR": settings.GATEWAY_PUBLISHER_KEY_DIR,
        "GATEWAY_VIRTUAL_COUNTRIES": ",".join(settings.GATEWAY_VIRTUAL_COUNTRIES),
        **extra,
    }


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A private Redis that a test may stop and start again (the shared one stays untouched)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (scripts/ensure-services installs it)"
    process = start_redis(port)
    try:
        yield process
    finally:
        stop(process)


def start_redis(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    stop(process)
    raise AssertionError(f"redis did not start on port {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def celery(kind: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A gateway worker|beat`` until the block ends."""
    arguments = [sys.executable, "-m", "celery", "-A", "gateway", kind, "--loglevel", "INFO"]
    if kind == "worker":
        arguments += ["--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    else:
        arguments += ["--schedule", str(log.with_suffix(".schedule"))]
    with open(log, "wb") as output:
        process = subprocess.Popen(arguments, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        if kind == "worker":
            wait_for(lambda: b"ready." in log.read_bytes(), timeout=30, what=f"celery worker (log {log})")
        yield process
    finally:
        stop(process)


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll until ``condition()`` is true; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def manage(*arguments: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
