"""Publication for verifiers: artifacts, guarantees, tamper detection, serving, keys."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import os

import pytest
from django.core.management import CommandError, call_command

from countries import services as onboarding_services
from countries.models import Status, TrustedParty
from gateway.pki.certs import thumbprint
from gateway.signing import jws
from gateway.signing import keys as signing_keys
from gateway.signing.backend import SignerKeyError
from gateway.signing.models import PublisherKey
from publication import keys
from publication.folder import PublicationRefused
from publication.models import Publication
from publication.service import publish, rebuild_full
from tests.factory import NOW
from tests.helpers import revoke, upload
from tests.publishing import anchors, install_publisher, publish_root
from verifier.artifacts import verify_artifact
from verifier.chain import apply_delta, walk_chain
from verifier.encoding import canonical_json
from verifier.folder import folder_loader, verify_folder
from verifier.index import verify_index, verify_named
from verifier.jws import verify_jws
from verifier.reasons import VerificationError

# Real commits, so that on-commit publication runs as in production (eagerly here).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def publisher(pki, db, frozen):
    return install_publisher(pki)


def _index(pki, at=NOW, previous=None):
    return verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), at, previous=previous)


def _payload(pki, index, which):
    descriptor = getattr(index, which)
    kind = {"trust_list": "trust-list", "revocation_list": "revocation-list"}[which]
    return verify_artifact(
        (publish_root() / descriptor.path).read_bytes(),
        descriptor,
        anchors(pki),
        NOW,
        kind=kind,
        sequence=index.full_sequence,
        allowed_kids=index.announced_kids,
    )


def _delta(pki, index, descriptor):
    """A delta as a verifier reads it: checked against its descriptor, its entries expanded."""
    return verify_named(
        (publish_root() / descriptor.path).read_bytes(),
        descriptor,
        index,
        anchors(pki),
        NOW,
        kind="delta",
        sequence=descriptor.sequence,
    )


def _chain_from(pki, index, start):
    """The deltas from ``start`` to the index, walked back from its head as a verifier does."""
    walked = walk_chain(index, start, folder_loader(publish_root(), index, anchors(pki), NOW), check_link=False)
    return [descriptor for descriptor, _ in walked]


def _replay(pki, index, state, start):
    """Apply the deltas from sequence ``start`` to ``index`` to ``state`` (a trust list by
    thumbprint), checking each link, as a verifier does."""
    position = start
    for descriptor in _chain_from(pki, index, start):
        delta = _delta(pki, index, descriptor)
        assert delta["previous"] == position
        apply_delta(state, delta)
        position = descriptor.sequence
    return state


def _trusted(pki, index):
    """What a verifier that downloads the full lists the index names, then the deltas, holds."""
    start = {e["thumbprint"]: e for e in _payload(pki, index, "trust_list")["entries"]}
    return _replay(pki, index, start, index.full_sequence)


@pytest.fixture
def incremental(settings):
    """No background rebuild: every change is published as a delta only."""
    settings.GATEWAY_PUBLISH_FULL_AFTER_SECONDS = 3600
    settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS = 1000


def test_upload_is_published_and_verifies(client, pki, xa, publisher):
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201  # eager: published after commit
    index = _index(pki)
    trust = _payload(pki, index, "trust_list")
    by_thumbprint = {entry["thumbprint"]: entry for entry in trust["entries"]}
    entry = by_thumbprint[thumbprint(dsc.der)]
    assert entry["type"] == "DSC"
    assert entry["country"] == "XA"
    assert base64.b64decode(entry["certificate"]) == dsc.der
    assert entry["usages"] == ["vaccination"]
    assert entry["notAfter"] > entry["notBefore"]
    assert by_thumbprint[thumbprint(xa.csca.der)]["type"] == "CSCA"
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []


def test_revocation_and_removal_are_published(client, pki, xa, publisher):
    dsc = xa.dsc()
    body = xa.cms_b64(dsc.der)
    upload(client, xa, body)
    assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []
    index = _index(pki)
    revoked = {e["thumbprint"]: e for e in _payload(pki, index, "revocation_list")["entries"]}
    assert revoked[thumbprint(dsc.der)]["revokedAt"] == "2026-06-01T12:00:00Z"
    assert thumbprint(dsc.der) not in {e["thumbprint"] for e in _payload(pki, index, "trust_list")["entries"]}

    other = xa.dsc()
    upload(client, xa, xa.cms_b64(other.der))
    csca = TrustedParty.objects.get(thumbprint=thumbprint(xa.csca.der))
    onboarding_services.set_status(party_id=csca.pk, status=Status.REMOVED, reason="compromised", actor="t", at=NOW)
    index = _index(pki)
    trusted = {e["thumbprint"] for e in _payload(pki, index, "trust_list")["entries"]}
    assert thumbprint(other.der) not in trusted, "DSCs of a removed CSCA leave the trust list"
    revoked = {e["thumbprint"]: e for e in _payload(pki, index, "revocation_list")["entries"]}
    assert revoked[csca.thumbprint]["type"] == "CSCA"
    assert revoked[csca.thumbprint]["reason"] == "compromised"


def test_publishing_twice_publishes_nothing_new(pki, xa, publisher):
    first = publish(at=NOW)
    assert first is not None
    assert publish(at=NOW) is None  # a redelivered or duplicated task
    assert publish(at=NOW + dt.timedelta(hours=1)) is None
    assert Publication.objects.published().count() == 1


def test_renewed_before_expiry_without_changes(pki, xa, publisher, settings):
    first = publish(at=NOW)
    later = NOW + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_RENEW_AFTER)
    renewed = publish(at=later)
    assert renewed is not None
    assert renewed.id > first.id
    assert renewed.expires_at == later + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_VALIDITY)
    assert _index(pki, at=later).sequence == renewed.id


def test_sequence_never_goes_backwards_on_disk(pki, xa, publisher):
    publish(at=NOW)
    index_file = publish_root() / "index.jws"
    header, payload, signature = index_file.read_text().split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["sequence"] = 10_000
    encoded = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    index_file.write_text(f"{header}.{encoded}.{signature}")
    with pytest.raises(PublicationRefused):
        publish(at=NOW, force=True)


def test_tampered_artifact_is_detected(pki, xa, publisher):
    publish(at=NOW)
    index = _index(pki)
    path = publish_root() / index.trust_list.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    report = verify_folder(publish_root(), anchors(pki), NOW)
    assert any("HASH_MISMATCH" in problem for problem in report.problems)
    with pytest.raises(CommandError):
        call_command("verify_publication", "--dir", str(publish_root()), "--at", NOW.isoformat())


def test_an_edited_delta_anywhere_on_the_chain_is_detected(client, pki, xa, publisher, incremental):
    """Deltas carry no signature of their own: an edit to one the index does not name directly
    (here the oldest of three) is caught by the hash its successor gives."""
    publish(at=NOW)
    for _ in range(3):
        assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    oldest = _chain_from(pki, _index(pki), _index(pki).full_sequence)[0]
    path = publish_root() / oldest.path
    delta = json.loads(path.read_bytes())
    delta["upsert"][0]["country"] = "XB"
    path.write_bytes(json.dumps(delta, sort_keys=True, separators=(",", ":")).encode())
    report = verify_folder(publish_root(), anchors(pki), NOW)
    assert [problem for problem in report.problems if "delta chain" in problem and "MISMATCH" in problem]
    with pytest.raises(CommandError):
        call_command("verify_publication", "--dir", str(publish_root()), "--at", NOW.isoformat())


def test_stale_index_is_detected(pki, xa, publisher, settings):
    publish(at=NOW)
    late = NOW + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_VALIDITY + 1)
    report = verify_folder(publish_root(), anchors(pki), late)
    assert report.problems
    assert "INDEX_EXPIRED" in report.problems[0]


def test_mismatched_pair_is_detected(client, pki, xa, publisher):
    publish(at=NOW)
    first = _index(pki)
    old_list = (publish_root() / first.trust_list.path).read_bytes()
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    second = _index(pki)
    assert second.sequence > first.sequence
    (publish_root() / second.trust_list.path).write_bytes(old_list)  # yesterday's list beside today's index
    report = verify_folder(publish_root(), anchors(pki), NOW)
    assert any(second.trust_list.path in p for p in report.problems)


def test_signature_by_a_key_outside_the_trust_anchor_is_refused(pki, xa, publisher):
    from tests.factory import Pki

    publish(at=NOW)
    stranger = Pki.create()
    with pytest.raises(VerificationError) as info:
        verify_index((publish_root() / "index.jws").read_bytes(), anchors(stranger), NOW)
    assert info.value.reason == "UNTRUSTED_SIGNER"


def test_rollback_and_equivocation_are_refused(client, pki, xa, publisher):
    publish(at=NOW)
    old = (publish_root() / "index.jws").read_bytes()
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    current = _index(pki)
    with pytest.raises(VerificationError) as info:
        verify_index(old, anchors(pki), NOW, previous=current)
    assert info.value.reason == "ROLLBACK"


def test_deltas_rebuild_the_trust_list(client, pki, xa, publisher, incremental):
    publish(at=NOW)
    start = _index(pki)
    state = {e["thumbprint"]: e for e in _payload(pki, start, "trust_list")["entries"]}
    dscs = [xa.dsc() for _ in range(6)]
    for dsc in dscs:
        upload(client, xa, xa.cms_b64(dsc.der))
    revoke(client, xa, xa.cms_b64(dscs[0].der))
    end = _index(pki)
    assert end.full_sequence == start.sequence, "no rebuild yet: the index still names the first full lists"
    assert len(_chain_from(pki, end, start.sequence)) == 7
    _replay(pki, end, state, start.sequence)
    assert thumbprint(dscs[0].der) not in state
    assert {thumbprint(dsc.der) for dsc in dscs[1:]} <= set(state)

    rebuilt = rebuild_full()
    assert rebuilt is not None
    after = _index(pki, previous=end)
    assert after.full_sequence == end.sequence, "the rebuild wrote the full lists of the last sequence"
    expected = {e["thumbprint"]: e for e in _payload(pki, after, "trust_list")["entries"]}
    assert state == expected, "full lists at F == the full lists before + the deltas up to F"
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []


def test_served_artifacts_verify_with_etag_304_and_gzip(client, pki, xa, publisher):
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201  # published on commit
    response = client.get("/publication/index.jws")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    index = verify_index(body, anchors(pki), NOW)
    assert response["ETag"] == f'"{hashlib.sha256(index.raw).hexdigest()}"'
    assert "max-age" in response["Cache-Control"]
    assert client.get("/publication/index.jws", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    for descriptor, kind in ((index.trust_list, "trust-list"), (index.revocation_list, "revocation-list")):
        plain = client.get(f"/publication/{descriptor.path}")
        data = b"".join(plain.streaming_content)
        verify_artifact(
            data, descriptor, anchors(pki), NOW, kind=kind, sequence=index.sequence, allowed_kids=index.announced_kids
        )
        assert "immutable" in plain["Cache-Control"]
        zipped = client.get(f"/publication/{descriptor.path}", HTTP_ACCEPT_ENCODING="gzip")
        assert zipped["Content-Encoding"] == "gzip"
        assert gzip.decompress(b"".join(zipped.streaming_content)) == data
    did = client.get("/publication/did.json")
    assert did.status_code == 200
    document = json.loads(b"".join(did.streaming_content))
    assert document["verificationMethod"][0]["type"] == "JsonWebKey2020"
    assert document["proof"]["type"] == "JsonWebSignature2020"
    for path in ("/publication/.lock", "/publication/../gateway/settings.py", "/publication/sequences/999/x.jws"):
        assert client.get(path).status_code == 404
    assert client.post("/publication/index.jws").status_code == 405


def test_did_document_entries(client, pki, xa, publisher):
    dsc = xa.dsc()
    upload(client, xa, xa.cms_b64(dsc.der))
    raw = (publish_root() / "did.json").read_bytes()
    document = json.loads(raw)

    unsigned = {name: value for name, value in document.items() if name != "proof"}
    assert raw == canonical_json(unsigned)[:-1] + b',"proof":' + canonical_json(document["proof"]) + b"}", (
        "did.json is the canonical JSON of the signed document with its proof appended"
    )
    (method,) = document["verificationMethod"]
    assert method["controller"].endswith(":xxa")
    jwk = method["publicKeyJwk"]
    assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256")
    assert base64.b64decode(jwk["x5c"][0]) == dsc.der
    assert base64.b64decode(jwk["x5c"][1]) == xa.csca.der
    header = json.loads(base64.urlsafe_b64decode(document["proof"]["jws"].split(".")[0] + "=="))
    assert header["b64"] is False


def test_key_file_readable_by_others_is_refused(pki, xa, publisher):
    os.chmod(publisher.key_path, 0o644)
    with pytest.raises(SignerKeyError):
        signing_keys.current_signer()


def test_rotation_with_overlap(pki, xa, publisher, frozen):
    publish(at=NOW)
    following = install_publisher(pki, label="p2")
    assert following.state == "NEXT"
    publish(at=NOW, force=True)
    announcing = _index(pki)
    assert len(announcing.announced_kids) == 2
    keys.activate_next(at=NOW, actor="test")
    assert PublisherKey.objects.get(label="p1").state == "RETIRED"
    publish(at=NOW, force=True)
    rotated = _index(pki, previous=announcing)  # signed by the key the previous index announced
    assert rotated.signer_kid != announcing.signer_kid
    # An index whose signer the previous one did not announce is refused.
    unannounced = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW)
    early = verify_index(announcing.raw, anchors(pki), NOW)
    object.__setattr__(early, "signing_kids", frozenset({early.signer_kid}))
    with pytest.raises(VerificationError) as info:
        verify_index(unannounced.raw, anchors(pki), NOW, previous=early)
    assert info.value.reason == "UNANNOUNCED_KEY"
    # The retired key stays announced, as "retired", for the files it signed (full lists, deltas,
    # spans still named); an index it signs is refused all the same.
    statuses = {k["kid"]: k["status"] for k in _index_payload_of(rotated)["publisherKeys"]}
    assert statuses == {announcing.signer_kid: "retired", rotated.signer_kid: "current"}
    assert announcing.signer_kid in rotated.announced_kids
    assert announcing.signer_kid not in rotated.signing_kids
    from pathlib import Path

    from gateway.pki.certs import load_der_certificate
    from gateway.signing.backend import FileSigner

    retired = PublisherKey.objects.get(label="p1")
    old_key = FileSigner.load(Path(retired.key_path), load_der_certificate(bytes(retired.certificate)), ())
    newer = {**_index_payload_of(rotated), "sequence": rotated.sequence + 1}
    forged = jws.compact(old_key, "index", canonical_json(newer), chain=False)
    with pytest.raises(VerificationError) as info:
        verify_index(forged, anchors(pki), NOW, previous=rotated)
    assert info.value.reason == "UNANNOUNCED_KEY"
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == [], "full lists signed by the retired key"


def _index_payload_of(index) -> dict:
    return json.loads(base64.urlsafe_b64decode(index.raw.split(b".")[1] + b"=="))


def test_status_and_verify_commands(client, pki, xa, publisher, incremental, capsys):
    call_command("publish")
    call_command("publication_status")
    assert "sequence" in capsys.readouterr().out
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    call_command("publication_status")
    out = capsys.readouterr().out
    assert "1 delta(s) since" in out
    assert "rebuild due" in out
    call_command("publish", "--rebuild")
    assert "naming the full lists of" in capsys.readouterr().out
    call_command("publish", "--rebuild")
    assert "the full lists are current" in capsys.readouterr().out
    call_command("verify_publication", "--dir", str(publish_root()), "--at", NOW.isoformat())
    assert "verified" in capsys.readouterr().out


def test_jws_header_carries_the_publisher_certificate_only(pki, xa, publisher):
    publication = publish(at=NOW)
    folder = publish_root() / f"sequences/{publication.full_sequence}"
    header, _, kid = verify_jws((folder / "trustlist.jws").read_bytes(), anchors(pki), NOW)
    (publisher_der,) = (base64.b64decode(der) for der in header["x5c"])  # the TA is pinned, not sent
    assert header["kid"] == kid == hashlib.sha256(publisher_der).hexdigest()


def test_index_names_its_signer_by_kid_and_announces_the_certificate_once(pki, xa, publisher):
    """Index version 4 on: no x5c (the certificate is in publisherKeys, which the signature
    covers), and the audit tree head without a JWS of its own."""
    publish(at=NOW)
    data = (publish_root() / "index.jws").read_bytes()
    header = json.loads(base64.urlsafe_b64decode(data.split(b".")[0] + b"=="))
    assert "x5c" not in header
    index = verify_index(data, anchors(pki), NOW)
    assert index.signer_kid == header["kid"]
    assert set(index.certificates) == {header["kid"]}
    assert set(index.checkpoint) == {"size", "root", "issuedAt", "origin"}
    assert json.loads(base64.urlsafe_b64decode(data.split(b".")[1] + b"=="))["version"] == 5
    with pytest.raises(VerificationError) as info:  # without the announcement there is no key
        verify_jws(data, anchors(pki), NOW, certificates={})
    assert info.value.reason == "UNANNOUNCED_KEY"


def test_audit_events_committed_during_a_publication_do_not_break_it(pki, xa, publisher, monkeypatch):
    """Regression: the audit head was locked inside the publication's repeatable-read snapshot,
    so any audit event committed meanwhile made PostgreSQL abort the publication."""
    import threading

    from django.db import connection

    from gateway.audit.models import Action, Outcome
    from gateway.audit.services import record_event
    from publication import service

    original = service.artifacts.write_full_lists

    def write_while_someone_uploads(*args, **kwargs):
        def audited_elsewhere():
            try:
                record_event(action=Action.UPLOAD, outcome=Outcome.REJECTED, at=NOW, reason="CONCURRENT")
            finally:
                connection.close()

        thread = threading.Thread(target=audited_elsewhere)
        thread.start()
        thread.join()
        return original(*args, **kwargs)

    monkeypatch.setattr(service.artifacts, "write_full_lists", write_while_someone_uploads)
    publication = publish(force=True, full=True)
    assert publication is not None
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []


# --- incremental publication (docs/publication-format.md, "Full lists and deltas") -----------------


def test_a_change_is_published_as_a_delta_naming_the_earlier_full_lists(client, pki, xa, publisher, incremental):
    publish(at=NOW)
    first = _index(pki)
    assert first.full_sequence == first.sequence
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    index = _index(pki, previous=first)
    assert index.sequence > first.sequence
    assert index.full_sequence == first.sequence
    assert index.trust_list == first.trust_list, "the same full list, named again"
    assert not (publish_root() / f"sequences/{index.sequence}/trustlist.jws").exists(), "no full list per change"
    assert thumbprint(dsc.der) not in {e["thumbprint"] for e in _payload(pki, index, "trust_list")["entries"]}
    (latest,) = _chain_from(pki, index, first.sequence)
    delta = _delta(pki, index, latest)
    assert [e["thumbprint"] for e in delta["upsert"]] == [thumbprint(dsc.der)]
    assert thumbprint(dsc.der) in _trusted(pki, index)
    # Plain JSON (the index binds it by hash), without what the certificate gives, nor empty lists
    published = json.loads((publish_root() / latest.path).read_bytes())
    assert latest.path.endswith("/delta.json")
    assert set(published) == {"type", "version", "sequence", "previous", "previousDelta", "issuedAt", "upsert"}
    (entry,) = published["upsert"]
    assert set(entry) == {"type", "country", "certificate", "domain", "issuer"}
    assert published["previousDelta"] is None, "the sequence before it was a reset"
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    newest = json.loads((publish_root() / _index(pki).head.path).read_bytes())
    assert newest["previousDelta"] == {"sha256": latest.sha256, "length": latest.length}, "named by hash alone"
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []


def test_per_change_work_does_not_grow_with_the_lists(client, pki, xa, publisher, incremental, monkeypatch):
    """A per-change publication reads the changed rows only: no full snapshot, and the same
    number of queries with 3 DSCs as with 30."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from publication import snapshot

    publish(at=NOW)

    def forbidden():
        raise AssertionError("a per-change publication read the full lists")

    monkeypatch.setattr(snapshot, "take_full", forbidden)

    def publication_queries(extra):
        for _ in range(extra):
            upload(client, xa, xa.cms_b64(xa.dsc().der))
        upload(client, xa, xa.cms_b64(xa.dsc().der))  # the change to measure: published by hand
        with CaptureQueriesContext(connection) as queries:
            assert publish(at=NOW) is not None
        # (the audit log's Merkle append writes a varying number of nodes: not counted)
        tables = ("trustlist_signercertificate", "countries_trustedparty", "outbox_change")
        return len([q for q in queries.captured_queries if any(table in q["sql"] for table in tables)])

    monkeypatch.setattr("publication.tasks.request_publication", lambda: None)
    publish(at=NOW)
    few = publication_queries(2)
    many = publication_queries(27)
    assert few == many


