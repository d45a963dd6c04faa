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
from gateway.pki.signer import SignerKeyError
from tests.factory import NOW
from tests.helpers import revoke, upload
from tests.publishing import anchors, install_publisher, publish_root
from trustlist.models import Publication, PublisherKey
from trustlist.publication import keys
from trustlist.publication.service import PublicationRefused, publish
from verifier.publication import (
    VerificationError,
    verify_artifact,
    verify_folder,
    verify_index,
    verify_jws,
)

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
        sequence=index.sequence,
        allowed_kids=index.announced_kids,
    )


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
    assert revoke(client, xa, body).status_code == 204
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
    assert Publication.objects.filter(index_sha256__gt="").count() == 1


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


def test_stale_index_is_detected(pki, xa, publisher, settings):
    publish(at=NOW)
    late = NOW + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_VALIDITY + 1)
    report = verify_folder(publish_root(), anchors(pki), late)
    assert report.problems
    assert "EXPIRED" in report.problems[0]


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


def test_deltas_rebuild_the_trust_list(client, pki, xa, publisher):
    publish(at=NOW)
    start = _index(pki)
    state = {e["thumbprint"]: e for e in _payload(pki, start, "trust_list")["entries"]}
    dscs = [xa.dsc() for _ in range(6)]
    for dsc in dscs:
        upload(client, xa, xa.cms_b64(dsc.der))
    revoke(client, xa, xa.cms_b64(dscs[0].der))
    end = _index(pki)
    chain = [d for d in end.deltas if d.sequence > start.sequence]
    assert len(chain) == 7
    position = start.sequence
    for descriptor in chain:
        delta = verify_artifact(
            (publish_root() / descriptor.path).read_bytes(),
            descriptor,
            anchors(pki),
            NOW,
            kind="delta",
            sequence=descriptor.sequence,
            allowed_kids=end.announced_kids,
        )
        assert delta["previous"] == position
        for entry in delta["upsert"]:
            state[entry["thumbprint"]] = entry
        for gone in delta["remove"]:
            state.pop(gone, None)
        position = descriptor.sequence
    expected = {e["thumbprint"]: e for e in _payload(pki, end, "trust_list")["entries"]}
    assert state == expected


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
    from trustlist.publication.artifacts import canonical_json

    assert raw == canonical_json(document), "did.json is exactly the canonical JSON of the signed document"
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
        keys.current_signer()


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
    object.__setattr__(early, "announced_kids", frozenset({early.signer_kid}))
    with pytest.raises(VerificationError) as info:
        verify_index(unannounced.raw, anchors(pki), NOW, previous=early)
    assert info.value.reason == "UNANNOUNCED_KEY"


def test_status_and_verify_commands(pki, xa, publisher, capsys):
    call_command("publish")
    call_command("publication_status")
    assert "sequence" in capsys.readouterr().out
    call_command("verify_publication", "--dir", str(publish_root()), "--at", NOW.isoformat())
    assert "verified" in capsys.readouterr().out


def test_jws_header_carries_the_chain(pki, xa, publisher):
    publish(at=NOW)
    header, _, kid = verify_jws((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW)
    assert base64.b64decode(header["x5c"][1]) == pki.ta.der
    assert header["kid"] == kid


def test_audit_events_committed_during_a_publication_do_not_break_it(pki, xa, publisher, monkeypatch):
    """Regression: the audit head was locked inside the publication's repeatable-read snapshot,
    so any audit event committed meanwhile made PostgreSQL abort the publication."""
    import threading

    from django.db import connection

    from gateway.audit.models import Action, Outcome
    from gateway.audit.services import record_event
    from trustlist.publication import service

    original = service._write_sequence

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

    monkeypatch.setattr(service, "_write_sequence", write_while_someone_uploads)
    publication = publish(force=True)
    assert publication is not None
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []
