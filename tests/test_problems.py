"""A database that cannot be reached (a restart, a failover) is a 503 problem report with
Retry-After, never a 500: the client is told to retry, and an identical retry is safe
(tests/test_stack_faults.py restarts a real PostgreSQL under load)."""

from __future__ import annotations

import json

import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory

from gateway import problems
from tests.helpers import upload
from trustlist import services


def _assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(problems.RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["code"] == "0x008"
    assert body["reason"] == "DATABASE_UNAVAILABLE"
    assert set(body) >= {"code", "problem", "sendValue", "details"}


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),
    ],
)
def test_an_api_request_whose_database_is_gone_is_told_to_retry(client, xa, monkeypatch, error):
    def unreachable(**_):
        raise error

    monkeypatch.setattr(services, "upload_signer_certificate", unreachable)
    _assert_unavailable(upload(client, xa, xa.cms_b64(xa.dsc().der)))


def test_outside_the_api_too_a_database_error_is_503_and_anything_else_500():
    request = RequestFactory().get("/anything")
    try:
        raise OperationalError("the database system is starting up")
    except OperationalError:
        _assert_unavailable(problems.handler500(request))
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = problems.handler500(request)
    assert response.status_code == 500
    assert json.loads(response.content)["reason"] == "INTERNAL_ERROR"