def test_a_removed_csca_withdraws_its_dscs_in_the_delta(client, pki, xa, publisher, incremental):
    dscs = [xa.dsc() for _ in range(2)]
    for dsc in dscs:
        upload(client, xa, xa.cms_b64(dsc.der))
    publish(at=NOW, full=True)
    before = _index(pki)
    csca = TrustedParty.objects.get(thumbprint=thumbprint(xa.csca.der))
    onboarding_services.set_status(party_id=csca.pk, status=Status.REMOVED, reason="compromised", actor="t", at=NOW)
    index = _index(pki, previous=before)
    (descriptor,) = _chain_from(pki, index, before.sequence)
    delta = _delta(pki, index, descriptor)
    assert set(delta["remove"]) == {csca.thumbprint, *(thumbprint(d.der) for d in dscs)}
    assert [e["thumbprint"] for e in delta["revoked"]] == [csca.thumbprint]
    assert delta["upsert"] == []
    publish(at=NOW, full=True)
    assert _trusted(pki, index) == {e["thumbprint"]: e for e in _payload(pki, _index(pki), "trust_list")["entries"]}


def test_rebuild_rolls_forward_through_deltas_published_meanwhile(client, pki, xa, publisher, incremental, monkeypatch):
    """The full lists of F and the deltas come from different tasks: a rebuild whose snapshot is
    older than the last published sequence brings it forward through the deltas published since."""
    from publication import locks, service, snapshot

    publish(at=NOW)
    start = _index(pki)
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    late, revoked_meanwhile = xa.dsc(), xa.dsc()
    upload(client, xa, xa.cms_b64(revoked_meanwhile.der))
    with locks.read_snapshot():
        slow = snapshot.take_full()  # a snapshot read while the following is published
    upload(client, xa, xa.cms_b64(late.der))
    revoke(client, xa, xa.cms_b64(revoked_meanwhile.der))
    published_meanwhile = _index(pki)
    assert slow.high_water < Publication.objects.get(id=published_meanwhile.sequence).change_high_water

    monkeypatch.setattr(service.snapshot, "take_full", lambda: slow)
    assert rebuild_full() is not None
    monkeypatch.undo()
    after = _index(pki, previous=start)
    assert after.full_sequence == published_meanwhile.sequence
    full = {e["thumbprint"]: e for e in _payload(pki, after, "trust_list")["entries"]}
    assert thumbprint(late.der) in full
    assert thumbprint(revoked_meanwhile.der) not in full
    revoked = {e["thumbprint"] for e in _payload(pki, after, "revocation_list")["entries"]}
    assert thumbprint(revoked_meanwhile.der) in revoked
    start_list = {e["thumbprint"]: e for e in _payload(pki, start, "trust_list")["entries"]}
    assert _replay(pki, after, start_list, start.sequence) == _replay(pki, after, dict(full), after.full_sequence)
    publish(at=NOW, full=True)
    from_scratch = {e["thumbprint"]: e for e in _payload(pki, _index(pki), "trust_list")["entries"]}
    assert full == from_scratch, "rolled forward == read from the database"


