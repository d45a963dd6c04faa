"""Fixtures: a trust anchor configured in settings, onboarded virtual countries, frozen time.

Tests run on SQLite by default and on PostgreSQL when DATABASE_URL points there (.ci/run
does both). GATEWAY_REQUIRE_SERVICES=1 turns a missing service into a failure, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import time_machine

from tests.factory import NOW, CountryPki, Pki
from trustlist import rendering

PROXY = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parent.parent / "test-output"  # the browser tests' screenshots


@pytest.fixture(autouse=True)
def _gateway_settings(settings, tmp_path):
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):  # this process's own, never a shared Redis
        caches["default"].clear()  # e.g. the login's counters: each test starts with none
    # Every person a test makes costs one password hash: PBKDF2's million rounds took a quarter of
    # a second each, over a minute of every run for the admin's persona fixtures alone. The real
    # hasher's cost is what bench/login_timing.py measures; processes the tests start (make run,
    # the stack) keep the production setting.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.GATEWAY_TRUSTED_PROXIES = [f"{PROXY}/32"]
    settings.GATEWAY_VIRTUAL_COUNTRIES = ["XA", "XB", "XC"]
    settings.GATEWAY_PUBLISH_DIR = str(tmp_path / "publish")
    settings.GATEWAY_PUBLISHER_KEY_DIR = str(tmp_path / "publisher")
    rendering.clear_cache()
    yield
    rendering.clear_cache()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """The test database on PostgreSQL commits without waiting for its WAL to reach the disk
    (synchronous_commit off, for this process's connections only): a crash could lose the last
    commits of a database that is dropped anyway, and nothing that a test sees changes, while
    every commit of the transactional tests (each statement, and the flush after each test) no
    longer waits for an fsync, which a busy disk made the largest part of the PostgreSQL run.
    The processes the tests start keep PostgreSQL's default."""
    from django.conf import settings

    for database in settings.DATABASES.values():
        if database["ENGINE"] == "django.db.backends.postgresql":
            options = database.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pki(settings, tmp_path) -> Pki:
    factory = Pki.create()
    ta_file = tmp_path / "ta.pem"
    ta_file.write_bytes(factory.ta.cert_pem)
    settings.GATEWAY_TRUST_ANCHOR_FILES = [str(ta_file)]
    return factory


@pytest.fixture
def xa(pki, db, frozen) -> CountryPki:
    return pki.country("XA")


@pytest.fixture
def xb(pki, db, frozen) -> CountryPki:
    return pki.country("XB")


@pytest.fixture(scope="session")
def open_stack(tmp_path_factory):
    """One production-like stack (scripts/stack.py: nginx mTLS, gunicorn, Celery, PostgreSQL,
    Redis) shared by the end-to-end modules, with a per-certificate rate limit that none of their
    clients reaches. tests/test_stack.py brings up its own, with a low limit, to test the limit."""
    from tests import stack_support

    with stack_support.running(tmp_path_factory.mktemp("open-stack"), rate="100000r/s", burst="100000") as stack:
        yield stack


@pytest.fixture
def browser():
    """A headless Chromium (Debian's, through Playwright) for the browser tests: against Django's
    live server (tests/test_admin_browser.py) or the nginx stack (tests/test_admin_stack.py)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (scripts/ensure-services installs it)"
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield instance
        instance.close()
        # While Playwright's event loop runs in this thread, Django's connections are per context
        # (asgiref.local): the ORM calls made meanwhile used a connection of their own. Close it
        # here, in that context, or it outlives the test and blocks dropping the test database.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}
# What a test marked no_db may not ask for: it would then need the PostgreSQL run it is left out of
# (not django_db_blocker: pytest-django's own autouse fixtures give every test that one).
NOT_FOR_NO_DB = DB_FIXTURES | {"django_db_setup", "_django_db_helper", "open_stack"}


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("GATEWAY_REQUIRE_SERVICES") and "postgresql" not in engine:
        raise pytest.UsageError(f"GATEWAY_REQUIRE_SERVICES is set but the database engine is {engine}")
    # A test marked no_db runs once, in the SQLite run (make test-postgres deselects it): one that
    # asks for a database or a service is refused here, in every run, rather than go untested on
    # PostgreSQL; one that touches the database anyway fails (pytest-django blocks it, see below).
    asking = [
        item.nodeid
        for item in items
        if item.get_closest_marker("no_db")
        and (
            NOT_FOR_NO_DB & set(getattr(item, "fixturenames", ()))
            or any(item.get_closest_marker(name) for name in ("django_db", "postgres", "e2e", "faults"))
        )
    ]
    if asking:
        raise pytest.UsageError("marked no_db but asks for a database or a service: " + ", ".join(asking))


@pytest.fixture(autouse=True)
def _append_only_tables_flushable_between_tests(request):
    """Transactional tests end with a TRUNCATE of every table, which the audit log's triggers
    refuse on PostgreSQL. Only between tests, and only in this test session, the session's
    replication role is set to `replica` (which skips user triggers) for that flush.

    End-to-end tests that ask for no database (they talk to processes with databases of their
    own) are left alone: pytest-django creates the test database only when a collected test
    asks for one, so a run of only those would otherwise fail to connect. Tests marked no_db
    are left without a database altogether: pytest-django then refuses any access to it, so a
    test that is marked so wrongly fails on SQLite instead of going untested on PostgreSQL."""
    marker = request.node.get_closest_marker("django_db")
    if request.node.get_closest_marker("no_db"):  # no database at all: pytest-django refuses any access
        yield
        return
    if request.node.get_closest_marker("e2e") and marker is None and not DB_FIXTURES & set(request.fixturenames):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    transactional = bool(marker and marker.kwargs.get("transaction")) or "transactional_db" in request.fixturenames
    from django.db import connection

    postgres = transactional and connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = origin")
    yield
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")


def otp_login(client, user):
    """Log ``user`` in as the admin requires: with a verified one-time-password device."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="test", defaults={"confirmed": True})
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
