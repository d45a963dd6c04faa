"""Bounded bodies however they are sent, and problem reports instead of HTML errors."""

from __future__ import annotations

import io
import sys

import pytest

from gateway.audit.models import Action, AuditEvent
from gateway.wsgi import application
from tests.helpers import assert_problem
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db(transaction=True)


def _call(method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **headers,
    }
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"] = int(status.split()[0])

    chunks = application(environ, start_response)
    try:
        return captured["status"], b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()


def test_declared_oversize_body_is_413(client, xa, settings):
    settings.GATEWAY_MAX_BODY_BYTES = 1000
    response = client.post("/signerCertificate", b"A" * 1001, content_type="application/cms", **xa.headers())
    assert_problem(response, 413, "0x001", "BODY_TOO_LARGE")
    assert SignerCertificate.objects.count() == 0
    assert AuditEvent.objects.filter(action=Action.REQUEST, reason="BODY_TOO_LARGE").count() == 1


def test_chunked_oversize_body_is_413(xa, settings):
    # A chunked request has no Content-Length; gunicorn marks its input as terminated.
    settings.GATEWAY_MAX_BODY_BYTES = 1000
    headers = {"CONTENT_TYPE": "application/cms", "wsgi.input_terminated": True, **xa.headers()}
    status, body = _call("POST", "/signerCertificate", b"A" * 50_000, headers)
    assert status == 413, body
    assert b"BODY_TOO_LARGE" in body
    assert SignerCertificate.objects.count() == 0


def test_chunked_body_within_limit_is_read(xa):
    dsc = xa.dsc()
    headers = {"CONTENT_TYPE": "application/cms", "wsgi.input_terminated": True, **xa.headers()}
    status, body = _call("POST", "/signerCertificate", xa.cms_b64(dsc.der), headers)
    assert status == 201, body


def test_garbage_content_length_is_400(xa):
    headers = {"CONTENT_TYPE": "application/cms", "CONTENT_LENGTH": "12abc", **xa.headers()}
    status, body = _call("POST", "/signerCertificate", b"x", headers)
    assert status == 400
    assert b"BAD_CONTENT_LENGTH" in body


def test_unknown_path_is_a_problem_report(client):
    assert_problem(client.get("/no/such/thing"), 404, "0x001", "NO_SUCH_ENDPOINT")


def test_wrong_method_is_405_problem(client, xa):
    assert_problem(client.put("/trustList", b"", **xa.headers()), 405, "0x001", "METHOD_NOT_ALLOWED")


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    for route in (
        "/signerCertificate",
        "/signerCertificate/delete",
        "/trustedCertificate",
        "/trustList",
        "/trustList/{certificate_type}/{country}",
        "/trustList/certificate",
        "/countrylist",
    ):
        assert route in document["paths"], route
    assert client.get("/api/docs").status_code == 200


def test_openapi_schema_documents_bodies_and_body_refusals(client):
    # schemathesis through the stack holds the schema to every answer: the 413 and 415 answers,
    # and the CMS body that DGCG's DELETE /signerCertificate carries, must be documented.
    paths = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for path, method in (
        ("/signerCertificate", "post"),
        ("/signerCertificate", "delete"),
        ("/signerCertificate/delete", "post"),
        ("/trustedCertificate", "post"),
        ("/trustedCertificate", "delete"),
        ("/trustedCertificate/delete", "post"),
    ):
        operation = paths[path][method]
        assert {"413", "415"} <= set(operation["responses"]), (path, method)
        assert operation["requestBody"]["content"], (path, method)
    assert set(paths["/signerCertificate"]["delete"]["requestBody"]["content"]) == {
        "application/cms",
        "application/cms-text",
    }
