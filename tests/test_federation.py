"""Federation with a peer of this kind (issue 20), against a real second instance of this gateway
(its own processes, database, trust anchor and publication: tests/federation_support.py).

Here: the peer's DSCs are imported with their provenance, shown by the API only with
``withFederation=true``, published for verifiers with their ``source`` so that a verifier syncing
from here verifies a code the peer's country signed; a DSC revoked at the peer is revoked here
at the next sync and refused by that verifier; a change costs a delta, not the peer's lists; a
country onboarded here is never overridden (kept aside, reported); a tampered, rolled-back or
expired publication is refused by name and the last good state kept; a peer this gateway's trust
anchor did not sign is never configured nor used; two syncs of one peer never run at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.utils import timezone

from federation import services, statements
from federation.importing import import_state
from federation.models import Conflict, ConflictReason, Peer, PeerKind, PeerSync
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason, Rejected
from oversight import demo
from publication.service import publish
from tests.federation_support import PeerInstance, peer_entry, peer_state
from tests.helpers import upload
from tests.publishing import anchors, install_publisher
from tests.test_named_artifacts import BASE, _Server
from tests.test_verifier_e2e import DCC
from trustlist.models import SignerCertificate
from trustlist.trust import trusted_dscs
from verifier.hcert import verify_hc1
from verifier.issue import issue_hc1
from verifier.reasons import PublicationReason, VerificationError
from verifier.reasons import Reason as VerifyReason
from verifier.sources import from_state
from verifier.sync import Response, sync

pytestmark = pytest.mark.django_db(transaction=True)
PEER_ID = "peer-b.example"


@pytest.fixture(scope="module")
def peer_template(tmp_path_factory) -> PeerInstance:
    """One seeded peer per module; each test copies it (seeding costs seconds, a copy none)."""
    return PeerInstance.create(tmp_path_factory.mktemp("peer-template"), PEER_ID, ("XP", "XA", "XQ", "XR"))


@pytest.fixture
def peer(peer_template, tmp_path) -> PeerInstance:
    import shutil

    folder = tmp_path / "peer"
    shutil.copytree(peer_template.folder, folder)
    return PeerInstance(folder, PEER_ID, peer_template.countries, endpoint=peer_template.endpoint)


@pytest.fixture
def here(pki, settings):
    settings.GATEWAY_FEDERATION_ID = "here.example"
    install_publisher(pki, at=timezone.now())
    return pki


def _signature(pki, peer: PeerInstance, **changes: str) -> str:
    fields = {"gateway_id": peer.gateway_id, "kind": PeerKind.GATEWAY, "endpoint": peer.endpoint, **changes}
    anchor = statements.trust_anchor_der(peer.trust_anchor.read_text())
    data = statements.statement(fields["gateway_id"], fields["kind"], fields["endpoint"], anchor)
    return statements.sign(data, pki.ta.certificate, pki.ta.key)


def _add(pki, peer: PeerInstance, *, signature: str | None = None, interval: int | None = 60) -> Peer:
    return services.add_peer(
        gateway_id=peer.gateway_id,
        name="Peer B",
        kind=PeerKind.GATEWAY,
        endpoint=peer.endpoint,
        trust_anchor_pem=peer.trust_anchor.read_text(),
        signature=signature if signature is not None else _signature(pki, peer),
        interval_seconds=interval,
        actor="test",
        at=timezone.now(),
    )


def _sync(configured: Peer, peer: PeerInstance, **options):
    return services.sync_peer(configured.pk, now=options.pop("now", timezone.now()), fetch=peer.fetch, **options)


def _code(peer: PeerInstance, country: str, ci: str = "URN:UVCI:01:XQ:1") -> str:
    dsc = demo.load(peer.demo(country), "dsc")
    payload = {**DCC, "v": [{**DCC["v"][0], "co": country, "is": f"Ministry of Health {country}", "ci": ci}]}
    now = timezone.now()
    return issue_hc1(payload, dsc.certificate, dsc.key, iat=now, exp=now + dt.timedelta(days=30), issuer=country)


def _verify_from_here(pki, tmp_path, code: str):
    folder = tmp_path / "verifier"
    sync(BASE, folder, anchors(pki), timezone.now(), fetch=_Server())
    source = from_state(folder)
    return verify_hc1(code, source.store, timezone.now(), revocations=source.revocations), source


def test_a_peers_dscs_come_in_with_provenance_and_reach_verifiers_here(here, peer, client, tmp_path):
    xa = here.country("XA")  # onboarded here: the peer's XA is never imported
    configured = _add(here, peer)
    outcome = _sync(configured, peer)
    assert outcome is not None
    rows = SignerCertificate.objects.filter(source_gateway=PEER_ID)
    assert sorted(rows.values_list("country", flat=True)) == ["XQ", "XR"]
    peer_sequence = json.loads(
        base64.urlsafe_b64decode((peer.publish_dir / "index.jws").read_bytes().split(b".")[1] + b"==")
    )["sequence"]
    assert {(row.source_origin, row.source_sequence, row.signature) for row in rows} == {(PEER_ID, peer_sequence, "")}
    record = PeerSync.objects.get(peer=configured)
    assert record.sequence == peer_sequence
    assert record.index == (peer.publish_dir / "index.jws").read_bytes()  # the signed word it came on
    (conflict,) = Conflict.objects.filter(peer=configured)
    assert (conflict.country, conflict.reason) == ("XA", ConflictReason.LOCAL_COUNTRY)
    event = AuditEvent.objects.filter(action=Action.FEDERATION_SYNC).get()
    assert (event.outcome, event.details["added"], event.details["keptAside"]) == (
        Outcome.SUCCESS,
        2,
        {"LOCAL_COUNTRY": 1},
    )
    configured.refresh_from_db()
    assert (configured.last_sequence, configured.entries, configured.conflicts, configured.failures) == (
        peer_sequence,
        2,
        1,
        0,
    )

    # The API: only with withFederation=true, each with its sourceGateway.
    plain = client.get("/trustList/certificate", **xa.headers()).json()
    assert {entry["country"] for entry in plain} <= {"XA"}
    federated = client.get("/trustList/certificate?withFederation=true", **xa.headers()).json()
    assert {(e["country"], e.get("sourceGateway")) for e in federated if e["country"] != "XA"} == {
        ("XQ", PEER_ID),
        ("XR", PEER_ID),
    }

    # The publication for verifiers carries them with their source; a code of XQ verifies here.
    publish(at=timezone.now(), force=True, full=True)
    result, source = _verify_from_here(here, tmp_path, _code(peer, "XQ"))
    assert result.valid, result.failures
    entries = [entry for entry in source.entries if entry["country"] in ("XQ", "XR")]
    assert {entry.get("source") for entry in entries} == {PEER_ID}


def test_a_revocation_at_the_peer_follows_by_a_delta_and_verifiers_refuse_the_code(here, peer, tmp_path):
    configured = _add(here, peer)
    _sync(configured, peer)
    code = _code(peer, "XQ")
    publish(at=timezone.now(), force=True, full=True)
    assert _verify_from_here(here, tmp_path, code)[0].valid
    first = peer.served_bytes

    peer.revoke_dscs("XQ")
    peer.requests.clear()
    outcome = _sync(configured, peer)
    assert outcome is not None
    assert outcome.revoked == 1
    assert not any(path.endswith("trustlist.jws") for path in peer.requests), "a delta, not the full lists"
    assert peer.served_bytes - first < first / 2
    row = SignerCertificate.objects.get(source_gateway=PEER_ID, country="XQ")
    assert row.revoked_at is not None
    assert not trusted_dscs(with_federation=True).filter(pk=row.pk).exists()
    publish(at=timezone.now(), force=True)
    result, _ = _verify_from_here(here, tmp_path, code)
    assert not result.valid
    assert result.reason is VerifyReason.DSC_REVOKED  # the verifier knows the kid was revoked, and by whom

    # Unchanged peer: nothing downloaded but its index, nothing written.
    assert _sync(configured, peer) is None


def test_a_new_dsc_at_the_peer_costs_one_delta_and_one_row(here, peer):
    configured = _add(here, peer)
    _sync(configured, peer)
    peer.upload_new_dsc("XR")
    peer.requests.clear()
    outcome = _sync(configured, peer)
    assert outcome is not None
    assert (outcome.added, len(outcome.changed)) == (1, 1)
    assert not any(path.endswith("trustlist.jws") for path in peer.requests)
    assert SignerCertificate.objects.filter(source_gateway=PEER_ID, country="XR").count() == 2


def _tampered(peer: PeerInstance, data: bytes):
    def fetch(url, headers, cap, progress):
        if url.endswith("index.jws"):
            return Response(200, {}, data)
        return peer.fetch(url, headers, cap, progress)

    return fetch


@pytest.mark.parametrize("attack", ["tampered", "rolled back", "expired"])
def test_a_hostile_peer_is_refused_by_name_and_the_last_good_state_kept(here, peer, attack):
    configured = _add(here, peer)
    old_index = (peer.publish_dir / "index.jws").read_bytes()
    peer.upload_new_dsc("XR")  # a newer sequence at the peer
    _sync(configured, peer)
    held = sorted(SignerCertificate.objects.filter(source_gateway=PEER_ID).values_list("thumbprint", flat=True))
    now = timezone.now()
    if attack == "tampered":
        index = bytearray((peer.publish_dir / "index.jws").read_bytes())
        index[-5] = ord("A") if index[-5] != ord("A") else ord("B")
        fetch, expected = _tampered(peer, bytes(index)), PublicationReason.BAD_SIGNATURE
    elif attack == "rolled back":
        fetch, expected = _tampered(peer, old_index), PublicationReason.ROLLBACK
    else:
        fetch, expected = peer.fetch, PublicationReason.INDEX_EXPIRED
        now += dt.timedelta(days=30)
    peer.revoke_dscs("XQ")  # what a refused sync must not bring in
    with pytest.raises(VerificationError) as caught:
        services.sync_peer(configured.pk, now=now, fetch=fetch)
    assert caught.value.reason is expected
    assert sorted(SignerCertificate.objects.filter(source_gateway=PEER_ID).values_list("thumbprint", flat=True)) == held
    assert not SignerCertificate.objects.filter(source_gateway=PEER_ID, revoked_at__isnull=False).exists()
    configured.refresh_from_db()
    assert (configured.failures, configured.last_reason) == (1, expected)
    assert configured.next_attempt_at >= now + dt.timedelta(seconds=120)  # backed off: 60 s x 2
    refused = AuditEvent.objects.filter(action=Action.FEDERATION_SYNC, outcome=Outcome.REJECTED).get()
    assert (refused.reason, refused.details["peer"]) == (expected, PEER_ID)
    # The peer, honest again: the next sync takes the revocation.
    assert _sync(configured, peer).revoked == 1


def test_a_peer_not_signed_by_this_gateways_trust_anchor_is_never_configured_nor_used(here, peer):
    peer_key = demo.load(peer.folder / "demo" / "trust-anchor", "ta")  # the peer's own anchor
    anchor = statements.trust_anchor_der(peer.trust_anchor.read_text())
    wrong = statements.sign(
        statements.statement(PEER_ID, PeerKind.GATEWAY, peer.endpoint, anchor), peer_key.certificate, peer_key.key
    )
    for signature, reason in (
        (wrong, Reason.PEER_SIGNER_UNKNOWN),
        (_signature(here, peer, endpoint="https://elsewhere.example/"), Reason.PEER_SIGNATURE_INVALID),
        ("not base64!", Reason.PEER_SIGNATURE_INVALID),
    ):
        with pytest.raises(Rejected) as caught:
            _add(here, peer, signature=signature)
        assert caught.value.reason is reason
    assert not Peer.objects.exists()
    assert AuditEvent.objects.filter(action=Action.PEER_ADD, outcome=Outcome.REJECTED).count() == 3

    configured = _add(here, peer)
    _sync(configured, peer)
    assert trusted_dscs(with_federation=True).filter(source_gateway=PEER_ID).count() == 3  # XA, XQ, XR
    # An edited row (another endpoint, the signature kept): its entries stop counting at once,
    # and it is not synced.
    Peer.objects.filter(pk=configured.pk).update(endpoint="https://evil.example/publication/")
    assert not trusted_dscs(with_federation=True).filter(source_gateway=PEER_ID).exists()
    with pytest.raises(Rejected) as caught:
        _sync(configured, peer)
    assert caught.value.reason is Reason.PEER_SIGNATURE_INVALID


def test_two_syncs_of_one_peer_never_run_at_once(here, peer):
    configured = _add(here, peer)
    now = timezone.now()
    Peer.objects.filter(pk=configured.pk).update(lease_until=now + dt.timedelta(minutes=2))
    with pytest.raises(Rejected) as caught:
        _sync(configured, peer, now=now)
    assert caught.value.reason is Reason.PEER_BUSY
    assert services.due_peers(now) == []
    assert services.due_peers(now + dt.timedelta(minutes=3)) == [configured]


def test_removing_a_peer_withdraws_its_entries(here, peer):
    configured = _add(here, peer)
    _sync(configured, peer)
    services.remove_peer(configured, actor="test", at=timezone.now())
    assert not SignerCertificate.objects.filter(source_gateway=PEER_ID).exists()
    assert not Peer.objects.exists()


def test_both_ways_over_http_and_an_entry_of_this_gateways_own_is_never_imported_back(
    here, peer, client, live_server, tmp_path
):
    """A → B → A: B imports A's DSC and publishes it with source A; A skips it when it syncs B."""
    xb = here.country("XB")
    assert upload(client, xb, xb.cms_b64(xb.dsc().der)).status_code == 201
    publish(at=timezone.now(), force=True, full=True)
    # At the peer: its operator configures this gateway, signed by the peer's own trust anchor.
    ours = tmp_path / "our-ta.pem"
    ours.write_bytes(here.ta.cert_pem)
    endpoint = f"{live_server.url}/publication/"
    signed = tmp_path / "signature.b64"
    signed.write_text(
        peer.manage(
            "ta_sign_peer",
            "--id",
            "here.example",
            "--endpoint",
            endpoint,
            "--peer-trust-anchor",
            str(ours),
            "--ta-cert",
            str(peer.trust_anchor),
            "--ta-key",
            str(peer.trust_anchor_key),
        )
    )
    peer.manage(
        "peer_add",
        "--id",
        "here.example",
        "--endpoint",
        endpoint,
        "--peer-trust-anchor",
        str(ours),
        "--signature",
        str(signed),
    )
    out = peer.manage("peer_sync", "here.example")
    assert "1 added" in out  # XB's DSC from here
    # Here: the peer now publishes our DSC with source here.example.
    configured = _add(here, peer)
    outcome = _sync(configured, peer)
    assert outcome is not None
    assert outcome.loops == 1
    assert not SignerCertificate.objects.filter(source_gateway=PEER_ID, country="XB").exists()
    assert SignerCertificate.objects.filter(source_gateway="", country="XB").count() == 1


