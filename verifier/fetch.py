"""Fetching a publication over HTTP for ``verifier.sync``: one deadline over every request of a
sync, a cap on every body, and answers that cannot be read safely refused by name.

A socket timeout bounds one silence, not a download: a mirror that declares a megabyte and sends
a byte every few seconds never trips it. So a sync has one :class:`Deadline` for all its requests
(the index, the lists, the deltas and spans, the named artifacts); while it is open a watchdog
shuts down whichever connection is in use when the time is up, whatever that connection waits
for (a TLS handshake, a status line, a header, a body), and the read that was waiting ends.
(Name resolution is not interruptible: the system resolver's own timeouts bound it.)
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verifier.reasons import PublicationReason, VerificationError

DEFAULT_TIMEOUT = 60.0  # seconds for a whole sync
READ_TIMEOUT = 30.0  # the longest silence one read waits through (within the deadline)
TIMEOUT_GRACE = 1.0  # seconds a socket may wait past the deadline, which the watchdog enforces first
SCHEMES = ("http", "https")
# RFC 9110 §8.6: Content-Length = 1*DIGIT (no sign, no list, no other digits)
CONTENT_LENGTH = re.compile(r"[0-9]+")
REDIRECTS = (301, 302, 303, 307, 308)

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


# (url, request headers, byte cap, progress callback) -> Response; the cap must be enforced while reading.
Fetch = Callable[[str, dict[str, str], int, Progress | None], Response]


class Deadline:
    """One time limit over every request of a sync, on the monotonic clock.

    Open it as a context manager: until it is closed, a watchdog thread shuts down the connection
    last given to :meth:`watch` when the time is up. Outside one, only :meth:`check` and the
    read timeout bound the requests."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: socket.socket | None = None
        self._fired = False
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Deadline:
        # a Timer cannot wait longer than the platform's lock timeout (an infinite timeout, say)
        self._timer = threading.Timer(min(max(self.left(), 0.0), threading.TIMEOUT_MAX), self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.unwatch()

    def left(self) -> float:
        return self._at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self._fired or self.left() <= 0

    def check(self, what: str) -> None:
        if self.expired:
            raise VerificationError(PublicationReason.DEADLINE, f"{what}: not done within {self.seconds:g} s")

    def read_timeout(self) -> float:
        """The socket's own timeout: a little beyond the deadline, so that the watchdog ends what
        waits when it passes (and the refusal says DEADLINE), while this bounds what the watchdog
        cannot reach (a connect, or a deadline not opened as a context manager)."""
        return max(min(READ_TIMEOUT, self.left() + TIMEOUT_GRACE), 0.001)

    def watch(self, sock: socket.socket) -> None:
        """Watch the connection ``sock`` is on (it replaces the one watched before: a redirect)
        through a descriptor of the deadline's own, a duplicate: TLS takes the TCP socket over
        (Python detaches that socket object before the handshake), and whatever object reads the
        connection, shutting it down through any of its descriptors ends the read."""
        twin = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            previous, self._watched = self._watched, twin
            if self._fired:
                _shut(twin)
        if previous is not None:
            previous.close()

    def unwatch(self) -> None:
        """The connection is done with: let its descriptor go (the duplicate keeps it open)."""
        with self._lock:
            previous, self._watched = self._watched, None
        if previous is not None:
            previous.close()

    def _fire(self) -> None:
        # under the lock: the descriptor shut down is never one closed meanwhile (and reused)
        with self._lock:
            self._fired = True
            if self._watched is not None:
                _shut(self._watched)


def _shut(sock: socket.socket) -> None:
    """Shut both directions down: a read blocked on the connection in another thread returns at
    once (end of stream), which closing a descriptor would not guarantee."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # not connected any more: nothing waits on it
        pass


def http_fetch(
    url: str,
    headers: dict[str, str],
    cap: int,
    progress: Progress | None = None,
    *,
    deadline: Deadline | None = None,
    tls: ssl.SSLContext | None = None,
) -> Response:
    """GET with a hard cap on the bytes read (a body over the cap is refused, not truncated),
    within ``deadline`` (its own of ``DEFAULT_TIMEOUT`` when none is given). Any answer is a
    :class:`Response` or a :class:`VerificationError`, never another exception. ``tls``: the
    TLS context for https (default: system CAs, no client certificate)."""
    if deadline is None:
        with Deadline(DEFAULT_TIMEOUT) as own:
            return http_fetch(url, headers, cap, progress, deadline=own, tls=tls)
    problem = url_problem(url)
    if problem is not None:
        raise VerificationError(PublicationReason.BAD_URL, problem)
    deadline.check(url)
    request = urllib.request.Request(url, headers={**headers, "Accept-Encoding": "identity"})  # noqa: S310
    try:
        return _fetch(request, url, cap, progress, deadline, tls)
    finally:
        deadline.unwatch()


def _fetch(
    request: urllib.request.Request,
    url: str,
    cap: int,
    progress: Progress | None,
    deadline: Deadline,
    tls: ssl.SSLContext | None = None,
) -> Response:
    try:
        with _opener(deadline, tls).open(request, timeout=deadline.read_timeout()) as reply:
            return _read(reply, url, cap, progress, deadline)
    except urllib.error.HTTPError as error:
        error.close()
        deadline.check(url)
        if error.code in REDIRECTS:  # not followed: a loop, too many, or no Location
            raise VerificationError(PublicationReason.REDIRECT_REFUSED, f"{url}: {error.reason}") from error
        return Response(error.code, dict(error.headers.items()), b"")
    except (OSError, http.client.HTTPException, ValueError) as error:
        # OSError: name resolution, connection, TLS, timeouts (urllib's URLError is one);
        # HTTPException: a status line or headers that do not parse, a chunked body cut short;
        # ValueError: a URL http.client refuses (control characters, non-ASCII). A watchdog's
        # shutdown surfaces as any of them.
        deadline.check(url)
        if isinstance(error, (http.client.InvalidURL, ValueError)) and not isinstance(error, OSError):
            raise VerificationError(PublicationReason.BAD_URL, f"{url}: {error}") from error
        raise VerificationError(PublicationReason.UNREACHABLE, f"{url}: {error}") from error


def url_problem(url: str) -> str | None:
    """Why ``url`` is not one to fetch a publication from (an http or https URL with a host and,
    if any, a numeric port), or None."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"{url!r}: {exc}"
    if parts.scheme not in SCHEMES:
        return f"{url!r}: not an http or https URL"
    if not parts.hostname:
        return f"{url!r}: no host"
    return None


def _read(
    reply: http.client.HTTPResponse, url: str, cap: int, progress: Progress | None, deadline: Deadline
) -> Response:
    declared = _content_length(reply, url)
    if declared is not None and declared > cap:
        raise VerificationError(PublicationReason.OVERSIZE, f"{url}: {declared} bytes, at most {cap} expected")
    chunks, total = [], 0
    # read1: at most one read of the socket each time, so a drip is seen arriving (and the
    # deadline checked) rather than collected inside one blocking read of 64 KiB.
    while chunk := reply.read1(1 << 16):
        total += len(chunk)
        if total > cap:
            raise VerificationError(PublicationReason.OVERSIZE, f"{url}: more than {cap} bytes")
        chunks.append(chunk)
        if progress:
            progress(total, declared)
        deadline.check(url)
    # the watchdog's shutdown reads as the end of the body: a short body is not a whole one
    deadline.check(url)
    return Response(reply.status, dict(reply.headers.items()), b"".join(chunks))


def _content_length(reply: http.client.HTTPResponse, url: str) -> int | None:
    """The body's declared length, or None when the answer declares none (chunked, or to the end
    of the connection). RFC 9112 §6.3: a Content-Length that is not valid makes the framing
    unreadable and must be treated as an unrecoverable error; http.client would instead ignore it
    (``abc``, ``-1``) and read to the end of the connection, or take the first of several."""
    values = reply.headers.get_all("Content-Length") or []
    if not values:
        return None
    if len(values) > 1 or not CONTENT_LENGTH.fullmatch(values[0].strip()):
        shown = ", ".join(repr(value) for value in values)
        raise VerificationError(PublicationReason.BAD_CONTENT_LENGTH, f"{url}: Content-Length {shown}")
    return int(values[0])


def redirect_problem(source: str, target: str) -> str | None:
    """Why a redirect from ``source`` to ``target`` is not followed, or None. A mirror may move,
    even to another host, but not out of HTTP (``ftp:``, ``file:``... would reach other servers
    or the local disk) and not from https down to http, which would hand the download to anyone
    on the path (signatures still refuse altered files, not a stale or withheld one)."""
    problem = url_problem(target)
    if problem is not None:
        return f"redirected to {problem}"
    if urllib.parse.urlsplit(source).scheme == "https" and urllib.parse.urlsplit(target).scheme != "https":
        return f"redirected from https down to {target!r}"
    return None


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects (at most 10, no loops), each first checked by ``redirect_problem``."""

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            problem = redirect_problem(req.full_url, urllib.parse.urljoin(req.full_url, location.strip()))
            if problem is not None:
                fp.close()
                raise VerificationError(PublicationReason.REDIRECT_REFUSED, f"{req.full_url}: {problem}")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class _Watched:
    """A connection whose TCP socket the deadline watches from its creation (through
    ``_create_connection``, http.client's hook for it), so that a TLS handshake or a proxy's
    answer that drips is interrupted too, like the status line, the headers and the body."""

    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        self._create_connection = self._watched_connection

    def _watched_connection(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.create_connection(address, *args, **kwargs)
        self._deadline.watch(sock)
        return sock


class _WatchedHTTP(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, http.client.HTTPSConnection):
    pass


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_WatchedHTTP, req, deadline=self.deadline)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline, tls: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.deadline = deadline
        self.tls = tls

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        # Without a context, http.client makes its default one (system CAs, hostname checked);
        # a gateway fetching from a peer over mutual TLS gives its own (its client certificate).
        return self.do_open(_WatchedHTTPS, req, deadline=self.deadline, context=self.tls)


def _opener(deadline: Deadline, tls: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    """urllib's opener for http and https only (no ftp:, file: or data:), with proxies from the
    environment as urlopen has them, watched connections and checked redirects."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        _HTTP(deadline),
        _HTTPS(deadline, tls),
        urllib.request.HTTPDefaultErrorHandler(),
        _Redirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener
