"""The production-like stack (scripts/stack.py) end to end through nginx with real client
certificates: an onboarded country uploads and downloads and the worker publishes; other
certificates, forged identity headers and direct requests to gunicorn are refused; nginx
rate-limits per client certificate; static files reach a browser through nginx."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from pathlib import Path

import pytest

from gateway.pki import cms, issuance
from gateway.pki.certs import certificate_der, load_pem_certificate
from tests import stack_support

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own with a low rate limit, which the rate-limit test reaches quickly (the
    other end-to-end modules share one whose limit no client reaches: tests/conftest.py)."""
    with stack_support.running(tmp_path_factory.mktemp("stack"), rate="5r/s", burst="5") as running:
        yield running


def _request(stack, method, path, *, cert=None, body=None, headers=None):
    response = stack.request(method, path, cert=cert, body=body, headers=headers)
    return response.status, response.body


def _country(stack, code):
    country = stack.country(code)
    return {name: country.pair(name) for name in ("auth", "upload", "dsc")}


def test_onboarded_country_uploads_downloads_and_the_worker_publishes(stack):
    xa = _country(stack, "XA")
    status, body = _request(stack, "GET", "/trustList/DSC", cert=xa["auth"])
    assert status == 200
    assert {entry["country"] for entry in json.loads(body)} == {"XB", "XC"}
    dsc = certificate_der(load_pem_certificate(Path(xa["dsc"][0]).read_bytes()))
    signer = issuance.Issued(
        load_pem_certificate(Path(xa["upload"][0]).read_bytes()),
        issuance.load_private_key(Path(xa["upload"][1]).read_bytes()),
    )
    payload = base64.b64encode(cms.sign(dsc, signer.certificate, signer.key, detached=False))
    status, body = _request(
        stack, "POST", "/signerCertificate", cert=xa["auth"], body=payload, headers={"Content-Type": "application/cms"}
    )
    assert status == 201, body
    status, body = _request(stack, "GET", "/trustList/DSC/XA", cert=xa["auth"])
    assert len(json.loads(body)) == 1
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            index = (stack.dir / "publish" / "index.jws").read_bytes()
        except FileNotFoundError:
            time.sleep(0.2)
            continue
        part = index.split(b".")[1]
        trusted = json.loads(base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)))["trustList"]["entries"]
        if trusted == 6:  # three CSCAs and the DSCs of XA, XB and XC
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the worker did not publish the upload")
    status, served = _request(stack, "GET", "/publication/index.jws")
    assert status == 200
    assert served == index
    # A part file of partitioned content is served by its hash name, as the application does (under
    # a name no provider registers, so that a publication's pruning of its own parts leaves it).
    part = b"DRH2 part bytes"
    name = hashlib.sha256(part).hexdigest()
    folder = stack.dir / "publish" / "parts" / "test-parts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(part)
    (folder / ".hidden").write_bytes(part)
    assert _request(stack, "GET", f"/publication/parts/test-parts/{name}") == (200, part)
    for path in (".hidden", name.upper(), name[:-1], f"{name}/x"):
        status, _ = _request(stack, "GET", f"/publication/parts/test-parts/{path}")
        assert status == 404, path


def test_other_certificates_and_forged_headers_are_refused(stack):
    xa = _country(stack, "XA")
    status, body = _request(stack, "GET", "/trustList", cert=xa["upload"])  # onboarded, but not to authenticate
    assert (status, json.loads(body)["code"]) == (401, "0x402")
    stranger_dir = stack.dir / "stranger"
    stranger_dir.mkdir(exist_ok=True)
    import datetime as dt

    stranger = issuance.issue(issuance.name("stranger", "XA"), at=dt.datetime.now(dt.UTC))
    (stranger_dir / "c.pem").write_bytes(stranger.cert_pem)
    (stranger_dir / "c.key").write_bytes(stranger.key_pem)
    status, body = _request(stack, "GET", "/trustList", cert=(str(stranger_dir / "c.pem"), str(stranger_dir / "c.key")))
    assert (status, json.loads(body)["reason"]) == (401, "CLIENT_NOT_ONBOARDED")
    auth_pem = Path(xa["auth"][0]).read_text()
    forged = {
        "X-SSL-Client-Cert": urllib.parse.quote(auth_pem, safe=""),
        "X-SSL-Client-DN": "C=XA",
        "X-SSL-Client-SHA256": "00" * 32,
    }
    status, body = _request(stack, "GET", "/trustList", headers=forged)  # no certificate, forged headers
    assert (status, json.loads(body)["code"]) == (401, "0x400")


def test_requests_that_bypass_nginx_cannot_claim_an_identity(stack):
    xa = _country(stack, "XA")
    auth_pem = Path(xa["auth"][0]).read_text()

    forged = {"X-SSL-Client-Cert": urllib.parse.quote(auth_pem, safe="")}
    connection = stack.unix_connection()
    connection.request("GET", "/trustList", headers=forged)
    response = connection.getresponse()
    response.read()
    assert response.status == 301  # behind the TLS proxy, plain requests are sent to HTTPS
    # Claiming to have come through nginx's TLS does not help without nginx's proxy secret.
    connection = stack.unix_connection()
    connection.request("GET", "/trustList", headers={**forged, "X-Forwarded-Proto": "https"})
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["code"]) == (401, "0x400")


def test_rate_limit_per_client_certificate(stack):
    xb = _country(stack, "XB")
    statuses = [_request(stack, "GET", "/countrylist", cert=xb["auth"])[0] for _ in range(30)]
    assert 429 in statuses
    assert statuses[0] == 200
    limited = next(
        response
        for response in (stack.request("GET", "/countrylist", cert=xb["auth"]) for _ in range(30))
        if response.status == 429
    )
    assert limited.problem()["reason"] == "RATE_LIMITED"
    assert limited.headers["retry-after"] == "1"


def test_static_files_come_from_the_application_through_nginx(stack):
    # nginx passes /static/ to the application (whitenoise), so the admin's files are those of
    # the code that runs (docs/deployment.md); no client certificate is needed for them.
    response = stack.request("GET", "/static/admin/css/base.css")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")
    assert b"body" in response.body
    assert stack.request("GET", "/static/admin/css/no-such-file.css").status == 404


def test_rate_limit_per_address_without_a_certificate(stack):
    # Last in this module: the address stays limited for a few seconds after. Anonymous requests
    # are refused by the application without an audit event (docs/audit.md), so nginx is what
    # keeps an anonymous flood from reaching it; the default burst is 200 at 20 per second.
    connection = stack.connection(None)
    statuses = []
    try:
        for _ in range(400):
            connection.request("GET", "/countrylist")
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            if response.status == 429:
                break
    finally:
        connection.close()
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert len(statuses) > 150, "the burst lets an honest verifier's requests through"
    # A client with a certificate is counted apart.
    xc = _country(stack, "XC")
    assert _request(stack, "GET", "/countrylist", cert=xc["auth"])[0] == 200
