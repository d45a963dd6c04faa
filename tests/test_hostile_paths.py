"""Never a 500 from a path: every route of the URL conf, its path parameters filled with hostile
values (NUL, control characters, bytes that are not UTF-8, over-long segments, ``..``, encoded
slashes, double escapes), answers 4xx (or what the route answers any stranger: a redirect to the
login), in the embedded mode with DEBUG off and on, anonymously, with a client certificate and
logged in to the admin. The paths no route names are refused before any view
(countries.paths): 400 ``INVALID_PATH`` or 414 ``URI_TOO_LONG``, as a problem report outside
the admin; recorded when someone is asking, not for anonymous requests (docs/audit.md).
The same through nginx: tests/test_stack_hostile.py."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from countries.paths import MAX_PATH_BYTES, path_problem
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki.errors import Reason
from publication.views import PUBLISHED_PATH
from tests.conftest import otp_login

pytestmark = pytest.mark.django_db

# As the client writes them in the URL (the test client percent-decodes the path, as a server does).
CONTROLS = {f"control-{code:02x}": f"%{code:02X}" for code in range(0x01, 0x20)}
REFUSED = {
    "nul": "%00",
    "raw-nul": "\x00",
    **CONTROLS,
    "del": "%7F",
    "c1-next-line": "%C2%85",
    "not-utf8": "%FF%FE",
    "overlong-utf8-slash": "%C0%AF",
    "utf8-surrogate": "%ED%A0%80",
    "double-escaped-nul": "%2500",
    "nul-before-suffix": "index.jws%00.json",
}
TOO_LONG = {"segment-of-10000": "A" * 10_000}
# Well-formed paths that no route should be tricked by: answered by the routes themselves.
ODD = {
    "segment-over-name-max": "B" * 300,
    "dot-dot": "..",
    "dot-dot-escaped-slashes": "..%2F..%2F..%2Fetc%2Fpasswd",
    "escaped-slash": "DSC%2FXA",
    "escaped-backslash": "..%5C..%5Cwin.ini",
    "non-ascii": "%C3%A9t%C3%A9",
}
HOSTILE = {**REFUSED, **TOO_LONG, **ODD}
NAMED = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _routes(patterns: list, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every route of the URL conf as (the route's text, its kind)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + _text(pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            yield prefix + _text(pattern.pattern), type(pattern.pattern).__name__


def _text(pattern) -> str:
    return pattern.regex.pattern if type(pattern).__name__ == "RegexPattern" else str(pattern)


ROUTES = sorted(set(_routes(get_resolver().url_patterns)))


def _fill(route: str, value: str) -> str:
    """The route with each parameter (``<type:name>``, or a regex's ``(?P<name>...)``) replaced
    by ``value``; a route without one gets ``value`` as its last segment."""
    filled, count = route.replace("^", "").replace("$", "").replace("\\", ""), 0
    while (start := filled.find("(?P<")) >= 0:
        depth, end = 0, start
        for end in range(start, len(filled)):
            depth += {"(": 1, ")": -1}.get(filled[end], 0)
            if depth == 0:
                break
        filled, count = filled[:start] + "\0" + filled[end + 1 :], count + 1
    filled, converters = re.subn(r"<[^<>]+>", "\0", filled)
    filled, count = filled.replace("\0", value), count + converters
    if not count:
        filled = filled + ("" if filled.endswith("/") or not filled else "/") + value
    return "/" + filled


def test_every_route_is_walked():
    texts = {route for route, _ in ROUTES}
    assert {"trustList/<str:certificate_type>/<str:country>", "publication/<path:path>", "audit/leaves"} <= texts
    assert any(kind == "RegexPattern" for _, kind in ROUTES), "the admin's regex routes are filled too"
    assert len(ROUTES) > 100
    assert _fill("trustList/<str:certificate_type>/<str:country>", "x") == "/trustList/x/x"
    assert _fill("admin/^(?P<app_label>auth|(a)b)/$", "x") == "/admin/x/"
    assert _fill("countrylist", "x") == "/countrylist/x"
    assert _fill("", "x") == "/x"


def _expected(name: str) -> tuple[int, str] | None:
    if name in REFUSED:
        return 400, Reason.INVALID_PATH
    if name in TOO_LONG:
        return 414, Reason.URI_TOO_LONG
    return None


def _values(number: int) -> dict[str, str]:
    """The hostile values for the route of this number: all but the control characters U+0001
    to U+001F, of which each route takes every eighth (each is tried on some 15 routes; every
    one is refused the same way, test_every_control_character_is_refused checks them all)."""
    controls = list(CONTROLS)[number % 8 :: 8]
    return {name: value for name, value in HOSTILE.items() if name not in CONTROLS or name in controls}


def _check(client: Client, debug: bool, *, admin: bool | None = None, **headers: str) -> list[str]:
    """Every route (the admin's or the others', or all) with the hostile values; what went
    wrong, one line each."""
    wrong = []
    for number, (route, _) in enumerate(ROUTES):
        if admin is not None and route.startswith("admin/") != admin:
            continue
        for name, value in _values(number).items():
            path = _fill(route, value)
            response = client.get(path, **headers)
            status = response.status_code
            label = f"{route} with {name}: {status}"
            if status >= 500:
                wrong.append(f"{label} {response.content[:200]!r}")
                continue
            expected = _expected(name)
            for_people = path.startswith("/admin/")  # a page, not a problem report
            if expected is not None:
                if status != expected[0]:
                    wrong.append(f"{label}, expected {expected[0]}")
                elif not for_people and json.loads(response.content)["reason"] != expected[1]:
                    wrong.append(f"{label}, not {expected[1]}")
            elif status >= 400 and not for_people and not debug and not response.streaming:
                # the routes' own refusals are problem reports with a named reason
                reason = json.loads(response.content).get("reason", "")
                if not NAMED.match(reason):
                    wrong.append(f"{label}, reason {reason!r}")
    return wrong


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_anonymous_hostile_paths_are_4xx_and_not_recorded(settings, debug):
    settings.DEBUG = debug
    assert _check(Client(raise_request_exception=False), debug) == []
    refused = AuditEvent.objects.filter(reason__in=[Reason.INVALID_PATH, Reason.URI_TOO_LONG])
    assert not refused.exists(), "anonymous refusals of a path are not recorded"


def test_hostile_paths_with_a_client_certificate_are_4xx(xa):
    """The routes a country backend calls (the admin does not read client certificates)."""
    assert _check(Client(raise_request_exception=False), False, admin=False, **xa.headers()) == []


def test_hostile_paths_logged_in_to_the_admin_are_4xx(admin_user):
    """The admin's routes, as an operator who may see every page."""
    client = Client(raise_request_exception=False)
    otp_login(client, admin_user)
    assert _check(client, False, admin=True) == []


# --- what is refused, and who is recorded -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/a\x00b", 400, Reason.INVALID_PATH),
        ("/a\x1fb", 400, Reason.INVALID_PATH),
        ("/a\x7fb", 400, Reason.INVALID_PATH),
        ("/a\x85b", 400, Reason.INVALID_PATH),
        ("/a%FFb", 400, Reason.INVALID_PATH),  # how Django hands on bytes that are not UTF-8
        ("/a%25b", 400, Reason.INVALID_PATH),
        ("/" + "é" * (MAX_PATH_BYTES // 2), 414, Reason.URI_TOO_LONG),  # counted in UTF-8 bytes
    ],
)
def test_path_problem_names_what_is_wrong(path, status, reason):
    problem = path_problem(path)
    assert problem is not None
    assert (problem.status, problem.reason) == (status, reason)


def test_every_control_character_is_refused():
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]:
        problem = path_problem(f"/trustList/DSC/X{chr(code)}")
        assert problem is not None, hex(code)
        assert (problem.status, problem.reason) == (400, Reason.INVALID_PATH)
    assert {name for number in range(8) for name in _values(number)} == set(HOSTILE)


