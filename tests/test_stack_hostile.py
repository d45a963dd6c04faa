"""A catalogue of hostile input against the production-like stack, through
nginx with XA's real client certificate: the CMS and certificate corpus of tests/cms_corpus.py,
truncations, bad encodings, wrong content types, oversize bodies (with Content-Length and
chunked; nginx's limit and the application's), and requests without a client certificate.

Each must get a 4xx and change nothing: the signer-certificate rows and the trust list XA
downloads are the same before and after. Answers from the gateway are problem reports with a
named ``reason``, and a refused upload is an audit event. nginx answers a few itself, before the
gateway (a body over client_max_body_size, a malformed Content-Length): those are its own HTML
pages, checked for their status and for having changed nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
import socket
from pathlib import Path

import pytest

from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason
from gateway.pki.issuance import Issued
from tests.cms_corpus import CORPUS, CorpusContext, CountryKeys, Item
from tests.stack_support import Response, Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings(
        "ignore:Parsed a serial number which wasn't positive:cryptography.utils.CryptographyDeprecationWarning"
    ),
]

LIMIT = 64 * 1024  # GATEWAY_MAX_BODY_BYTES's default and scripts/stack.py's client_max_body_size (64k)
CMS_TYPE = {"Content-Type": "application/cms"}
HOSTILE = [item for item in CORPUS if not (item.openssl_ok and item.policy_ok)]
NAMED = re.compile(r"^[A-Z][A-Z0-9_]+$")


class StackContext(CorpusContext):
    """The corpus for the stack: XA's demo keys, certificates made for the real time, extra
    UPLOAD certificates onboarded with `manage.py onboard` and the demo trust anchor's key."""

    def __init__(self, stack: Stack, tmp: Path) -> None:
        demo = stack.country("XA")
        super().__init__(CountryKeys("XA", demo.issued("auth"), demo.upload, demo.csca), dt.datetime.now(dt.UTC), tmp)
        self.stack = stack
        self.auth = demo.auth

    def onboard(self, certificate: Issued) -> None:
        pem = self.tmp / f"onboard-{hashlib.sha256(certificate.der).hexdigest()[:12]}.pem"
        pem.write_bytes(certificate.cert_pem)
        ta = self.stack.trust_anchor
        self.stack.manage(
            "onboard",
            "--country",
            "XA",
            "--type",
            "UPLOAD",
            "--cert",
            str(pem),
            "--demo-ta-key",
            str(ta.with_suffix(".key")),
            "--demo-ta-cert",
            str(ta),
        )

    @functools.cache  # noqa: B019 - one context per module
    def foreign_upload(self) -> Issued:
        return self.stack.country("XB").upload

    def upload(self, cms_der: bytes) -> Response:
        return self.post(base64.b64encode(cms_der))

    def post(self, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> Response:
        return self.stack.request(
            method,
            "/signerCertificate",
            cert=self.auth,
            body=body,
            headers=headers if headers is not None else CMS_TYPE,
        )

    def state(self) -> tuple[object, ...]:
        """What must not change: signer rows (all, revoked) and the trust list XA downloads."""
        rows = self.stack.sql("SELECT count(*), count(revoked_at) FROM trustlist_signercertificate")[0]
        listed = self.stack.request("GET", "/trustList", cert=self.auth)
        assert listed.status == 200, listed.body[:300]
        return rows, hashlib.sha256(listed.body).hexdigest()

    def rejected_uploads(self) -> int:
        query = "SELECT count(*) FROM audit_auditevent WHERE action IN ('UPLOAD', 'REVOKE') AND outcome = 'REJECTED'"
        return self.stack.sql(query)[0][0]


@pytest.fixture(scope="module")
def ctx(open_stack, tmp_path_factory) -> StackContext:
    return StackContext(open_stack, tmp_path_factory.mktemp("hostile"))


def assert_problem(response: Response, status: int | None = None, reason: str | None = None) -> dict[str, str]:
    assert 400 <= response.status < 500, (response.status, response.body[:500])
    if status is not None:
        assert response.status == status, (response.status, response.body[:500])
    problem = response.problem()
    assert NAMED.match(problem["reason"]), problem
    assert problem["reason"] != "INTERNAL_ERROR", problem
    if reason is not None:
        assert problem["reason"] == reason, problem
    return problem


def assert_refused_and_audited(ctx: StackContext, send, *, status: int | None = None, reason: str | None = None):
    before, audited = ctx.state(), ctx.rejected_uploads()
    problem = assert_problem(send(), status, reason)
    assert ctx.state() == before, "a refused request changed the stored or listed certificates"
    assert ctx.rejected_uploads() == audited + 1, "a refused upload must be an audit event"
    return problem


@pytest.mark.parametrize("item", HOSTILE, ids=[item.label for item in HOSTILE])
def test_corpus_item_is_refused_through_nginx(ctx: StackContext, item: Item):
    message = item.build(ctx)
    problem = assert_refused_and_audited(ctx, lambda: ctx.upload(message))
    assert problem["reason"] in Reason.__members__, problem


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "INVALID_BASE64"),
        (b"not base64!!", "INVALID_BASE64"),
        (base64.b64encode(bytes(range(256)) * 3), "CMS_PARSE"),
        (base64.b64encode(b"\x30\x03\x02\x01"), "CMS_PARSE"),
    ],
    ids=["empty", "not-base64", "base64-of-random-bytes", "base64-of-a-truncated-sequence"],
)
def test_bad_encodings_are_refused(ctx: StackContext, body: bytes, reason: str):
    assert_refused_and_audited(ctx, lambda: ctx.post(body), status=400, reason=reason)


