"""The import's two ways of reading this gateway's side (federation.importing, trustlist.federated):
a large import (a first import, a full sync) reads the table in one pass, a small one in chunks of
the entries; both come to the same rows, conflicts and outbox. A delta reads only the rows it
names. And beat's tick syncs a peer every interval (federation.services.due_peers)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from federation import importing, services, tasks
from federation.importing import PeerState, import_state
from federation.models import Conflict, Peer
from gateway.outbox.models import Change
from gateway.pki.certs import kid as compute_kid
from gateway.pki.certs import thumbprint
from tests.federation_support import peer_entry, peer_state
from tests.helpers import upload
from trustlist import federated
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db
PEER, OTHER, HERE = "peer.example", "other.example", "here.example"


def _peer(gateway_id: str, *, interval: int | None = None) -> Peer:
    # Only the import is under test: the peer's signature is checked before it (sync_peer).
    return Peer.objects.create(
        gateway_id=gateway_id,
        name=gateway_id,
        endpoint=f"https://{gateway_id}/publication/",
        trust_anchor="",
        signature="",
        created_at=timezone.now(),
        interval_seconds=interval,
    )


def _rows() -> dict[str, tuple[str, str, int | None, bool]]:
    return {
        row.thumbprint: (row.source_gateway, row.country, row.source_sequence, row.revoked_at is not None)
        for row in SignerCertificate.objects.all()
    }


def _conflicts() -> set[tuple[str, str, str]]:
    return set(Conflict.objects.values_list("peer__gateway_id", "thumbprint", "reason"))


@pytest.mark.parametrize("whole", [False, True], ids=["in chunks", "table read whole"])
def test_a_large_import_reads_the_table_once_and_comes_to_the_same_as_in_chunks(pki, client, monkeypatch, whole):
    # The threshold moved so that a handful of entries takes either way.
    threshold = 0 if whole else 10**9
    monkeypatch.setattr(importing, "READ_WHOLE_ABOVE", threshold)
    monkeypatch.setattr(federated, "READ_WHOLE_ABOVE", threshold)
    xa = pki.country("XA")  # onboarded here
    local = xa.dsc()
    assert upload(client, xa, xa.cms_b64(local.der)).status_code == 201  # one of this gateway's own
    xq = pki.country("XQ", onboard=False)
    dscs = [xq.dsc() for _ in range(6)]
    entries = [peer_entry(dsc.der, "XQ") for dsc in dscs]
    other, peer = _peer(OTHER), _peer(PEER)
    import_state(other, peer_state(1, [entries[0]]), None, own_id=HERE, at=timezone.now())
    taken_kid = peer_entry(dscs[5].der, "XQ", kid=compute_kid(local.der))  # the kid of this gateway's own DSC
    first = [
        *entries[:4],  # the first held by another peer already
        taken_kid,
        peer_entry(xa.dsc().der, "XA"),  # a country onboarded here
        peer_entry(local.der, "XQ"),  # this gateway's own certificate
    ]
    outcome = import_state(peer, peer_state(1, first), None, own_id=HERE, at=timezone.now())
    kept = {"OTHER_PEER": 1, "KID_TAKEN": 1, "LOCAL_COUNTRY": 1, "LOCAL_CERTIFICATE": 1}
    assert (outcome.added, outcome.removed, outcome.revoked, outcome.kept_aside) == (3, 0, 0, kept)

    revoked = {**entries[2], "revokedAt": "2026-06-01T12:00:00Z", "reason": "compromised"}
    second = [entries[0], entries[1], entries[4], taken_kid]  # 2 revoked, 3 gone, 4 new
    outcome = import_state(peer, peer_state(2, second, [revoked]), None, own_id=HERE, at=timezone.now())
    kept = {"OTHER_PEER": 1, "KID_TAKEN": 1}
    assert (outcome.added, outcome.removed, outcome.revoked, outcome.kept_aside) == (1, 1, 1, kept)
    thumbs = [thumbprint(dsc.der) for dsc in dscs]
    assert _rows() == {
        thumbprint(local.der): ("", "XA", None, False),
        thumbs[0]: (OTHER, "XQ", 1, False),
        thumbs[1]: (PEER, "XQ", 1, False),  # unchanged: not rewritten
        thumbs[2]: (PEER, "XQ", 1, True),
        thumbs[4]: (PEER, "XQ", 2, False),
    }
    assert _conflicts() == {(PEER, thumbs[0], "OTHER_PEER"), (PEER, thumbs[5], "KID_TAKEN")}
    changes = Change.objects.filter(kind=federated.FEDERATED_CHANGE).values_list("thumbprint", flat=True)
    assert sorted(changes) == sorted([thumbs[0], *thumbs[1:4], thumbs[4], thumbs[2], thumbs[3]])


def test_the_rows_of_a_large_import_are_written_as_the_orm_writes_them(pki, monkeypatch):
    monkeypatch.setattr(federated, "READ_WHOLE_ABOVE", 0)
    xq = pki.country("XQ", onboard=False)
    dsc = xq.dsc()
    peer = _peer(PEER)
    import_state(peer, peer_state(4, [peer_entry(dsc.der, "XQ")]), None, own_id=HERE, at=timezone.now())
    row = SignerCertificate.objects.get(thumbprint=thumbprint(dsc.der))
    assert (bytes(row.raw_data), row.kid, row.source_gateway, row.source_origin, row.source_sequence) == (
        dsc.der,
        compute_kid(dsc.der),
        PEER,
        PEER,
        4,
    )
    assert row.public_key_jwk["kty"] == "EC"
    assert row.usages == ["v"]
    assert row.uuid is not None


def test_a_delta_reads_only_the_rows_it_names(pki):
    xq = pki.country("XQ", onboard=False)
    dscs = [xq.dsc() for _ in range(4)]
    peer = _peer(PEER)
    import_state(peer, peer_state(1, [peer_entry(d.der, "XQ") for d in dscs]), None, own_id=HERE, at=timezone.now())
    named = thumbprint(dscs[0].der)
    revoked = {**peer_entry(dscs[0].der, "XQ"), "revokedAt": "2026-06-01T12:00:00Z", "reason": "compromised"}
    with CaptureQueriesContext(connection) as queries:
        outcome = import_state(peer, peer_state(2, [], [revoked]), {named}, own_id=HERE, at=timezone.now())
    assert outcome.revoked == 1
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    of_rows = [sql for sql in reads if '"trustlist_signercertificate"' in sql and '"thumbprint"' in sql]
    assert of_rows, "the import reads the rows it changes"
    for sql in of_rows:  # every read of the rows names the delta's certificates (or their kids)
        assert " IN (" in sql, sql
    for other in dscs[1:]:
        assert other.der.hex() not in " ".join(reads)


def test_the_tick_syncs_a_peer_whose_time_falls_within_half_a_tick(settings, monkeypatch):
    settings.GATEWAY_FEDERATION_TICK_SECONDS = 2
    peer = _peer(PEER, interval=10)
    now = timezone.now()
    # A sync started a little after its tick set the next attempt a little after the tick one
    # interval later: that tick still syncs it, instead of the one after.
    Peer.objects.filter(pk=peer.pk).update(next_attempt_at=now + dt.timedelta(milliseconds=300))
    assert services.due_peers(now) == []
    assert services.due_peers(now, ahead=1.0) == [peer]
    Peer.objects.filter(pk=peer.pk).update(next_attempt_at=now + dt.timedelta(seconds=1.5))
    assert services.due_peers(now, ahead=1.0) == []
    queued: list[int] = []
    monkeypatch.setattr(tasks.sync_peer, "delay", queued.append)
    Peer.objects.filter(pk=peer.pk).update(next_attempt_at=timezone.now() + dt.timedelta(milliseconds=500))
    assert tasks.sync_due_peers() == [peer.pk] == queued


def _synced(peer: Peer, state: PeerState, touched: set[str] | None) -> None:
    """What sync_peer does with an import: the import, then the peer's status."""
    outcome = import_state(peer, state, touched, own_id=HERE, at=timezone.now())
    rows = None if touched is None else outcome.rows
    services._succeeded(peer, timezone.now(), state.sequence, b"", rows=rows)


