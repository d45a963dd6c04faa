"""Federation end to end between three real gateways on this machine (issue 20): A ↔ B ↔ C, each
a production-like stack of its own (scripts/stack.py: nginx with mutual TLS, gunicorn, a Celery
worker and beat, its own PostgreSQL database and Redis, trust anchor, publication folder, demo
countries and GATEWAY_FEDERATION_ID). Every link goes through the followed gateway's nginx, over
HTTPS, to its public publication folder (no client certificate); each worker trusts the other
stacks' TLS CAs as an operator would trust a private CA: through SSL_CERT_FILE, which the
standard library's default context (what ``verifier.fetch.http_fetch`` uses) reads at every
connection.

Peers are configured with the real commands: ``ta_sign_peer`` with the configuring gateway's own
demo trust-anchor key (offline), then ``peer_add`` in its stack; beat looks for due peers every
second and each peer is synced every two seconds. A DSC uploaded at A through A's API reaches B,
and C through B with its origin kept; a verifier pinning B's trust anchor verifies a code it
signed, and refuses it once A revokes it; no gateway takes its own DSCs back; B, stopped and
started again, catches up by deltas; DSCs withdrawn at A (a suspended CSCA) leave B and C,
though B and C follow each other. The figures (seconds from a change at A to its publication
elsewhere) are printed, not asserted: they depend on the machine.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from gateway.pki.certs import certificate_der, load_pem_certificate, thumbprint
from oversight import demo
from tests import stack_support
from tests.stack_support import Stack
from tests.test_verifier_e2e import DCC
from verifier.hcert import Result, verify_hc1
from verifier.issue import issue_hc1
from verifier.reasons import Reason
from verifier.sources import from_state
from verifier.sync import SyncState, sync

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

INTERVAL = 2  # seconds between two syncs of one peer
# Each gateway onboards countries of its own, as real gateways do; the first of each is left
# for the tests to upload (demo_seed uploads the DSCs of the others).
GATEWAYS = {
    "a": ("gateway-a.test", "XA,XB,XC"),
    "b": ("gateway-b.test", "XD,XE,XF"),
    "c": ("gateway-c.test", "XG,XH,XI"),
}
A, B, C = (GATEWAYS[name][0] for name in "abc")
# (follower, followed): A ↔ B ↔ C; C does not follow A, nor A C.
LINKS = (("b", "a"), ("a", "b"), ("b", "c"), ("c", "b"))
# Where each gateway's imported DSCs come from once the federation has settled: (country,
# source_gateway, source_origin). C's reach A through B, and A's reach C through B.
SETTLED = {
    "a": [("XE", B, B), ("XF", B, B), ("XH", B, C), ("XI", B, C)],
    "b": [("XB", A, A), ("XC", A, A), ("XH", C, C), ("XI", C, C)],
    "c": [("XB", B, A), ("XC", B, A), ("XE", B, B), ("XF", B, B)],
}
WAIT = 60  # seconds: the bound of a wait that fails the test, far above what any step takes
# A request of nginx's default ("combined") access log: path, status and body bytes sent.
ACCESS = re.compile(r'"GET (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) (?P<bytes>\d+)')
FULL_LISTS = ("/trustlist.jws", "/revocations.jws")


@dataclass
class Federation:
    stacks: dict[str, Stack]
    work: Path
    done: dict[str, Any] = field(default_factory=dict)  # steps the tests share, each done once

    @property
    def a(self) -> Stack:
        return self.stacks["a"]

    @property
    def b(self) -> Stack:
        return self.stacks["b"]

    @property
    def c(self) -> Stack:
        return self.stacks["c"]

    def watch_folder(self, name: str) -> Path:
        return self.work / "watch" / name

    def published(self, name: str) -> SyncState:
        """What a verifier pinning ``name``'s trust anchor holds after syncing from its nginx now
        (its state kept between calls, so that a poll downloads only what changed)."""
        stack = self.stacks[name]
        anchor = load_pem_certificate(stack.trust_anchor.read_bytes())
        sync(stack.publication_url, self.watch_folder(name), [anchor], dt.datetime.now(dt.UTC), timeout=30)
        return SyncState.load(self.watch_folder(name))


def _settings(name: str, cas: Path) -> dict[str, str]:
    gateway_id, countries = GATEWAYS[name]
    return {
        "GATEWAY_STACK_COUNTRIES": countries,
        "GATEWAY_FEDERATION_ID": gateway_id,
        "GATEWAY_FEDERATION_TICK_SECONDS": "1",
        # The tests poll the publications anonymously, several times a second.
        "GATEWAY_STACK_ANONYMOUS_RATE": "1000r/s",
        "GATEWAY_STACK_ANONYMOUS_BURST": "1000",
        "SSL_CERT_FILE": str(cas),
    }


def _stop_all(stacks: list[Stack]) -> None:
    # Side by side: each stack takes seconds to stop gracefully.
    with ThreadPoolExecutor(max(len(stacks), 1)) as pool:
        list(pool.map(stack_support.stop, stacks))


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    work = tmp_path_factory.mktemp("federation")
    cas = work / "tls-cas.pem"  # every stack's TLS CA, for the workers and this process's verifier
    with ThreadPoolExecutor(len(GATEWAYS)) as pool:  # much of a start waits on processes and sockets
        futures = {
            name: pool.submit(
                stack_support.start,
                work / name,
                rate="1000r/s",
                burst="1000",
                workers="1",
                settings=_settings(name, cas),
            )
            for name in GATEWAYS
        }
    stacks, failures = {}, []
    for name, future in futures.items():
        try:
            stacks[name] = future.result()
        except BaseException as exc:
            failures.append(exc)
    if failures:  # the stacks that did start are stopped, and their databases dropped
        _stop_all(list(stacks.values()))
        raise failures[0]
    try:
        # Written once every CA exists; a worker reads it whenever it opens a connection.
        cas.write_bytes(b"".join(Path(stack.ca).read_bytes() for stack in stacks.values()))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SSL_CERT_FILE", str(cas))
            federation = Federation(stacks, work)
            # A peer's first sync needs its publication; each worker publishes its demo at start.
            _wait(lambda: all((stack.publish_dir / "index.jws").exists() for stack in stacks.values()), "publications")
            with ThreadPoolExecutor(len(LINKS)) as pool:  # each peer_add spends a second starting Django
                list(pool.map(lambda link: _follow(federation, *link), LINKS))
            _wait(lambda: all(_imported(stacks[name]) == SETTLED[name] for name in stacks), "the federation to settle")
            yield federation
    finally:
        _stop_all(list(stacks.values()))


def _follow(federation: Federation, follower: str, followed: str) -> None:
    """What ``follower``'s operator does: its trust anchor signs the peer's statement offline
    (``ta_sign_peer`` touches no database: it runs here, as on the trust anchor's own machine),
    then ``peer_add`` configures the peer in the follower's stack."""
    here, there = federation.stacks[follower], federation.stacks[followed]
    peer_id = GATEWAYS[followed][0]
    signed = io.StringIO()
    call_command(
        "ta_sign_peer",
        "--id",
        peer_id,
        "--endpoint",
        there.publication_url,
        "--peer-trust-anchor",
        str(there.trust_anchor),
        "--ta-cert",
        str(here.trust_anchor),
        "--ta-key",
        str(here.trust_anchor.with_name("ta.key")),
        stdout=signed,
    )
    signature = federation.work / f"{follower}-follows-{followed}.sig"
    signature.write_text(signed.getvalue())
    out = here.manage(
        "peer_add",
        "--id",
        peer_id,
        "--name",
        f"gateway {followed.upper()}",
        "--endpoint",
        there.publication_url,
        "--peer-trust-anchor",
        str(there.trust_anchor),
        "--signature",
        str(signature),
        "--interval",
        str(INTERVAL),
    )
    assert f"peer {peer_id} added" in out


def _imported(stack: Stack) -> list[tuple[str, str, str]]:
    rows = stack.sql(
        "SELECT country, source_gateway, source_origin FROM trustlist_signercertificate "
        "WHERE source_gateway <> '' ORDER BY country, source_gateway"
    )
    return [(str(country), str(peer), str(origin)) for country, peer, origin in rows]


def _wait(condition: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < WAIT, f"timed out after {WAIT} s waiting for {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def _first_seen(checks: dict[str, Callable[[], bool]], since: float, what: str) -> dict[str, float]:
    """Poll the checks until each has been true once: the seconds from ``since`` to the poll
    that first saw each."""
    seen: dict[str, float] = {}
    while len(seen) < len(checks):
        for name, check in checks.items():
            if name not in seen and check():
                seen[name] = time.monotonic() - since
        missing = sorted(set(checks) - set(seen))
        assert time.monotonic() - since < WAIT, f"timed out waiting for {what} at {missing}"
        time.sleep(0.1)
    return seen


def _upload(stack: Stack, country: str, der: bytes | None = None) -> str:
    """A DSC of ``country`` (its demo DSC unless ``der`` is given) uploaded through the stack's
    nginx with the country's client certificate, as its national backend would; its thumbprint."""
    demo_country = stack.country(country)
    der = der or certificate_der(demo_country.issued("dsc").certificate)
    response = stack.request(
        "POST",
        "/signerCertificate",
        cert=demo_country.auth,
        body=demo_country.cms_b64(der),
        headers={"Content-Type": "application/cms"},
    )
    assert response.status == 201, response.body[:500]
    return thumbprint(der)


def _rows(stack: Stack, thumb: str) -> list[tuple[Any, ...]]:
    """The stack's rows of a certificate: (source_gateway, source_origin, revoked)."""
    return stack.sql(
        "SELECT source_gateway, source_origin, revoked_at IS NOT NULL FROM trustlist_signercertificate "
        f"WHERE thumbprint = '{thumb}' ORDER BY source_gateway"
    )


def _sync_events(stack: Stack, peer_id: str, after: int = -1) -> list[tuple[int, dict[str, Any]]]:
    """The stack's audited syncs of ``peer_id`` (leaf index, details), after the leaf ``after``."""
    rows = stack.sql(
        "SELECT leaf_index, details FROM audit_auditevent WHERE action = 'FEDERATION_SYNC' "
        f"AND outcome = 'SUCCESS' AND details->>'peer' = '{peer_id}' AND leaf_index > {after} "
        "ORDER BY leaf_index"
    )
    return [(index, details if isinstance(details, dict) else json.loads(details)) for index, details in rows]


def _code(stack: Stack, country: str) -> str:
    """An HC1 code signed with the country's demo DSC key, as its issuing authority would."""
    dsc = stack.country(country).issued("dsc")
    vaccination = {**DCC["v"][0], "co": country, "is": f"Ministry of Health {country}"}
    payload = {**DCC, "v": [{**vaccination, "ci": f"URN:UVCI:01:{country}:FEDERATION"}]}
    now = dt.datetime.now(dt.UTC)
    return issue_hc1(payload, dsc.certificate, dsc.key, iat=now, exp=now + dt.timedelta(days=30), issuer=country)


def _verify_from_b(federation: Federation, code: str) -> Result:
    """A verifier pinning only B's trust anchor, synced from B's publication, verifies ``code``."""
    federation.published("b")
    source = from_state(federation.watch_folder("b"))
    return verify_hc1(code, source.store, dt.datetime.now(dt.UTC), revocations=source.revocations)


def _xa_dsc_everywhere(federation: Federation) -> str:
    """XA's demo DSC uploaded at A, then published by A, B and C; its thumbprint. Done once: the
    tests that need it share it (and the figures of its way)."""
    if "xa" not in federation.done:
        federation.done["b_before"] = federation.published("b").sequence
        started = time.monotonic()
        thumb = _upload(federation.a, "XA")
        federation.done["xa_seen"] = _first_seen(
            {name: (lambda name=name: thumb in federation.published(name).trusted) for name in ("a", "b", "c")},
            started,
            "XA's DSC in the publications",
        )
        federation.done["xa"] = thumb
    return federation.done["xa"]


def test_a_dsc_uploaded_at_a_is_published_by_b_and_by_c_through_b_with_its_origin(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    thumb = _xa_dsc_everywhere(federation)
    seen = federation.done["xa_seen"]
    with capsys.disabled():
        print(
            f"\nfederation: XA's DSC uploaded at A (API, mutual TLS), published by A in {seen['a']:.2f} s,"
            f" by B in {seen['b']:.2f} s: {seen['b'] - seen['a']:.2f} s after A's publication (peer change to"
            f" visible here; interval {INTERVAL} s + 2 s = {INTERVAL + 2} s), by C (through B) in {seen['c']:.2f} s"
        )
    # B imported it from A; C from B, naming A as where it was onboarded.
    assert _rows(federation.a, thumb) == [("", "", False)]
    assert _rows(federation.b, thumb) == [(A, A, False)]
    assert _rows(federation.c, thumb) == [(B, A, False)]
    assert "source" not in federation.published("a").trusted[thumb]  # a gateway's own entries name none
    for name in ("b", "c"):
        assert federation.published(name).trusted[thumb]["source"] == A

    # A verifier that pins only B's trust anchor verifies a code signed with XA's DSC key.
    result = _verify_from_b(federation, _code(federation.a, "XA"))
    assert result.valid, result.failures


def test_no_gateway_takes_its_own_dscs_back_from_a_peer(federation: Federation) -> None:
    """A follows B, which publishes A's DSCs with source A: A skips them at every sync (and so do
    B and C with theirs)."""
    thumb = _xa_dsc_everywhere(federation)
    before = federation.done["b_before"]  # B's sequence before the upload: later ones hold XA's DSC
    _wait(
        lambda: any(details["sequence"] > before for _, details in _sync_events(federation.a, B)),
        "A to sync B's publication of XA's DSC",
    )
    later = [details for _, details in _sync_events(federation.a, B) if details["sequence"] > before]
    assert sum(details["loops"] for details in later) >= 1, later
    assert _rows(federation.a, thumb) == [("", "", False)]  # never a row of B's
    # Everywhere: no DSC of a gateway's own imported back, and every imported one with its origin;
    # and no conflict: a copy relayed by a peer of an origin followed directly is no conflict (B
    # takes A's DSCs from A only, not from C too).
    xa = {"a": [], "b": [("XA", A, A)], "c": [("XA", B, A)]}
    for name, stack in federation.stacks.items():
        own = GATEWAYS[name][0]
        back = stack.sql(f"SELECT country FROM trustlist_signercertificate WHERE source_origin = '{own}'")
        assert back == [], f"{name} took its own DSCs back: {back}"
        assert _imported(stack) == sorted(SETTLED[name] + xa[name]), name
        assert stack.sql("SELECT peer_id, country, reason FROM federation_conflict") == [], name


def test_a_revocation_at_a_reaches_b_and_c_and_verifiers_of_b_refuse_the_code(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    thumb = _xa_dsc_everywhere(federation)
    code = _code(federation.a, "XA")
    assert _verify_from_b(federation, code).valid

    xa = federation.a.country("XA")
    der = certificate_der(xa.issued("dsc").certificate)
    started = time.monotonic()
    # A CMS signed afresh: replaying the upload's is refused (docs/policy.md).
    response = federation.a.request(
        "DELETE",
        "/signerCertificate",
        cert=xa.auth,
        body=xa.cms_b64(der),
        headers={"Content-Type": "application/cms"},
    )
    assert response.status == 204, response.body[:500]
    seen = _first_seen(
        {name: (lambda name=name: thumb in federation.published(name).revoked) for name in ("a", "b", "c")},
        started,
        "XA's DSC revoked in the publications",
    )
    with capsys.disabled():
        print(
            f"\nfederation: XA's DSC revoked at A (API), published by A in {seen['a']:.2f} s, by B in"
            f" {seen['b']:.2f} s ({seen['b'] - seen['a']:.2f} s after A), by C (through B) in {seen['c']:.2f} s"
        )
    for name in ("b", "c"):
        assert thumb not in federation.published(name).trusted
    assert _rows(federation.b, thumb) == [(A, A, True)]
    assert _rows(federation.c, thumb) == [(B, A, True)]
    result = _verify_from_b(federation, code)
    assert (result.valid, result.reason) == (False, Reason.DSC_REVOKED), result.failures


def test_b_stopped_and_started_again_catches_up_by_deltas(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = federation.a, federation.b
    with ThreadPoolExecutor(2) as pool:  # each takes seconds to stop gracefully
        list(pool.map(lambda service: b.service("stop", service), ("celery-beat", "celery-worker")))
    # Changes at A meanwhile: fresh DSCs of XC and XB, new keys under their demo CSCAs (what
    # `manage.py demo_dsc` makes).
    now = dt.datetime.now(dt.UTC)
    fresh = [
        _upload(a, country, certificate_der(demo.issue_dsc(a.country(country).folder, country, at=now).certificate))
        for country in ("XC", "XB")
    ]
    _wait(lambda: set(fresh) <= set(federation.published("a").trusted), "A to publish the fresh DSCs")
    assert all(_rows(b, thumb) == [] for thumb in fresh), "B synced while stopped"
    index = a.publish_dir / "index.jws"
    log = a.dir / "log" / "nginx-access.log"
    offset = log.stat().st_size  # from here on, B's worker is the only client of A's folder
    ((last_event, _),) = _sync_events(b, A)[-1:]

    started = time.monotonic()
    b.service("start", "celery-worker")
    b.service("start", "celery-beat")
    seen = _first_seen(
        {
            "b": lambda: set(fresh) <= set(federation.published("b").trusted),
            "c": lambda: set(fresh) <= set(federation.published("c").trusted),
        },
        started,
        "the fresh DSCs at B and C once B is running again",
    )
    with log.open("rb") as lines:
        lines.seek(offset)
        requests = [match.groupdict() for match in ACCESS.finditer(lines.read().decode("utf-8", "replace"))]
    fetched = [request for request in requests if request["path"].startswith("/publication/")]
    downloaded = sum(int(request["bytes"]) for request in fetched)
    full = _full_lists_bytes(index.read_bytes())
    events = [details for _, details in _sync_events(b, A, after=last_event)]
    assert events, "no sync of A recorded at B after its start"
    with capsys.disabled():
        print(
            f"\nfederation: B's worker and beat stopped, two DSCs uploaded at A, B started again: published by B"
            f" {seen['b']:.2f} s after the start (C: {seen['c']:.2f} s); B downloaded {downloaded} bytes from A in"
            f" {len(fetched)} requests ({', '.join(r['path'].removeprefix('/publication/') for r in fetched)});"
            f" its first sync after the start: {events[0]['downloaded']} bytes; A's full lists: {full} bytes"
        )
    assert fetched, "B fetched nothing from A's nginx"
    assert not [r["path"] for r in fetched if r["path"].endswith(FULL_LISTS)], fetched
    assert {r["status"] for r in fetched} <= {"200", "304"}, fetched
    # B's first sync of A after the start compared only what changed since the sequence it held.
    assert (events[0]["full"], events[0]["added"]) == (False, 2), events[0]
    assert [_rows(b, thumb) for thumb in fresh] == [[(A, A, False)]] * 2
    assert [_rows(federation.c, thumb) for thumb in fresh] == [[(B, A, False)]] * 2


def test_dscs_withdrawn_at_a_leave_b_and_c_though_b_and_c_follow_each_other(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    """XC's CSCA suspended at A: its DSCs leave A's lists (neither trusted nor revoked), so B
    drops them, then C. C had published them as it took them from B: were B to take C's copies
    then, B and C would keep them trusted on each other's word (federation.importing, rule 2)."""
    a, b, c = federation.a, federation.b, federation.c
    withdrawn = [row[0] for row in a.sql("SELECT thumbprint FROM trustlist_signercertificate WHERE country = 'XC'")]
    assert withdrawn
    assert all(_rows(c, thumb) == [(B, A, False)] for thumb in withdrawn)
    csca = thumbprint(certificate_der(a.country("XC").csca.certificate))
    a.manage("set_onboarded_status", "suspend", csca, "--reason", "federation end to end")
    started = time.monotonic()
    seen = _first_seen(
        {
            name: (lambda name=name: not set(withdrawn) & set(federation.published(name).trusted))
            for name in ("a", "b", "c")
        },
        started,
        "XC's DSCs to leave the publications",
    )
    with capsys.disabled():
        print(
            f"\nfederation: XC's CSCA suspended at A (manage.py), its {len(withdrawn)} DSCs withdrawn (after the"
            f" command) by A in {seen['a']:.2f} s, by B in {seen['b']:.2f} s, by C in {seen['c']:.2f} s"
        )
    # Once B has synced C's publication without them, neither holds them any more, nor takes them back.
    dropped_at_c = federation.published("c").sequence
    _wait(
        lambda: b.sql(f"SELECT last_sequence FROM federation_peer WHERE gateway_id = '{C}'")[0][0] >= dropped_at_c,
        "B to sync C's publication without them",
    )
    assert all(_rows(stack, thumb) == [] for stack in (b, c) for thumb in withdrawn)
    assert not set(withdrawn) & set(federation.published("b").trusted)


def _full_lists_bytes(index: bytes) -> int:
    """The length of the full lists ``index`` names: what a sync from nothing downloads."""
    payload = index.split(b".")[1]
    named = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    return int(named["trustList"]["length"]) + int(named["revocationList"]["length"])