def test_rebuild_publishes_changes_its_snapshot_has_first(client, pki, xa, publisher, incremental, monkeypatch):
    publish(at=NOW)
    monkeypatch.setattr("publication.tasks.request_publication", lambda: None)  # the task is lost
    dsc = xa.dsc()
    upload(client, xa, xa.cms_b64(dsc.der))
    assert _index(pki).full_sequence == _index(pki).sequence
    rebuilt = rebuild_full()
    index = _index(pki)
    assert index.sequence == rebuilt.id
    assert index.full_sequence == index.sequence - 1 or index.full_sequence < index.sequence
    assert thumbprint(dsc.der) in {e["thumbprint"] for e in _payload(pki, index, "trust_list")["entries"]}
    assert rebuild_full() is None, "nothing to rebuild twice"


def test_did_document_is_rebuilt_in_the_background_only(client, pki, xa, publisher, incremental):
    publish(at=NOW)
    before = (publish_root() / "did.json").read_bytes()
    dsc = xa.dsc()
    upload(client, xa, xa.cms_b64(dsc.der))
    assert (publish_root() / "did.json").read_bytes() == before, "not on the path of a change"
    rebuild_full()
    document = json.loads((publish_root() / "did.json").read_bytes())
    assert [base64.b64decode(m["publicKeyJwk"]["x5c"][0]) for m in document["verificationMethod"]] == [dsc.der]