def _entries_match() -> None:
    for peer in Peer.objects.all():
        assert peer.entries == SignerCertificate.objects.filter(source_gateway=peer.gateway_id).count(), peer


def test_a_peers_entries_follow_its_deltas_without_counting_its_rows(pki):
    xq = pki.country("XQ", onboard=False)
    dscs = [xq.dsc() for _ in range(6)]
    entries = [peer_entry(dsc.der, "XQ") for dsc in dscs]
    thumbs = [str(entry["thumbprint"]) for entry in entries]
    peer, other = _peer(PEER), _peer(OTHER)
    _synced(peer, peer_state(1, entries[:4]), None)
    _synced(other, peer_state(1, [entries[0], entries[5]]), None)  # entries[0] is the peer's: kept aside
    _entries_match()
    assert Peer.objects.get(pk=other.pk).entries == 1

    revoked = {**entries[1], "revokedAt": "2026-06-01T12:00:00Z", "reason": "compromised"}
    delta = peer_state(2, [entries[4]], [revoked])  # entries[4] new, [1] revoked, [0] and [2] gone
    with CaptureQueriesContext(connection) as queries:
        _synced(peer, delta, {thumbs[0], thumbs[1], thumbs[2], thumbs[4]})
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"] and "signercertificate" in q["sql"]]
    # entries[0] went at the peer: the other peer's entry kept aside came in, its entries with it.
    assert SignerCertificate.objects.get(thumbprint=thumbs[0]).source_gateway == OTHER
    _entries_match()
    assert Peer.objects.get(pk=peer.pk).entries == 3  # 1, 3 and 4 (1 revoked)
    assert Peer.objects.get(pk=other.pk).entries == 2

    _synced(peer, peer_state(3, [], []), set())  # nothing named: nothing changes
    _entries_match()


