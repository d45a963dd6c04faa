"""Health checks, Prometheus metrics, structured logs and the production settings' deploy check."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.config
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from prometheus_client import REGISTRY

from gateway.observability import freshness, logs
from gateway.observability.metrics import PublicationCollector
from publication.service import publish
from tests.factory import NOW
from tests.helpers import upload
from tests.publishing import install_publisher

ROOT = Path(__file__).resolve().parent.parent


def _health(client):
    response = client.get("/health/", {"format": "json"})
    return response.status_code, response.json()


def _failing(report: dict) -> dict:
    return {name: message.removeprefix("Unavailable: ") for name, message in report.items() if message != "OK"}


# --- health ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_liveness_answers_without_checks(client):
    response = client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)  # publishing sets its own isolation level
def test_health_is_503_until_something_is_published_then_200(client, pki, frozen):
    status, report = _health(client)
    assert status == 503
    assert list(_failing(report).values()) == ["nothing is published"]
    assert any(name.startswith("Database") for name in report)
    assert any(name.startswith("Cache") for name in report)
    install_publisher(pki)
    publish()
    status, report = _health(client)
    assert (status, _failing(report)) == (200, {})


@pytest.mark.django_db(transaction=True)  # the checks read on their own thread and connection
def test_health_fails_when_a_change_waits_too_long(client, pki, xa, settings, frozen, monkeypatch):
    install_publisher(pki)
    publish()
    # Keep the upload from being published, as if the broker and the worker were gone.
    monkeypatch.setattr("publication.tasks.request_publication", lambda *a, **k: None)
    monkeypatch.setattr("publication.tasks.publish_changes.delay", lambda *a, **k: None)
    monkeypatch.setattr("publication.tasks.publish_changes.apply_async", lambda *a, **k: None)
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    if freshness.read_state(Path(settings.GATEWAY_PUBLISH_DIR)).unpublished_changes == 0:
        pytest.fail("the upload was published although the trigger was disabled")
    settings.GATEWAY_HEALTH_MAX_PUBLICATION_LAG = 300
    assert _health(client)[0] == 200  # just committed: within the bound
    frozen.shift(dt.timedelta(seconds=301))
    status, report = _health(client)
    assert status == 503
    assert list(_failing(report).values()) == ["a change has waited more than 300 s to be published"]


def test_freshness_problems_name_expiry_and_lag():
    state = freshness.PublicationState(
        sequence=7,
        issued_at=NOW - dt.timedelta(hours=50),
        expires_at=NOW - dt.timedelta(hours=2),
        unpublished_changes=1,
        oldest_unpublished_at=NOW - dt.timedelta(seconds=10),
    )
    assert freshness.problems(state, now=NOW, max_lag=dt.timedelta(seconds=60)) == ["the published index has expired"]
    assert freshness.problems(state, now=NOW - dt.timedelta(hours=3), max_lag=dt.timedelta(seconds=60)) == []
    assert freshness.problems(state, now=NOW, max_lag=dt.timedelta(seconds=5)) == [
        "the published index has expired",
        "a change has waited more than 5 s to be published",
    ]


@pytest.mark.django_db(transaction=True)  # publishing sets its own isolation level
def test_health_checks_broker_and_worker_when_configured(client, settings, pki, frozen, monkeypatch):
    install_publisher(pki)
    publish()
    # A broker nobody listens on: both the broker and the worker check must fail by name.
    from tests.processes import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    from gateway.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = url
    app.close()
    try:
        status, report = _health(client)
    finally:
        app.conf.broker_url = saved
        app.close()
    assert status == 503
    failing = _failing(report)
    assert any(name.startswith("Redis") for name in failing), report
    assert failing.get("CeleryWorker()") == "the broker is unreachable", report
    assert not any(name.startswith(("Database", "Cache", "PublicationFreshness")) for name in failing), report


# --- metrics --------------------------------------------------------------------------------


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db(transaction=True)
def test_metrics_count_uploads_and_rejections_per_country(client, pki, frozen):
    xa = pki.country("XA")
    uploads, rejections = (
        _sample("gateway_uploads_total", country="XA"),
        _sample("gateway_rejections_total", country="XA", action="UPLOAD", reason="INVALID_BASE64"),
    )
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    assert upload(client, xa, b"not base64!!").status_code == 400
    assert _sample("gateway_uploads_total", country="XA") == uploads + 1
    assert _sample("gateway_rejections_total", country="XA", action="UPLOAD", reason="INVALID_BASE64") == rejections + 1
    body = client.get("/metrics").content.decode()
    assert 'gateway_uploads_total{country="XA"}' in body
    assert "django_http_requests_total_by_method_total" in body  # django-prometheus's own


@pytest.mark.django_db
def test_a_rolled_back_upload_is_not_counted(pki, xa, monkeypatch):
    from django.db import transaction

    from gateway.audit.models import Action, Outcome
    from gateway.audit.services import record_event

    before = _sample("gateway_uploads_total", country="XA")

    def failing_upload() -> None:
        with transaction.atomic():
            record_event(action=Action.UPLOAD, outcome=Outcome.SUCCESS, at=NOW, country="XA")
            raise RuntimeError("the upload's transaction fails after the event was written")

    with pytest.raises(RuntimeError):
        failing_upload()
    assert _sample("gateway_uploads_total", country="XA") == before


@pytest.mark.django_db(transaction=True)  # publishing sets its own isolation level
def test_publication_gauges(client, pki, frozen):
    collected = {metric.name: metric.samples for metric in PublicationCollector(clock=lambda: NOW).collect()}
    assert collected["gateway_published_sequence"][0].value == -1
    assert collected["gateway_published_age_seconds"] == []
    install_publisher(pki)
    publication = publish()
    later = NOW + dt.timedelta(seconds=90)
    values = {metric.name: metric.samples[0].value for metric in PublicationCollector(clock=lambda: later).collect()}
    assert values["gateway_published_sequence"] == publication.id
    assert values["gateway_published_age_seconds"] == 90
    assert values["gateway_published_expires_in_seconds"] == django_settings.GATEWAY_PUBLISH_VALIDITY - 90
    assert values["gateway_unpublished_changes"] == 0
    body = client.get("/metrics").content.decode()
    assert f"gateway_published_sequence {float(publication.id)}" in body


# --- logs -----------------------------------------------------------------------------------


@pytest.fixture
def json_log():
    """Route the root logger through the gateway's JSON formatter into a buffer."""
    config = logs.logging_config(json_format=True, level="INFO")
    handler = logging.StreamHandler(stream := io.StringIO())
    handler.setFormatter(
        logging.config.DictConfigurator(config).configure_formatter(config["formatters"]["structured"])
    )
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.django_db
def test_each_request_logs_json_with_the_upstream_request_id(client, pki, xa, settings, json_log):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
    request_id = secrets.token_hex(16)
    assert upload(client, xa, b"not base64!!", HTTP_X_REQUEST_ID=request_id).status_code == 400
    lines = [line for line in json_log() if line.get("request_id") == request_id]
    events = [line["event"] for line in lines]
    assert "request_started" in events
    assert "request_finished" in events
    finished = next(line for line in lines if line["event"] == "request_finished")
    assert finished["code"] == 400
    assert finished["level"] == "warning"
    assert "timestamp" in finished


@pytest.mark.django_db
def test_an_upstream_request_id_is_ignored_unless_trusted(client, pki, xa, settings, json_log):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = False
    client.get("/countrylist", HTTP_X_REQUEST_ID="forged-id", **xa.headers())
    started = [line for line in json_log() if line["event"] == "request_started"]
    assert started
    assert all(line["request_id"] != "forged-id" for line in started)


# --- deploy check ---------------------------------------------------------------------------


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GATEWAY_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        DJANGO_ALLOWED_HOSTS="gateway.example",
        GATEWAY_BEHIND_TLS_PROXY="true",
        GATEWAY_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_unreadable_index_is_a_problem(tmp_path, db):
    (tmp_path / "index.jws").write_bytes(b"not a JWS")
    state = freshness.read_state(tmp_path)
    assert freshness.problems(state, now=NOW, max_lag=dt.timedelta(seconds=60)) == [
        "the published index cannot be read"
    ]