@pytest.mark.parametrize(
    "path", ["/", "/trustList/DSC/XA", "/publication/sequences/12/delta.json", "/admin/auth/user/_25/change/", "/été"]
)
def test_ordinary_paths_pass(path):
    assert path_problem(path) is None
    assert path_problem("/" + "A" * (MAX_PATH_BYTES - 1)) is None


def test_a_refused_path_is_recorded_when_someone_asks(client, xa, django_user_model):
    before = AuditEvent.objects.count()
    assert client.get("/trustList/DSC/%00").status_code == 400  # anonymous: answered, not recorded
    assert AuditEvent.objects.count() == before

    response = client.get("/trustList/DSC/%00", **xa.headers())
    assert (response.status_code, response.json()["reason"]) == (400, Reason.INVALID_PATH)
    (event,) = AuditEvent.objects.order_by("leaf_index")[before:]
    assert (event.action, event.outcome, event.reason) == (Action.REQUEST, Outcome.REJECTED, Reason.INVALID_PATH)
    assert event.authentication_thumbprint == xa.auth_thumbprint
    assert event.details["path"] == "/trustList/DSC/\u2400"  # a NUL is kept as U+2400

    person = django_user_model.objects.create_user("visitor", is_staff=True)
    otp_login(client, person)
    page = client.get("/admin/auth/user/%00/change/")
    assert page.status_code == 400
    assert b"cannot be read" in page.content  # a page for people, not the API's problem report
    (event,) = AuditEvent.objects.order_by("leaf_index")[before + 1 :]
    assert (event.reason, event.actor) == (Reason.INVALID_PATH, "visitor")


