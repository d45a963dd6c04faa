"""Operations through the production-like stack: health and metrics for the operator's network
only, one request id from nginx through gunicorn's JSON log into the Celery worker's, and the
stack's own settings pass Django's deploy check."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from http.client import HTTPSConnection

import pytest

from gateway.pki import issuance
from gateway.pki.certs import certificate_der

pytestmark = pytest.mark.e2e


def _json_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]


def _wait(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_health_and_metrics_answer_the_operator_network(open_stack):
    # The worker publishes the seeded demo shortly after start; then every check passes.
    def healthy() -> bool:
        return open_stack.request("GET", "/health/?format=json").status == 200

    _wait(healthy, timeout=60, what="/health/ to pass")
    report = open_stack.request("GET", "/health/?format=json").json()
    assert {name.split("(")[0] for name in report} == {
        "Database",
        "Cache",
        "PublicationFreshness",
        "Redis",
        "CeleryWorker",
        "PeersCurrent",  # federation's (no peer is configured here: passes)
    }
    assert set(report.values()) == {"OK"}
    metrics = open_stack.request("GET", "/metrics")
    assert metrics.status == 200
    sequence = re.search(rb"^gateway_published_sequence (\S+)$", metrics.body, re.MULTILINE)
    assert sequence is not None
    assert float(sequence.group(1)) > 0


def test_health_and_metrics_are_refused_outside_the_operator_network(open_stack):
    # Only loopback's 127.0.0.1 is the operator's network in the stack; a client on 127.0.0.2
    # is somebody else, and nginx refuses it before the application.
    for path in ("/health/", "/health/live", "/metrics"):
        connection = HTTPSConnection(
            open_stack.host, open_stack.port, context=open_stack.context(), source_address=("127.0.0.2", 0), timeout=30
        )
        connection.request("GET", path)
        assert connection.getresponse().status == 403, path
        connection.close()
    assert open_stack.request("GET", "/health/live").status == 200


def test_one_request_id_from_nginx_into_the_worker(open_stack):
    xa = open_stack.country("XA")
    payload = xa.cms_b64(_new_dsc_der(xa.csca))
    response = open_stack.request(
        "POST",
        "/signerCertificate",
        cert=xa.auth,
        body=payload,
        headers={"Content-Type": "application/cms", "X-Request-ID": "client-chosen-id"},
    )
    assert response.status == 201, response.body
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), "nginx's $request_id, not the client's"
    logs = open_stack.dir / "log"
    _wait(
        lambda: any(
            line.get("request_id") == request_id and line.get("event") == "request_finished"
            for line in _json_lines(logs / "gunicorn.log")
        ),
        timeout=10,
        what="gunicorn's log line for the upload",
    )
    _wait(
        lambda: any(
            line.get("request_id") == request_id and line.get("event") == "task_succeeded"
            for line in _json_lines(logs / "celery-worker.log")
        ),
        timeout=60,
        what="the worker's log line for the task the upload queued",
    )
    assert not any(line.get("request_id") == "client-chosen-id" for line in _json_lines(logs / "gunicorn.log"))


def _new_dsc_der(csca: issuance.Issued) -> bytes:
    issued = issuance.issue(issuance.name("ops test DSC", "XA"), at=dt.datetime.now(dt.UTC), issuer=csca, days=30)
    return certificate_der(issued.certificate)


def test_the_stack_settings_pass_the_deploy_check(open_stack):
    output = open_stack.manage("check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in output