# --- operating: admin, health, metrics -------------------------------------------------------------


def _operator(client):
    from django.contrib.auth.models import User

    from tests.conftest import otp_login

    user = User.objects.create_superuser("otto", "otto@example.org", "x")
    otp_login(client, user)
    return user


def test_an_operator_adds_a_peer_in_the_admin_and_a_refusal_names_its_reason(here, peer, client):
    _operator(client)
    form = {
        "gateway_id": PEER_ID,
        "name": "Peer B",
        "kind": PeerKind.GATEWAY,
        "endpoint": peer.endpoint,
        "trust_anchor": peer.trust_anchor.read_text(),
        "signature": _signature(here, peer, endpoint="https://elsewhere.example/"),
        "interval_seconds": 60,
    }
    refused = client.post("/admin/federation/peer/add/", form)
    assert refused.status_code == 200
    assert b"PEER_SIGNATURE_INVALID" in refused.content
    assert not Peer.objects.exists()
    added = client.post("/admin/federation/peer/add/", {**form, "signature": _signature(here, peer)})
    assert added.status_code == 302, added.content[-2000:]
    configured = Peer.objects.get()
    assert AuditEvent.objects.filter(action=Action.PEER_ADD, outcome=Outcome.SUCCESS, actor="otto").exists()
    # Sync now, from the list; then the status and the kept-aside entries are on show.
    here.country("XA")
    services.sync_peer(configured.pk, now=timezone.now(), fetch=peer.fetch)
    page = client.get("/admin/federation/peer/").content.decode()
    assert PEER_ID in page
    conflicts = client.get("/admin/federation/conflict/").content.decode()
    assert "LOCAL_COUNTRY" in conflicts or "onboarded here" in conflicts
    # The interval is all an operator changes in place; the change is audited.
    changed = client.post(f"/admin/federation/peer/{configured.pk}/change/", {"interval_seconds": 30})
    assert changed.status_code == 302
    configured.refresh_from_db()
    assert configured.interval_seconds == 30
    assert configured.endpoint == peer.endpoint


