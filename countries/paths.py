"""Refuse a request path that no route can name, before any view sees it.

No route of the gateway has a control character, a byte sequence that is not UTF-8, or more than
a few hundred characters in its path; such a path reaches only code that was never meant for it
(a NUL made the publish folder's ``open()`` raise: a 500). RFC 3986 §2 allows neither raw control
characters nor escapes that decode to them in any URI component we define, RFC 3987 §3.2 reads
percent-escapes as UTF-8, and OWASP's input validation guidance is to refuse what is not
well-formed early, at one place. So every request passes here before its view, and such a
path is answered 400 ``INVALID_PATH`` (or 414 ``URI_TOO_LONG``, RFC 9110 §15.5.15, as nginx
answers a request line longer than its buffers), as a problem report (a page for people in the
admin).

The refusal is recorded when someone is asking (a client certificate was presented, or a person
is logged in to the admin) and not for anonymous requests (docs/audit.md, "Refusals").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from countries.refusals import record_request_refusal
from gateway import problems
from gateway.pki.errors import Reason
from gateway.problems import Problem

# nginx reads a request line of up to 8 KB (large_client_header_buffers' default, docker/nginx),
# so this limit never refuses what the stack lets through; it bounds the embedded mode alike.
MAX_PATH_BYTES = 8192


def path_problem(path: str) -> Problem | None:
    """What is wrong with a request's path (percent-decoded, as Django routes it), or None."""
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_BYTES:
        return Problem(
            414,
            "0x001",
            "URI Too Long",
            details=f"the path has {size} bytes; at most {MAX_PATH_BYTES} are read",
            reason=Reason.URI_TOO_LONG,
        )
    if "%" in path:
        # Django decodes the path as UTF-8 and escapes again (as %XX) the bytes that are not
        # (RFC 3987 §3.2); any other "%" left after decoding was sent as "%25", a double
        # encoding (OWASP). No route names a "%": the admin escapes it in ids as "_25".
        return _invalid("the path is not UTF-8, or escapes an escape")
    control = next((char for char in path if unicodedata.category(char) == "Cc"), None)
    if control is not None:
        return _invalid(f"the path holds the control character U+{ord(control):04X}")
    return None


def _invalid(details: str) -> Problem:
    return Problem(400, "0x001", "Bad Request", details=details, reason=Reason.INVALID_PATH)


class RequestPathMiddleware:
    """Placed after the authentication middleware, so that a refusal can name the person."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = path_problem(request.path_info)
        if problem is None:
            return self.get_response(request)
        record_request_refusal(request, problem.status, problem.body(), people=True)
        if problems.for_people(request):
            return render(request, "refused.html", {"problem": problem}, status=problem.status)
        return problem.response()