def test_the_chain_reaches_every_delta_since_its_full_lists_and_prune_keeps_them(
    client, pki, xa, publisher, incremental, settings, frozen
):
    settings.GATEWAY_PUBLISH_DELTA_WINDOW = 3
    settings.GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS = 0  # the window by count alone here
    settings.GATEWAY_PUBLISH_KEEP_FULL = 1
    publish(at=NOW)
    first = _index(pki)
    for _ in range(6):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    index = _index(pki)
    assert index.full_sequence == first.sequence
    assert index.chain_start == first.sequence, "beyond the window: every delta since the full lists"
    assert len(_chain_from(pki, index, first.sequence)) == 6
    assert (publish_root() / first.trust_list.path).exists()
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []
    rebuild_full()
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    assert (publish_root() / first.trust_list.path).exists(), "named by an index issued a moment ago"
    later = NOW + dt.timedelta(seconds=121)
    frozen.move_to(later)
    for _ in range(3):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    current = _index(pki, at=later)
    # since the rebuilt full lists: the rebuild's own delta and four changes
    assert len(_chain_from(pki, current, current.chain_start)) == 5
    assert not (publish_root() / first.trust_list.path).exists(), "full lists no index in use names are pruned"
    # What stays of the first sequence is what the current index still names: the versions of
    # named content (rules, value sets) it wrote, unchanged since.
    left = sorted(path.name for path in (publish_root() / f"sequences/{first.sequence}").glob("*"))
    still_named = sorted(
        descriptor.path.rsplit("/", 1)[1]
        for descriptor in current.artifacts.values()
        if descriptor.sequence == first.sequence
    )
    assert left == still_named
    assert verify_folder(publish_root(), anchors(pki), later).problems == []


