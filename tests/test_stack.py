"""The production-like stack (scripts/stack.py) end to end through nginx with real client
certificates: an onboarded country uploads and downloads and the worker publishes; other
certificates, forged identity headers and direct requests to gunicorn are refused; nginx
rate-limits per client certificate."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path

import pytest

from gateway.pki import cms, issuance
from gateway.pki.certs import certificate_der, load_pem_certificate

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    port = _free_port()
    env = {
        **os.environ,
        "GATEWAY_STACK_DIR": str(folder),
        "GATEWAY_STACK_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_STACK_DATABASE": f"gateway_stack_test_{port}",
        "GATEWAY_STACK_REDIS": "redis://127.0.0.1:6379/7",
        "GATEWAY_STACK_RATE": "5r/s",
        "GATEWAY_STACK_BURST": "5",
        "GATEWAY_STACK_WORKERS": "2",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "GATEWAY_REQUIRE_SERVICES", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    script = [sys.executable, str(ROOT / "scripts" / "stack.py")]
    started = subprocess.run([*script, "up"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    try:
        yield {"dir": folder, "port": port}
    finally:
        subprocess.run([*script, "down"], env=env, capture_output=True, timeout=120, check=False)
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-c",
                f'DROP DATABASE IF EXISTS "gateway_stack_test_{port}" WITH (FORCE)',
            ],
            capture_output=True,
            check=False,
        )


def _request(stack, method, path, *, cert=None, body=None, headers=None):
    context = ssl.create_default_context(cafile=str(stack["dir"] / "tls" / "ca.pem"))
    if cert is not None:
        context.load_cert_chain(*cert)
    connection = HTTPSConnection("127.0.0.1", stack["port"], context=context, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def _country(stack, code):
    folder = stack["dir"] / "demo" / code
    return {name: (str(folder / f"{name}.pem"), str(folder / f"{name}.key")) for name in ("auth", "upload", "dsc")}


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
            index = (stack["dir"] / "publish" / "index.jws").read_bytes()
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


def test_other_certificates_and_forged_headers_are_refused(stack):
    xa = _country(stack, "XA")
    status, body = _request(stack, "GET", "/trustList", cert=xa["upload"])  # onboarded, but not to authenticate
    assert (status, json.loads(body)["code"]) == (401, "0x402")
    stranger_dir = stack["dir"] / "stranger"
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

    class UnixConnection(HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(str(stack["dir"] / "run" / "gunicorn.sock"))

    connection = UnixConnection("localhost")
    connection.request("GET", "/trustList", headers={"X-SSL-Client-Cert": urllib.parse.quote(auth_pem, safe="")})
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["code"]) == (401, "0x400")


def test_rate_limit_per_client_certificate(stack):
    xb = _country(stack, "XB")
    statuses = [_request(stack, "GET", "/countrylist", cert=xb["auth"])[0] for _ in range(30)]
    assert 429 in statuses
    assert statuses[0] == 200
