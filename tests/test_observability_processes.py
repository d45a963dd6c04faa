"""The request id follows an upload into the Celery task that publishes it (real worker on a
private Redis, PostgreSQL), and the worker logs JSON lines."""

from __future__ import annotations

import json
import secrets

import pytest
from django.utils import timezone

from tests import processes
from tests.helpers import upload
from tests.publishing import install_publisher
from tests.test_publication_processes import broker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _json_lines(path) -> list[dict]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_the_request_id_reaches_the_publishing_task(client, pki, settings, tmp_path):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
    install_publisher(pki, at=timezone.now())
    country = pki.country("XA")
    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = processes.child_env(url, GATEWAY_LOG_FORMAT="json")
    log = tmp_path / "worker.log"
    request_id = secrets.token_hex(16)
    with processes.redis_server(port), processes.celery("worker", env, log), broker(url):
        dsc = country.dsc(at=timezone.now())
        response = upload(client, country, country.cms_b64(dsc.der), HTTP_X_REQUEST_ID=request_id)
        assert response.status_code == 201

        def task_succeeded() -> bool:
            return any(
                line.get("request_id") == request_id and line.get("event") == "task_succeeded"
                for line in _json_lines(log)
            )

        processes.wait_for(task_succeeded, timeout=30, what=f"the worker to log the publishing task (log {log})")
    mine = [line for line in _json_lines(log) if line.get("request_id") == request_id]
    started = next(line for line in mine if line["event"] == "task_started")
    assert started["task"].startswith("trustlist.tasks.")
    assert all(line["task_id"] == started["task_id"] for line in mine)
    assert any("published sequence" in line["event"] for line in mine), mine