def test_prune_spares_full_lists_being_built_for_a_newer_sequence(pki, xa, publisher, incremental, settings):
    settings.GATEWAY_PUBLISH_KEEP_FULL = 1
    publish(at=NOW)
    second = publish(at=NOW, force=True)
    in_progress = publish_root() / f"sequences/{second.id}/trustlist.jws"
    in_progress.write_bytes(b"being written")  # a rebuild for `second`, its index still to come
    publish(at=NOW, force=True)
    assert in_progress.exists()


def test_rebuild_is_due_after_enough_deltas_or_time(client, pki, xa, publisher, settings, monkeypatch):
    from publication.service import rebuild_due

    settings.GATEWAY_PUBLISH_FULL_AFTER_SECONDS = 30
    settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS = 3
    monkeypatch.setattr("publication.tasks.request_publication", lambda: None)
    publish(at=NOW)
    assert rebuild_due(NOW) is None
    assert publish(at=NOW, force=True) is not None
    assert rebuild_due(NOW) is None, "a renewal (empty delta) leaves the full lists current"
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    publish(at=NOW)
    assert rebuild_due(NOW) == 30
    assert rebuild_due(NOW + dt.timedelta(seconds=31)) < 0
    for _ in range(2):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
        publish(at=NOW)
    assert rebuild_due(NOW) == 0
    rebuild_full(at=NOW)
    assert rebuild_due(NOW) is None