def test_line_broken_and_pem_armoured_base64_are_refused(ctx: StackContext):
    message = ctx.cms(ctx.dsc().der)
    wrapped = base64.encodebytes(message)  # a line break every 76 characters
    assert_refused_and_audited(ctx, lambda: ctx.post(wrapped), status=400, reason="INVALID_BASE64")
    armoured = b"-----BEGIN CMS-----\n" + wrapped + b"-----END CMS-----\n"
    assert_refused_and_audited(ctx, lambda: ctx.post(armoured), status=400, reason="INVALID_BASE64")


def test_truncated_messages_are_refused(ctx: StackContext):
    """A valid upload cut short at offsets all along it (the in-process test cuts at every
    offset: tests/pki/test_cms.py); over one keep-alive connection."""
    message = ctx.cms(ctx.dsc().der)
    offsets = sorted({*range(1, len(message), max(1, len(message) // 48)), len(message) - 1})
    before, audited = ctx.state(), ctx.rejected_uploads()
    connection = ctx.stack.connection(ctx.auth)
    try:
        for offset in offsets:
            connection.request("POST", "/signerCertificate", body=base64.b64encode(message[:offset]), headers=CMS_TYPE)
            raw = connection.getresponse()
            response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
            problem = assert_problem(response, 400)
            assert problem["reason"] in {"CMS_PARSE", "INVALID_BASE64"}, (offset, problem)
    finally:
        connection.close()
    assert ctx.state() == before
    assert ctx.rejected_uploads() == audited + len(offsets)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded"],
)
def test_wrong_content_type_is_415(ctx: StackContext, method: str, content_type: str | None):
    body = base64.b64encode(ctx.cms(ctx.dsc().der))
    before = ctx.state()
    headers = {} if content_type is None else {"Content-Type": content_type}
    assert_problem(ctx.post(body, headers, method=method), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert ctx.state() == before


# --- sizes --------------------------------------------------------------------------------------


def _raw(connection, method: str, path: str, headers: dict[str, str], chunks: list[bytes] | bytes) -> Response:
    connection.putrequest(method, path)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    if isinstance(chunks, bytes):
        connection.send(chunks)
    else:
        for chunk in chunks:
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.send(b"0\r\n\r\n")
    raw = connection.getresponse()
    return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())


def test_body_at_the_limit_reaches_the_gateway(ctx: StackContext):
    assert_refused_and_audited(ctx, lambda: ctx.post(b"A" * LIMIT), status=400, reason="CMS_PARSE")


def test_oversize_bodies_are_413_at_nginx(ctx: StackContext):
    before = ctx.state()
    declared = ctx.post(b"A" * (LIMIT + 1))
    assert declared.status == 413, declared.body[:300]
    assert declared.problem()["reason"] == "BODY_TOO_LARGE"  # nginx answers in the gateway's format
    chunked = _raw(
        ctx.stack.connection(ctx.auth),
        "POST",
        "/signerCertificate",
        {**CMS_TYPE, "Transfer-Encoding": "chunked"},
        [b"A" * 8192] * 9,
    )
    assert chunked.status == 413, chunked.body[:300]
    assert chunked.problem()["reason"] == "BODY_TOO_LARGE"
    four_gigabytes = _raw(
        ctx.stack.connection(ctx.auth),
        "POST",
        "/signerCertificate",
        {**CMS_TYPE, "Content-Length": str(4 << 30)},
        b"A" * 1024,
    )
    assert four_gigabytes.status == 413, four_gigabytes.body[:300]
    assert four_gigabytes.problem()["reason"] == "BODY_TOO_LARGE"
    garbage = _raw(
        ctx.stack.connection(ctx.auth), "POST", "/signerCertificate", {**CMS_TYPE, "Content-Length": "12abc"}, b"A"
    )
    assert garbage.status == 400, garbage.body[:300]
    assert garbage.problem()["reason"] == "MALFORMED_REQUEST"
    assert ctx.state() == before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversize_bodies_are_413_at_the_gateway(ctx: StackContext, chunked: bool):
    """Past nginx, straight to gunicorn's socket (nginx's limit equals the gateway's, so only
    there can the gateway's own bounded read be seen): a problem report, BODY_TOO_LARGE."""
    before = ctx.state()
    connection = ctx.stack.unix_connection()
    body = b"A" * (LIMIT + 1)
    if chunked:
        response = _raw(
            connection,
            "POST",
            "/signerCertificate",
            {**CMS_TYPE, "Transfer-Encoding": "chunked"},
            [body[i : i + 8192] for i in range(0, len(body), 8192)],
        )
    else:
        connection.request("POST", "/signerCertificate", body=body, headers=CMS_TYPE)
        raw = connection.getresponse()
        response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
    assert_problem(response, 413, "BODY_TOO_LARGE")
    assert ctx.state() == before


# --- who is asking --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("POST", "/signerCertificate"), ("DELETE", "/signerCertificate")])
def test_without_a_client_certificate(ctx: StackContext, method: str, path: str):
    before = ctx.state()
    body = base64.b64encode(ctx.cms(ctx.dsc().der))
    response = ctx.stack.request(method, path, body=body, headers=CMS_TYPE)
    assert_problem(response, 401, "MISSING_CLIENT_IDENTITY")
    forged = ctx.stack.request(
        method,
        path,
        body=body,
        headers={**CMS_TYPE, "X-SSL-Client-SHA256": "00" * 32, "X-SSL-Client-DN": "C=XA"},
    )
    assert_problem(forged, 401, "MISSING_CLIENT_IDENTITY")
    assert ctx.state() == before


def test_upload_certificate_cannot_open_the_connection(ctx: StackContext):
    before = ctx.state()
    body = base64.b64encode(ctx.cms(ctx.dsc().der))
    response = ctx.stack.request(
        "POST", "/signerCertificate", cert=ctx.stack.country("XA").pair("upload"), body=body, headers=CMS_TYPE
    )
    assert_problem(response, 401)
    assert ctx.state() == before


# --- revocation and methods -----------------------------------------------------------------------


def test_hostile_revocations_change_nothing(ctx: StackContext):
    unknown = base64.b64encode(ctx.cms(ctx.dsc().der))
    assert_refused_and_audited(ctx, lambda: ctx.post(unknown, method="DELETE"), status=404, reason="NOT_FOUND")
    xb_dsc = ctx.stack.country("XB").issued("dsc")  # uploaded by XB when the demo was seeded
    foreign = base64.b64encode(ctx.cms(xb_dsc.der))
    assert_refused_and_audited(ctx, lambda: ctx.post(foreign, method="DELETE"), status=400, reason="COUNTRY_MISMATCH")
    assert_refused_and_audited(ctx, lambda: ctx.post(b"%%%", method="DELETE"), status=400, reason="INVALID_BASE64")
    tampered = bytearray(ctx.cms(xb_dsc.der))
    tampered[-5] ^= 1
    assert_refused_and_audited(ctx, lambda: ctx.post(base64.b64encode(bytes(tampered)), method="DELETE"), status=400)


def test_revoked_dsc_cannot_come_back(ctx: StackContext):
    dsc = ctx.dsc()
    body = base64.b64encode(ctx.cms(dsc.der))
    assert ctx.post(body).status == 201
    # The upload's own CMS (published as the DSC's signature) does not revoke: a new one does.
    assert_refused_and_audited(ctx, lambda: ctx.post(body, method="DELETE"), status=400, reason="REVOCATION_NOT_FRESH")
    assert ctx.post(base64.b64encode(ctx.cms(dsc.der)), method="DELETE").status == 204
    assert_refused_and_audited(ctx, lambda: ctx.post(body), status=409, reason="ALREADY_REVOKED")


def test_unsupported_method_is_405_with_allow(ctx: StackContext):
    response = ctx.post(base64.b64encode(ctx.cms(ctx.dsc().der)), method="PUT")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"POST", "DELETE"}


def test_corpus_reaches_every_kind_of_refusal():
    """The corpus covers CMS structure, signer and DSC policy (so it is not all parse errors)."""
    labels = {item.label.split("-")[0] for item in HOSTILE}
    assert {"truncated", "signer", "dsc", "rsa"} <= labels
    assert len(HOSTILE) >= 50


def test_what_nginx_refuses_itself_is_a_problem_report(ctx: StackContext):
    trace = ctx.stack.request("TRACE", "/trustList", cert=ctx.auth)
    assert (trace.status, trace.problem()["reason"]) == (405, "METHOD_NOT_ALLOWED")
    long_uri = ctx.stack.request("GET", "/trustList/DSC/" + "A" * 9000, cert=ctx.auth)
    assert (long_uri.status, long_uri.problem()["reason"]) == (414, "URI_TOO_LONG")
    # Between gunicorn's old 4094-byte limit and nginx's 8 KB: the gateway itself answers.
    middling = ctx.stack.request("GET", "/trustList/DSC/" + "A" * 5000, cert=ctx.auth)
    assert (middling.status, middling.problem()["reason"]) == (400, "INVALID_COUNTRY")


# --- hostile paths (tests/test_hostile_paths.py fills every route in the embedded mode) ---------------

NGINX, GATEWAY = "nginx", "gateway"
HOSTILE_PATHS = [
    # (path, status, reason, who answers): nginx refuses a decoded NUL and a climb out of the
    # root itself, and serves the sequences' files; the gateway refuses the rest before any view.
    ("/publication/index.jws%00.json", 400, "MALFORMED_REQUEST", NGINX),
    ("/publication/sequences/%00", 400, "MALFORMED_REQUEST", NGINX),
    ("/trustList/DSC/%00", 400, "MALFORMED_REQUEST", NGINX),
    ("/publication/..%2f..%2fgateway%2fsettings.py", 400, "MALFORMED_REQUEST", NGINX),
    ("/publication/sequences/%01/delta.json", 404, "NOT_PUBLISHED", NGINX),
    ("/publication/sequences/" + "A" * 300 + "/delta.json", 404, "NOT_PUBLISHED", NGINX),
    ("/publication/" + "A" * 10_000, 414, "URI_TOO_LONG", NGINX),
    ("/publication/index.jws%01", 400, "INVALID_PATH", GATEWAY),
    ("/publication/%ff%fe.json", 400, "INVALID_PATH", GATEWAY),
    ("/publication/" + "B" * 300 + ".json", 404, "NOT_PUBLISHED", GATEWAY),
    ("/publication/sequences/1/..%2f..%2f..%2fetc%2fpasswd", 404, "NOT_PUBLISHED", GATEWAY),
    ("/trustList/DSC/X%1f", 400, "INVALID_PATH", GATEWAY),
    ("/trustList/%ff%fe", 400, "INVALID_PATH", GATEWAY),
    ("/trustList/DSC/%2500", 400, "INVALID_PATH", GATEWAY),
    ("/audit/checkpoint%7f", 400, "INVALID_PATH", GATEWAY),
    ("/signerCertificate%C2%85", 400, "INVALID_PATH", GATEWAY),
]


def _path_refusals(ctx: StackContext) -> int:
    return ctx.stack.sql("SELECT count(*) FROM audit_auditevent WHERE reason IN ('INVALID_PATH', 'URI_TOO_LONG')")[0][0]


@pytest.mark.parametrize("with_certificate", [False, True], ids=["anonymous", "client-certificate"])
@pytest.mark.parametrize(
    ("path", "status", "reason", "answers"), HOSTILE_PATHS, ids=[f"{p[:40]}-{s}" for p, s, _, _ in HOSTILE_PATHS]
)
def test_hostile_paths_are_refused_through_nginx(
    ctx: StackContext, path: str, status: int, reason: str, answers: str, with_certificate: bool
):
    """Never a 5xx, always a problem report with a named reason, whoever answers; the gateway's
    refusal of a path is recorded when a client certificate was presented, not anonymously."""
    before, recorded = ctx.state(), _path_refusals(ctx)
    response = ctx.stack.request("GET", path, cert=ctx.auth if with_certificate else None)
    problem = assert_problem(response, status, reason)
    assert problem["reason"] in Reason.__members__
    assert ctx.state() == before
    counted = with_certificate and answers == GATEWAY and reason == "INVALID_PATH"
    assert _path_refusals(ctx) == recorded + counted


def test_a_refused_path_is_recorded_with_the_presented_certificate(ctx: StackContext):
    ctx.stack.request("GET", "/trustList/DSC/X%1f", cert=ctx.auth)
    (row,) = ctx.stack.sql(
        "SELECT action, authentication_thumbprint, details->>'path' FROM audit_auditevent "
        "WHERE reason = 'INVALID_PATH' ORDER BY leaf_index DESC LIMIT 1"
    )
    assert row == ("REQUEST", thumbprint(ctx.stack.country("XA").issued("auth").der), "/trustList/DSC/X\x1f")


def test_a_hostile_admin_path_is_a_page_for_people(ctx: StackContext):
    response = ctx.stack.request("GET", "/admin/auth/user/%ff/change/")
    assert response.status == 400
    assert response.headers["content-type"].startswith("text/html")
    assert b"cannot be read" in response.body


@pytest.mark.parametrize(
    "target",
    [b"/publication/index.jws\x00", b"/publication/sequences/\x01", b"/trustList/\x7f", b"/publication/\xff\xfe.json"],
    ids=["nul", "control", "delete", "not-utf8"],
)
def test_raw_bytes_in_the_request_line_are_refused_by_nginx(ctx: StackContext, target: bytes):
    """Bytes a client should have percent-encoded (RFC 9112 §3.2), sent raw: http.client will not,
    so over a socket of our own. nginx refuses them, in the problem format."""
    status, headers, body = _raw_request_line(ctx.stack, b"GET " + target + b" HTTP/1.1")
    assert status == 400, body[:300]
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert json.loads(body)["reason"] == "MALFORMED_REQUEST"


def _raw_request_line(stack, line: bytes) -> tuple[int, dict[str, str], bytes]:
    with (
        socket.create_connection((stack.host, stack.port), timeout=30) as plain,
        stack.context().wrap_socket(plain, server_hostname=stack.host) as tls,
    ):
        tls.sendall(line + b"\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_after_hostile_input_the_audit_log_verifies_against_the_published_head(ctx: StackContext):
    """The refusals above are leaves (texts with control characters among them); the log still
    verifies, by default against the tree head of the index nginx serves."""
    output = ctx.stack.manage("verify_audit_log")
    assert f"checked against the published index {ctx.stack.publish_dir.resolve() / 'index.jws'} (sequence " in output
    assert "verified against" in output