def test_a_relays_entries_follow_the_copies_its_origin_takes_over(pki):
    xq = pki.country("XQ", onboard=False)
    entry = {**peer_entry(xq.dsc().der, "XQ"), "source": PEER}
    relay = _peer(OTHER)
    _synced(relay, peer_state(1, [entry]), None)  # the origin is not followed yet: the relay's copy
    assert Peer.objects.get(pk=relay.pk).entries == 1
    origin = _peer(PEER)
    plain = {name: value for name, value in entry.items() if name != "source"}
    _synced(origin, peer_state(1, [plain]), None)  # the origin's own word takes its entry over
    assert SignerCertificate.objects.get(thumbprint=entry["thumbprint"]).source_gateway == PEER
    _entries_match()


def test_an_imported_dsc_carries_this_gateways_findings(pki):
    """The peer accepted it under its own rules; every check of this gateway, relaxed, says what
    it finds (issue 22): a CA-flagged DSC and a not-yet-valid one come in, with their findings."""
    from tests.factory import NOW
    from tests.pki.test_policy_profiles import SHAPES

    xq = pki.country("XQ", onboard=False)
    plain = xq.dsc()
    flagged = {name: SHAPES[name][0](xq) for name in ("cA-TRUE", "notBefore-in-the-future", "ecdsa-with-SHA1")}
    entries = [peer_entry(plain.der, "XQ")] + [peer_entry(der, "XQ") for der in flagged.values()]
    import_state(_peer(PEER), peer_state(1, entries), None, own_id=HERE, at=NOW)
    findings = {
        row.thumbprint: [finding["reason"] for finding in row.policy_findings]
        for row in SignerCertificate.objects.filter(source_gateway=PEER)
    }
    assert findings[thumbprint(plain.der)] == []
    for name, der in flagged.items():
        assert findings[thumbprint(der)] == [SHAPES[name][1]], name