def test_the_chain_reaches_back_a_day_of_sequences_within_its_cap(
    client, pki, xa, publisher, incremental, settings, frozen
):
    """A verifier that syncs daily catches up by deltas: the chain reaches every sequence of the
    last GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS, beyond the count window, up to the cap."""
    settings.GATEWAY_PUBLISH_DELTA_WINDOW = 2
    settings.GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS = 3600
    settings.GATEWAY_PUBLISH_DELTA_WINDOW_MAX = 6
    publish(at=NOW)
    for _ in range(3):
        old = publish(at=NOW, force=True)  # two hours before the sequences below
    later = NOW + dt.timedelta(hours=2)
    frozen.move_to(later)
    first_recent = publish(at=later, force=True)
    upload(client, xa, xa.cms_b64(xa.dsc(at=later).der))  # a change, published on commit
    assert rebuild_full(at=later) is not None  # full lists of a recent sequence: the chain reaches them
    publish(at=later, force=True)
    index = _index(pki, at=later)
    assert old.id < first_recent.id < index.full_sequence
    assert index.chain_start == first_recent.previous == old.id, "every sequence of the last hour, and no older"
    assert len(_chain_from(pki, index, index.chain_start)) == 4
    assert verify_folder(publish_root(), anchors(pki), later).problems == []
    settings.GATEWAY_PUBLISH_KEEP_FULL = 1
    later = later + dt.timedelta(minutes=5)  # past the indexes a cache may still hold
    frozen.move_to(later)
    for _ in range(5):  # now 9 sequences in the last hour: the cap (6) bounds the chain
        publish(at=later, force=True)
    capped = _index(pki, at=later)
    # the cap, or the full lists if further back: here F, behind 6 sequences of the last hour
    assert capped.chain_start == max(capped.sequence - 7, capped.full_sequence)
    assert (publish_root() / f"sequences/{first_recent.id}").exists(), "an index issued a moment ago reaches it"
    later = later + dt.timedelta(minutes=3)
    frozen.move_to(later)
    assert publish(at=later, force=True) is not None
    newest = _index(pki, at=later)
    assert newest.chain_start == newest.full_sequence > first_recent.id
    assert not (publish_root() / f"sequences/{first_recent.id}").exists(), "pruned: no index in use reaches it"
    assert verify_folder(publish_root(), anchors(pki), later).problems == []