def test_health_and_metrics_report_each_peer(here, peer, client, settings):
    import datetime as dt

    configured = _add(here, peer, interval=60)
    now = timezone.now()
    Peer.objects.filter(pk=configured.pk).update(created_at=now - dt.timedelta(hours=1))
    report = client.get("/health/", {"format": "json"}).json()
    failing = {name: text for name, text in report.items() if text != "OK"}
    assert any(f"peer {PEER_ID}: never synced" in text for text in failing.values()), failing
    _sync(configured, peer)
    report = client.get("/health/", {"format": "json"}).json()
    assert not any("peer" in text for name, text in report.items() if text != "OK")
    metrics = client.get("/metrics").content.decode()
    assert f'gateway_federation_peer_entries{{peer="{PEER_ID}"}} 3.0' in metrics
    assert f'gateway_federation_peer_failures{{peer="{PEER_ID}"}} 0.0' in metrics


def test_an_offline_copy_of_a_peers_folder_is_verified_as_if_downloaded(here, peer, tmp_path):
    import io
    import shutil

    from django.core.management import CommandError, call_command

    _add(here, peer)
    copy = tmp_path / "offline"
    shutil.copytree(peer.publish_dir, copy)
    # Tampered in transit: one byte of the full trust list.
    listed = json.loads(base64.urlsafe_b64decode((copy / "index.jws").read_bytes().split(b".")[1] + b"=="))
    trust_list = copy / listed["trustList"]["path"]
    data = bytearray(trust_list.read_bytes())
    data[200] ^= 1
    trust_list.write_bytes(bytes(data))
    with pytest.raises(CommandError):
        call_command("peer_sync", PEER_ID, "--folder", str(copy), stdout=io.StringIO(), stderr=io.StringIO())
    assert not SignerCertificate.objects.filter(source_gateway=PEER_ID).exists()
    shutil.copy(peer.publish_dir / listed["trustList"]["path"], trust_list)
    Peer.objects.update(next_attempt_at=None)
    out = io.StringIO()
    call_command("peer_sync", PEER_ID, "--folder", str(copy), stdout=out)
    assert "3 added" in out.getvalue()  # XA, XQ, XR (XA is not onboarded here in this test)


