"""The verifier's sync over real HTTP (verifier.fetch): one deadline over every request of a sync,
and answers that cannot be read safely refused by name -- a slow drip, a malformed
Content-Length, a redirect out of HTTP or down from https, an unreachable or malformed URL --
with the state held untouched. Servers are http.server in a thread on a free port."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.pki import issuance
from tests.factory import NOW
from tests.helpers import upload
from tests.publishing import anchors, install_publisher, publish_root
from verifier.__main__ import main
from verifier.fetch import http_fetch
from verifier.reasons import VerificationError
from verifier.sync import Response, sync

DRIP_EVERY = 0.25  # seconds between two bytes: far below any read timeout, so only the deadline stops it
DEADLINE = 2.0
GUARD = 30.0  # a sync that has not returned by then hangs


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves the publish folder at /publication/, unless the server's ``answers`` say otherwise
    for a path: a callable that writes the whole answer itself."""

    server: Mirror
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.removeprefix("/publication/")
        answer = self.server.answers.get(path)
        if answer is not None:
            answer(self)
            return
        try:
            body = (self.server.root / path).read_bytes() if self.server.root else b""
        except (FileNotFoundError, IsADirectoryError):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


class Mirror(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root
        self.answers: dict[str, Callable[[Handler], None]] = {}
        self.stopped = threading.Event()

    @property
    def base(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_port}/publication/"


@pytest.fixture
def serve() -> Iterator[Callable[..., Mirror]]:
    started: list[Mirror] = []

    def start(root: Path | None = None, tls: ssl.SSLContext | None = None) -> Mirror:
        mirror = Mirror(root)
        if tls is not None:
            mirror.socket = tls.wrap_socket(mirror.socket, server_side=True)
        # shutdown() waits for serve_forever's next poll: half a second by default, after every test
        threading.Thread(target=mirror.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(mirror)
        return mirror

    yield start
    for mirror in started:
        mirror.stopped.set()  # drips stop writing
        mirror.shutdown()
        mirror.server_close()


def drip_megabyte(handler: Handler) -> None:
    """Declares a megabyte (an index may have that many), then sends one byte at a time."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(1 << 20))
    handler.end_headers()
    _drip(handler, b"x" * (1 << 20))


def drip_file(handler: Handler) -> None:
    """The genuine file and its length (within the cap its descriptor gives), one byte at a time."""
    assert handler.server.root is not None
    body = (handler.server.root / handler.path.removeprefix("/publication/")).read_bytes()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    _drip(handler, body)


def silent_after_headers(handler: Handler) -> None:
    """Headers, then nothing for longer than the deadline (but less than a read timeout)."""
    handler.send_response(200)
    handler.send_header("Content-Length", "10")
    handler.end_headers()
    handler.wfile.flush()
    handler.server.stopped.wait(10)


def drip_headers(handler: Handler) -> None:
    """The status line and the headers themselves, one byte at a time (a long header)."""
    _drip(handler, b"HTTP/1.1 200 OK\r\nX-Padding: " + b"p" * 60_000)


def _drip(handler: Handler, data: bytes) -> None:
    for position in range(len(data)):
        if handler.server.stopped.is_set():
            return
        try:
            handler.wfile.write(data[position : position + 1])
            handler.wfile.flush()
        except OSError:  # the client shut the connection down: the drip is over
            return
        time.sleep(DRIP_EVERY)


def answer(status: int, headers: list[tuple[str, str]], body: bytes = b"") -> Callable[[Handler], None]:
    def write(handler: Handler) -> None:
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return write


def returns_within(call: Callable[[], Any], seconds: float = GUARD) -> Any:
    """``call()``'s result or exception, failing the test if it has not returned after ``seconds``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def refusal(call: Callable[[], Any]) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        returns_within(call)
    return info.value


# --- the deadline ------------------------------------------------------------------------------------


@pytest.fixture
def published(client, pki, xa, frozen, tmp_path):
    install_publisher(pki)
    for _ in range(2):
        assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    return tmp_path / "state"


def _index_payload() -> dict[str, Any]:
    from verifier.encoding import b64url_decode

    return json.loads(b64url_decode((publish_root() / "index.jws").read_text().split(".")[1]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("what", "drip"),
    [
        ("index.jws", drip_megabyte),
        ("index.jws", drip_file),
        ("index.jws", drip_headers),
        ("index.jws", silent_after_headers),
        ("head delta", drip_file),
    ],
    ids=["index declaring a megabyte", "index", "index headers", "index silent", "delta"],
)
def test_a_slow_drip_mirror_fails_within_the_deadline_and_the_state_is_kept(
    client, pki, xa, published, serve, what, drip
):
    mirror = serve(publish_root())
    first = returns_within(lambda: sync(mirror.base, published, anchors(pki), NOW, timeout=DEADLINE))
    assert first.mode == "full"
    held = (published / "state.json").read_bytes()
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    path = _index_payload()["head"]["path"] if what == "head delta" else what
    mirror.answers[path] = drip

    refused = refusal(lambda: sync(mirror.base, published, anchors(pki), NOW, timeout=DEADLINE))
    assert refused.reason == "DEADLINE"
    assert (published / "state.json").read_bytes() == held, "a refused sync must not change the state"
    # the mirror recovers: the same sync goes through, by the delta
    del mirror.answers[path]
    assert returns_within(lambda: sync(mirror.base, published, anchors(pki), NOW, timeout=DEADLINE)).mode == "delta"


@pytest.mark.django_db(transaction=True)
def test_one_deadline_covers_every_request_of_a_sync(pki, published):
    """Each request alone is quick; together they outlast the deadline: the sync asks for no file
    once it has passed, and refuses an answer that came after it."""
    base, requested = "https://mirror.example/publication/", []

    def steady(url, headers, cap, progress):  # a fetch passed in: 0.3 s for every file
        requested.append(url)
        time.sleep(0.3)
        return Response(200, {}, (publish_root() / url.removeprefix(base)).read_bytes())

    refused = refusal(lambda: sync(base, published, anchors(pki), NOW, fetch=steady, timeout=0.75))
    assert refused.reason == "DEADLINE"
    assert not published.exists()
    # the index, both full lists and the deltas from them: more than fit in 0.75 s
    assert len(requested) <= 3
    requested.clear()
    assert returns_within(lambda: sync(base, published, anchors(pki), NOW, fetch=steady)).mode == "full"
    assert len(requested) > 3


@pytest.fixture
def tls_that_drips() -> Iterator[int]:
    """A port where a server answers a TLS ClientHello with a record header announcing 16 kB,
    then one byte at a time: the handshake never ends, no read ever waits long."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def drip(connection: socket.socket) -> None:
        with connection:
            for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 16_384:
                if stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(DRIP_EVERY)

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=drip, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.mark.no_db
def test_a_tls_handshake_that_drips_fails_within_the_deadline(tls_that_drips, tmp_path):
    url = f"https://127.0.0.1:{tls_that_drips}/publication/"
    refused = refusal(lambda: sync(url, tmp_path / "state", [], NOW, timeout=DEADLINE))
    assert refused.reason == "DEADLINE"
    assert not (tmp_path / "state").exists()


# --- what cannot be read safely -------------------------------------------------------------------


@pytest.mark.no_db
@pytest.mark.parametrize(
    "lengths",
    [["abc"], ["-1"], ["+3"], ["0x3"], ["3 3"], ["3, 3"], [""], ["3", "3"], ["3", "4"]],
    ids=["letters", "negative", "signed", "hex", "two numbers", "list", "empty", "twice", "two values"],
)
def test_a_malformed_content_length_is_refused_by_name(serve, lengths):
    mirror = serve()
    mirror.answers["file"] = answer(200, [("Content-Length", value) for value in lengths], b"abc")
    assert refusal(lambda: http_fetch(mirror.base + "file", {}, 1 << 20)).reason == "BAD_CONTENT_LENGTH"


@pytest.mark.no_db
def test_a_well_formed_content_length_is_read(serve):
    mirror = serve()
    mirror.answers["file"] = answer(200, [("Content-Length", "3")], b"abc")
    assert returns_within(lambda: http_fetch(mirror.base + "file", {}, 1 << 20)).body == b"abc"


@pytest.mark.django_db(transaction=True)
def test_an_index_with_a_malformed_content_length_leaves_the_state_held(pki, published, serve):
    mirror = serve(publish_root())
    returns_within(lambda: sync(mirror.base, published, anchors(pki), NOW))
    held = (published / "state.json").read_bytes()
    mirror.answers["index.jws"] = answer(200, [("Content-Length", "-1")], (publish_root() / "index.jws").read_bytes())
    assert refusal(lambda: sync(mirror.base, published, anchors(pki), NOW)).reason == "BAD_CONTENT_LENGTH"
    assert (published / "state.json").read_bytes() == held


@pytest.mark.no_db
@pytest.mark.parametrize(
    "location",
    ["ftp://127.0.0.1/publication/index.jws", "file:///etc/passwd", "data:,hello", "gopher://127.0.0.1/"],
)
def test_a_redirect_out_of_http_is_refused(serve, location):
    mirror = serve()
    mirror.answers["index.jws"] = answer(302, [("Location", location), ("Content-Length", "0")])
    refused = refusal(lambda: http_fetch(mirror.base + "index.jws", {}, 1 << 20))
    assert refused.reason == "REDIRECT_REFUSED"
    assert location in refused.detail


@pytest.mark.no_db
def test_a_redirect_within_http_is_followed_and_a_loop_is_refused(serve):
    mirror = serve()
    mirror.answers["moved"] = answer(301, [("Location", "/publication/here"), ("Content-Length", "0")])
    mirror.answers["here"] = answer(200, [("Content-Length", "2")], b"ok")
    assert returns_within(lambda: http_fetch(mirror.base + "moved", {}, 1 << 20)).body == b"ok"
    mirror.answers["loop"] = answer(307, [("Location", "/publication/loop"), ("Content-Length", "0")])
    assert refusal(lambda: http_fetch(mirror.base + "loop", {}, 1 << 20)).reason == "REDIRECT_REFUSED"


@pytest.mark.no_db
def test_a_redirect_from_https_down_to_http_is_refused(serve, tmp_path, monkeypatch):
    plain = serve()
    plain.answers["index.jws"] = answer(200, [("Content-Length", "5")], b"plain")
    secure = serve(tls=_tls_server_context(tmp_path, monkeypatch))
    secure.answers["index.jws"] = answer(200, [("Content-Length", "6")], b"secure")
    secure.answers["upgrade"] = answer(302, [("Location", secure.base + "index.jws"), ("Content-Length", "0")])
    secure.answers["down"] = answer(302, [("Location", plain.base + "index.jws"), ("Content-Length", "0")])
    # https -> https is followed (and proves the TLS set-up), https -> http is not
    assert returns_within(lambda: http_fetch(secure.base + "upgrade", {}, 1 << 20)).body == b"secure"
    refused = refusal(lambda: http_fetch(secure.base + "down", {}, 1 << 20))
    assert refused.reason == "REDIRECT_REFUSED"
    assert "down" in refused.detail


def _tls_server_context(tmp_path: Path, monkeypatch) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 from a CA the client trusts through SSL_CERT_FILE
    (read by the default context the client makes for each connection)."""
    ca = issuance.issue(issuance.name("Test TLS CA"), at=dt.datetime.now(dt.UTC), ca=True)
    key = issuance.new_key()
    now = dt.datetime.now(dt.UTC)
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    issued = issuance.Issued(server, key)
    (tmp_path / "server.pem").write_bytes(issued.cert_pem)
    (tmp_path / "server.key").write_bytes(issued.key_pem)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    return context


# --- URLs that lead nowhere -------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (None, "UNREACHABLE"),
        ("http://name-that-does-not-resolve.invalid/publication/", "UNREACHABLE"),
        ("ftp://127.0.0.1/publication/", "BAD_URL"),
        ("file:///etc/", "BAD_URL"),
        ("127.0.0.1:8443/publication/", "BAD_URL"),
        ("http:///publication/", "BAD_URL"),
        ("http://127.0.0.1:port/publication/", "BAD_URL"),
        ("http://[::1/publication/", "BAD_URL"),
        ("http://127.0.0.1/public ation/\n", "BAD_URL"),
    ],
    ids=["closed port", "unknown name", "ftp", "file", "no scheme", "no host", "port", "bracket", "control"],
)
def test_an_unreachable_or_malformed_url_is_a_named_refusal(tmp_path, url, reason):
    url = url or f"http://127.0.0.1:{_closed_port()}/publication/"
    refused = refusal(lambda: sync(url, tmp_path / "state", [], NOW, timeout=DEADLINE))
    assert refused.reason == reason
    assert not (tmp_path / "state").exists()


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.no_db
def test_the_cli_says_why_in_one_line_and_exits_2(pki, serve, tmp_path, capsys):
    (tmp_path / "ta.pem").write_bytes(pki.ta.cert_pem)
    mirror = serve()
    mirror.answers["index.jws"] = drip_megabyte
    common = ["--trust-anchor", str(tmp_path / "ta.pem"), "--state", str(tmp_path / "state"), "--quiet"]
    cases = [
        (["--url", mirror.base, "--timeout", "1"], "DEADLINE"),
        (["--url", f"http://127.0.0.1:{_closed_port()}/publication/"], "UNREACHABLE"),
        (["--url", "gateway.example/publication/"], "BAD_URL"),
    ]
    for arguments, reason in cases:
        assert returns_within(lambda arguments=arguments: main(["sync", *arguments, *common])) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {reason}: "), err
        assert err.count("\n") == 1, err
    assert not (tmp_path / "state").exists()
    with pytest.raises(SystemExit):
        main(["sync", "--url", mirror.base, *common, "--timeout", "0"])
    assert "positive number of seconds" in capsys.readouterr().err