def test_full_lists_are_written_inline_when_rebuilds_fall_far_behind(pki, xa, publisher, incremental, settings):
    from publication.service import CHAIN_LIMIT_WINDOWS

    settings.GATEWAY_PUBLISH_DELTA_WINDOW = 1
    publish(at=NOW)
    for _ in range(CHAIN_LIMIT_WINDOWS):
        assert _index(pki).full_sequence < publish(at=NOW, force=True).id
    last = publish(at=NOW, force=True)
    assert _index(pki).full_sequence == last.id


def test_entry_json_is_the_canonical_json_of_the_entry():
    from publication.snapshot import (
        Revoked,
        Trusted,
        revoked_entry,
        revoked_json,
        trusted_entry,
        trusted_json,
    )

    odd = 'k"\\é\u2028\x01'
    record = Trusted(
        "XA",
        "DSC",
        "ab" * 32,
        odd,
        "MIIB",
        "2026-01-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        '["test","vaccination"]',
        "DCC\u00e9",
        'D"S',
        "cd" * 32,
        "",
    )
    assert trusted_json(record).encode() == canonical_json(trusted_entry(record))
    revoked = Revoked("XA", "CSCA", "ab" * 32, odd, "2026-01-01T00:00:00Z", 'because "x"\n\u00fc')
    assert revoked_json(revoked).encode() == canonical_json(revoked_entry(revoked))


def test_did_fragment_is_the_url_encoded_kid():
    from urllib.parse import quote

    from publication.did import _fragment

    for kid in ("qroU+hDDovs=", "a/b+c==", "custom kid #1", "é/ü", ""):
        assert _fragment(kid) == quote(kid, safe="")


# --- the request path: one Redis SET NX per change, a task only when none is pending --------------


def test_request_publication_queues_one_task_while_one_is_pending(pki, xa, publisher, monkeypatch, settings):
    from django.core.cache import cache

    from publication import tasks

    queued = []
    monkeypatch.setattr(tasks.publish_changes, "delay", lambda: queued.append(1))
    cache.delete(tasks.PENDING)
    for _ in range(5):
        tasks.request_publication()
    assert len(queued) == 1, "coalesced while the first is pending"
    cache.delete(tasks.PENDING)  # what the task does first
    tasks.request_publication()
    assert len(queued) == 2
    cache.delete(tasks.PENDING)


def test_a_change_committed_while_a_publication_runs_is_not_lost(client, pki, xa, publisher, incremental, monkeypatch):
    """The task clears the pending flag before it reads the outbox: a change committed while the
    publication runs (after its snapshot) queues the next one instead of waiting for the sweeper."""
    from django.core.cache import cache

    from publication import service, tasks

    publish(at=NOW)
    queue = []
    monkeypatch.setattr(tasks.publish_changes, "delay", lambda: queue.append("publish_changes"))
    cache.delete(tasks.PENDING)
    first, late = xa.dsc(), xa.dsc()
    upload(client, xa, xa.cms_b64(first.der))
    assert queue == ["publish_changes"]

    original = service.artifacts.delta

    def delta_while_someone_uploads(*args, **kwargs):
        monkeypatch.setattr(service.artifacts, "delta", original)
        assert upload(client, xa, xa.cms_b64(late.der)).status_code == 201  # after the snapshot
        return original(*args, **kwargs)

    monkeypatch.setattr(service.artifacts, "delta", delta_while_someone_uploads)
    queue.pop()
    tasks.publish_changes()  # the worker runs the queued task
    trusted = _trusted(pki, _index(pki))
    assert thumbprint(first.der) in trusted
    assert thumbprint(late.der) not in trusted, "committed after the snapshot"
    assert queue == ["publish_changes"], "the late change queued the next publication"
    queue.pop()
    tasks.publish_changes()
    assert thumbprint(late.der) in _trusted(pki, _index(pki))
    cache.delete(tasks.PENDING)


def test_outbox_ids_are_handed_out_in_commit_order(db, monkeypatch):
    """A reader that sees outbox change N sees every change below N (the publisher's high-water
    mark relies on it), even when the transaction with the lower id pauses right after its insert."""
    import threading
    import time

    from django.db import connection, transaction

    from gateway import dbwrite
    from gateway.outbox.models import Change
    from gateway.outbox.services import record_change

    inserted, done = threading.Event(), threading.Event()

    def pausing(insert):
        """record_change inserts through gateway.dbwrite (insert_after, or insert for the first
        change ever): the first transaction pauses right after its outbox row is in."""

        def paused(instance, *args, **kwargs):
            change = insert(instance, *args, **kwargs)
            if change is not None and isinstance(instance, Change) and threading.current_thread().name == "first":
                inserted.set()
                time.sleep(0.5)
            return change

        return paused

    monkeypatch.setattr(dbwrite, "insert_after", pausing(dbwrite.insert_after))
    monkeypatch.setattr(dbwrite, "insert", pausing(dbwrite.insert))
    seen: list[list[int]] = []

    def change(name):
        try:
            if name == "second":
                inserted.wait(10)
            with transaction.atomic():
                record_change(kind="UPLOAD", at=NOW, thumbprint=name)
        finally:
            connection.close()

    def observe():
        try:
            while not done.is_set():
                seen.append(sorted(Change.objects.values_list("id", flat=True)))
                time.sleep(0.01)
        finally:
            connection.close()

    threads = [threading.Thread(target=change, args=(name,), name=name) for name in ("first", "second")]
    observer = threading.Thread(target=observe)
    observer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    done.set()
    observer.join(10)
    assert inserted.is_set(), "the first transaction never paused after its insert"
    final = sorted(Change.objects.values_list("id", flat=True))
    assert len(final) == 2
    assert all(ids == final[: len(ids)] for ids in seen), "a later id was visible before an earlier one"