# --- The origin alone speaks for its entries when it is followed (federation.importing, rule 2) ---

ORIGIN, RELAY, HERE = "origin.example", "relay.example", "here.example"


def _configured(gateway_id: str) -> Peer:
    # Only the import is under test here: the peer's signature is checked before it (sync_peer).
    return Peer.objects.create(
        gateway_id=gateway_id,
        name=gateway_id,
        endpoint=f"https://{gateway_id}/publication/",
        trust_anchor="",
        signature="",
        created_at=timezone.now(),
    )


def _holders() -> dict[str, tuple[str, str, bool]]:
    return {
        row.thumbprint: (row.source_gateway, row.source_origin, row.revoked_at is not None)
        for row in SignerCertificate.objects.exclude(source_gateway="")
    }


def test_an_entry_its_followed_origin_withdrew_is_not_kept_alive_by_a_relays_echo(here):
    """Here follows the origin and a relay that follows here: the relay publishes the origin's DSC
    as it took it from here. When the origin withdraws the DSC (neither trusted nor revoked: its
    CSCA suspended), the relay's copy must not come in: it is an echo of here's own row, and here
    and the relay would each keep the DSC alive on the other's word (found end to end with three
    stacks: tests/test_federation_stacks.py)."""
    origin, relay = _configured(ORIGIN), _configured(RELAY)
    der = here.country("XQ", onboard=False).dsc().der
    thumb, now = thumbprint(der), timezone.now()
    import_state(origin, peer_state(1, [peer_entry(der, "XQ")]), None, own_id=HERE, at=now)
    outcome = import_state(relay, peer_state(7, [peer_entry(der, "XQ", source=ORIGIN)]), None, own_id=HERE, at=now)
    assert (outcome.relayed, outcome.added, outcome.kept_aside) == (1, 0, {})
    assert not Conflict.objects.exists()  # not a conflict: a copy of what the origin says itself
    assert _holders() == {thumb: (ORIGIN, ORIGIN, False)}

    outcome = import_state(origin, peer_state(2, []), {thumb}, own_id=HERE, at=now)  # its delta names it
    assert outcome.removed == 1
    assert _holders() == {}
    assert not trusted_dscs(with_federation=True).filter(thumbprint=thumb).exists()