# --- the publish folder ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["index.jws", "did.json", "sequences/7/trustlist.jws", "sequences/7/delta.json", "sequences/12/rules.jws"],
)
def test_published_names(path):
    assert PUBLISHED_PATH.fullmatch(path)


@pytest.mark.parametrize(
    "path",
    [
        ".lock",
        "index.jws.gz",
        "index.jws/x.json",
        "sequences/7/.delta.json",
        "sequences/7/../../index.jws",
        "sequences/x/delta.json",
        "sequences/7/delta.txt",
        "sequences/7/" + "a" * 300 + ".json",
        "../gateway/settings.json",
    ],
)
def test_other_names_are_not_published(client, settings, path):
    root = Path(settings.GATEWAY_PUBLISH_DIR)
    (root / "sequences" / "7").mkdir(parents=True)
    (root / ".lock").write_text("{}")
    (root / "index.jws.gz").write_bytes(b"x")
    (root / "sequences" / "7" / ".delta.json").write_text("{}")
    assert not PUBLISHED_PATH.fullmatch(path)
    response = client.get(f"/publication/{path}")
    assert (response.status_code, response.json()["reason"]) == (404, Reason.NOT_PUBLISHED)


def test_a_file_that_cannot_be_opened_is_not_published(client, settings, tmp_path):
    root = Path(settings.GATEWAY_PUBLISH_DIR)
    folder = root / "sequences" / "3"
    folder.mkdir(parents=True)
    (folder / "delta.json").mkdir()  # a folder where a file is named
    os.symlink(folder / "span.json", folder / "span.json")  # a link to itself
    (tmp_path / "secret.json").write_text("{}")
    os.symlink(tmp_path / "secret.json", folder / "trustlist.json")  # out of the folder
    for name in ("delta.json", "span.json", "trustlist.json"):
        response = client.get(f"/publication/sequences/3/{name}")
        assert (response.status_code, response.json()["reason"]) == (404, Reason.NOT_PUBLISHED), name


def test_what_nginx_answers_itself_is_named_in_the_one_vocabulary():
    """nginx refuses some requests before the gateway (a request line over its buffers, a bad
    client certificate, the rate limits) in the gateway's problem format: under a Reason too."""
    template = Path(__file__).resolve().parent.parent / "docker" / "nginx" / "gateway.conf.template"
    named = set(re.findall(r'"reason":"([A-Z0-9_]+)"', template.read_text()))
    assert {"URI_TOO_LONG", "MALFORMED_REQUEST"} <= named
    assert named <= set(Reason.__members__)