def test_a_rebuild_task_does_not_wait_for_a_running_rebuild(client, pki, xa, publisher, incremental):
    """A worker process must not sit out another's rebuild while changes wait: the task leaves at
    once, and the running rebuild's task asks for the next one when it ends."""
    import time

    from django.core.cache import cache

    from publication import locks, tasks

    publish(at=NOW)
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    cache.set(tasks.REBUILD_PENDING, 1, 60)
    with locks.serialised(rebuild=True):  # another rebuild is running
        began = time.monotonic()
        assert tasks.rebuild_full_lists() is None
        assert time.monotonic() - began < 1
        assert cache.get(tasks.REBUILD_PENDING), "left to the running rebuild to clear"
    assert tasks.rebuild_full_lists() is not None
    assert cache.get(tasks.REBUILD_PENDING) is None
    index = _index(pki)
    assert index.full_sequence == index.sequence - 1


def test_a_change_that_names_no_certificate_resets_the_chain(client, pki, xa, publisher, incremental, tmp_path):
    """An outbox row without a thumbprint (a bulk import, say) cannot be published as a delta:
    the sequence gets full lists and no delta, and a verifier downloads them."""
    from unittest import mock

    from gateway.outbox.models import Change
    from gateway.outbox.services import record_change
    from tests.test_verifier_sync import BASE, Server
    from verifier.sync import sync

    publish(at=NOW)
    state, server = tmp_path / "verifier", Server(publish_root())
    assert sync(BASE, state, anchors(pki), NOW, fetch=server).mode == "full"
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    imported = xa.dsc()
    with mock.patch("publication.tasks.request_publication"):
        upload(client, xa, xa.cms_b64(imported.der))
        Change.objects.filter(thumbprint=thumbprint(imported.der)).delete()  # imported in bulk:
        record_change(kind="IMPORT", at=NOW)  # one outbox row that names no certificate
    reset = publish(at=NOW)
    index = _index(pki)
    assert (index.sequence, index.full_sequence, index.head, index.chain_start) == (reset.id, reset.id, None, reset.id)
    assert thumbprint(imported.der) in {e["thumbprint"] for e in _payload(pki, index, "trust_list")["entries"]}
    assert sync(BASE, state, anchors(pki), NOW, fetch=server).mode == "full"
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    after = _index(pki)
    assert (after.head.previous, after.chain_start) == (reset.id, reset.id), "the chain starts again at the reset"
    assert sync(BASE, state, anchors(pki), NOW, fetch=server).mode == "delta"
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []


def test_a_rebuild_overtaken_by_a_reset_names_nothing(client, pki, xa, publisher, incremental, monkeypatch):
    from gateway.outbox.services import record_change
    from publication import locks, service, snapshot

    publish(at=NOW)
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    with locks.read_snapshot():
        slow = snapshot.take_full()  # read while the reset below is published
    with monkeypatch.context() as patched:
        patched.setattr("publication.tasks.request_publication", lambda: None)
        record_change(kind="IMPORT", at=NOW)
    reset = publish(at=NOW)
    upload(client, xa, xa.cms_b64(xa.dsc().der))  # a delta after the reset: a rebuild is due
    monkeypatch.setattr(service.snapshot, "take_full", lambda: slow)
    assert rebuild_full() is None, "its snapshot is older than the reset's full lists"
    assert _index(pki).full_sequence == reset.id


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue6"},
        {"kty": "EC", "crv": "P-384", "x": "a+/b", "y": 'c"d\u00e9'},
        {"kty": "RSA", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7a", "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "BB", "alg": "ES256"},
    ],
)
def test_did_jwk_rendering_is_canonical_json(jwk):
    """The templates for the usual key shapes give exactly the canonical JSON of the JWK with its
    kid and x5c, like the member-by-member path for other shapes."""
    from publication import did

    x5c = ["MIIB", "MIIC+/="]
    rendered = did._jwk_json(jwk, "qroU+hDDovs=", json.dumps(x5c, separators=(",", ":")))
    assert rendered.encode() == canonical_json({**jwk, "kid": "qroU+hDDovs=", "x5c": x5c})


def test_a_certificate_for_another_key_is_refused_by_its_own_reason(pki, db, frozen):
    from gateway.pki import issuance
    from gateway.pki.certs import certificate_der
    from gateway.pki.errors import Reason, Rejected

    keys.create_csr(label="p1", at=NOW)
    other = issuance.new_key("ec-p256")
    csr = issuance.csr_for(other, issuance.name("someone else's key"))
    certificate = issuance.certify_csr(csr, ca=pki.ta, at=NOW, days=365)
    with pytest.raises(Rejected) as refused:
        keys.install_certificate(label="p1", certificate_der_bytes=certificate_der(certificate), at=NOW, actor="test")
    assert refused.value.reason == Reason.PUBLISHER_KEY_MISMATCH
    assert PublisherKey.objects.get(label="p1").state == "PENDING"