def test_a_followed_origin_settles_the_rows_relays_gave_of_its_entries_before(here):
    """Before the origin was followed, a relay gave here three of its DSCs. The origin's first
    sync takes over the one it lists, revokes the one it revoked, drops the one it no longer lists;
    the relay's copies are skipped from then on."""
    relay = _configured(RELAY)
    xq = here.country("XQ", onboard=False)
    listed, revoked, dropped = (xq.dsc().der for _ in range(3))
    now = timezone.now()
    relayed = peer_state(3, [peer_entry(der, "XQ", source=ORIGIN) for der in (listed, revoked, dropped)])
    assert import_state(relay, relayed, None, own_id=HERE, at=now).added == 3
    assert set(_holders().values()) == {(RELAY, ORIGIN, False)}

    origin = _configured(ORIGIN)
    gone = {**peer_entry(revoked, "XQ"), "revokedAt": "2026-06-01T12:00:00Z", "reason": "compromised"}
    outcome = import_state(origin, peer_state(9, [peer_entry(listed, "XQ")], [gone]), None, own_id=HERE, at=now)
    assert (outcome.added, outcome.revoked, outcome.removed) == (1, 1, 1)
    assert _holders() == {
        thumbprint(listed): (ORIGIN, ORIGIN, False),
        thumbprint(revoked): (RELAY, ORIGIN, True),
    }
    assert not Conflict.objects.exists()

    # The relay still lists all three as trusted (a full sync compares them all): skipped, and
    # its revoked row stays revoked.
    outcome = import_state(relay, relayed, None, own_id=HERE, at=now)
    assert (outcome.relayed, outcome.added, outcome.removed) == (3, 0, 0)
    assert _holders() == {
        thumbprint(listed): (ORIGIN, ORIGIN, False),
        thumbprint(revoked): (RELAY, ORIGIN, True),
    }
