"""The verifier's sync against a simulated server: what it accepts, and every attack it refuses
(rollback, freeze, equivocation, mix-and-match, oversize, wrong or unannounced key)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from gateway.pki import issuance
from gateway.pki.certs import thumbprint
from gateway.signing import jws
from gateway.signing.backend import FileSigner
from publication.models import Publication
from publication.pruning import RETAIN_SECONDS
from publication.service import publish, rebuild_full
from tests.factory import NOW, Pki
from tests.helpers import revoke, upload
from tests.publishing import anchors, install_publisher, publish_root
from verifier.certificates import PUBLISHER_USAGE_OID
from verifier.encoding import canonical_json
from verifier.reasons import PublicationReason, VerificationError
from verifier.sync import Response, SyncState, http_fetch, sync

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "https://mirror.example/publication/"


class Server:
    """Serves a publish folder, with overrides an attacker (or a broken CDN) would make."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.override: dict[str, bytes] = {}
        self.requests: list[str] = []

    def __call__(self, url, headers, cap, progress):
        path = url.removeprefix(BASE)
        self.requests.append(path)
        try:
            body = self.override.get(path) or (self.root / path).read_bytes()
        except FileNotFoundError:
            return Response(404, {}, b"")
        etag = f'"{hashlib.sha256(body).hexdigest()}"'
        if headers.get("If-None-Match") == etag:
            return Response(304, {"ETag": etag}, b"")
        if len(body) > cap:
            raise VerificationError(PublicationReason.OVERSIZE, f"{path}: more than {cap} bytes")
        return Response(200, {"ETag": etag}, body)


@pytest.fixture
def world(client, pki, xa, frozen, tmp_path):
    install_publisher(pki)
    for _ in range(3):
        assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    return {"server": Server(publish_root()), "state": tmp_path / "state"}


def _sync(pki, world, at=NOW):
    return sync(BASE, world["state"], anchors(pki), at, fetch=world["server"])


def test_first_sync_is_full_then_conditional(pki, world):
    first = _sync(pki, world)
    assert first.mode == "full"
    held = SyncState.load(world["state"])
    assert len([e for e in held.trusted.values() if e["type"] == "DSC"]) == 3
    assert held.checkpoint is not None
    again = _sync(pki, world)
    assert (again.mode, again.changed) == ("unchanged", False)
    assert again.downloaded_bytes == 0  # 304


def test_catch_up_by_deltas_matches_the_full_list(client, pki, xa, world):
    _sync(pki, world)
    dscs = [xa.dsc() for _ in range(10)]
    for dsc in dscs:
        upload(client, xa, xa.cms_b64(dsc.der))
    revoke(client, xa, xa.cms_b64(dscs[0].der))
    result = _sync(pki, world)
    assert result.mode == "delta"
    full_state = world["state"].parent / "full"
    assert sync(BASE, full_state, anchors(pki), NOW, fetch=world["server"]).mode == "full"
    assert SyncState.load(world["state"]).trusted == SyncState.load(full_state).trusted
    assert SyncState.load(world["state"]).revoked == SyncState.load(full_state).revoked


def _refused(pki, world, reason, at=NOW):
    """``reason``: the one expected, or a set of those that each say the same thing."""
    before = (world["state"] / "state.json").read_bytes()
    with pytest.raises(VerificationError) as info:
        _sync(pki, world, at)
    assert info.value.reason in ({reason} if isinstance(reason, str) else reason)
    assert (world["state"] / "state.json").read_bytes() == before, "a refused sync must not change the state"


def test_rollback_is_refused(client, pki, xa, world):
    old_index = (publish_root() / "index.jws").read_bytes()
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    _sync(pki, world)
    world["server"].override["index.jws"] = old_index
    _refused(pki, world, "ROLLBACK")


def test_freeze_is_refused(pki, world, settings):
    _sync(pki, world)
    later = NOW + dt.timedelta(seconds=settings.GATEWAY_PUBLISH_VALIDITY + 60)
    _refused(pki, world, "INDEX_EXPIRED", at=later)  # the server keeps answering 304 with a stale index


def test_equivocation_is_refused(pki, world):
    _sync(pki, world)
    held = SyncState.load(world["state"])
    world["server"].override["index.jws"] = _resign(held.index, _current_signer(), tweak={"expiresAt": None})
    _refused(pki, world, "EQUIVOCATION")


def test_mix_and_match_is_refused(client, pki, xa, world):
    first_trust_list = _current_artifact("trustList")
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    path = json.loads(_payload((publish_root() / "index.jws").read_bytes()))["trustList"]["path"]
    world["server"].override[path] = first_trust_list  # yesterday's (validly signed) list
    with pytest.raises(VerificationError) as info:
        _sync(pki, world)
    assert info.value.reason in {"LENGTH_MISMATCH", "HASH_MISMATCH"}
    assert not (world["state"] / "state.json").exists()


def test_wrong_key_is_refused(pki, world):
    stranger = Pki.create()
    key = issuance.new_key()
    certificate = issuance.issue(
        issuance.name("Impostor publisher"),
        at=NOW,
        issuer=stranger.ta,
        key=key,
        extended_key_usage=[PUBLISHER_USAGE_OID],
    )
    impostor = FileSigner(key, certificate.certificate, (certificate.der, stranger.ta.der))
    world["server"].override["index.jws"] = _resign(
        (publish_root() / "index.jws").read_bytes(), impostor, tweak={"sequence": 10_000}
    )
    with pytest.raises(VerificationError) as info:
        _sync(pki, world)
    assert info.value.reason == "UNTRUSTED_SIGNER"


def test_unannounced_key_is_refused(pki, world):
    _sync(pki, world)
    # A key the trust anchor certified, but that no index ever announced (a stolen CSR, say).
    key = issuance.new_key()
    certificate = issuance.issue(
        issuance.name("Unannounced publisher"), at=NOW, issuer=pki.ta, key=key, extended_key_usage=[PUBLISHER_USAGE_OID]
    )
    rogue = FileSigner(key, certificate.certificate, (certificate.der, pki.ta.der))
    world["server"].override["index.jws"] = _resign(
        (publish_root() / "index.jws").read_bytes(), rogue, tweak={"sequence": 10_000}
    )
    _refused(pki, world, "UNANNOUNCED_KEY")


def _certified_by_the_anchor(pki, key, shape: str):
    """A certificate the pinned trust anchor issued for ``key``, of a shape that is not a publisher's."""
    subject = issuance.name("Not a publisher")
    if shape == "no extended key usage":  # what the anchor signs for countries' certificates
        return issuance.issue(subject, at=NOW, issuer=pki.ta, key=key)
    if shape == "another purpose":
        return issuance.issue(
            subject, at=NOW, issuer=pki.ta, key=key, extended_key_usage=[ExtendedKeyUsageOID.CODE_SIGNING]
        )
    if shape == "any purpose":  # RFC 5280 §4.2.1.12 anyExtendedKeyUsage is not the publisher's purpose
        eku = [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]
        return issuance.issue(subject, at=NOW, issuer=pki.ta, key=key, extended_key_usage=eku)
    # the publisher's purpose, on a key whose key usage is for certificates and CRLs only
    return issuance.issue(subject, at=NOW, issuer=pki.ta, key=key, ca=True, extended_key_usage=[PUBLISHER_USAGE_OID])


@pytest.mark.parametrize("shape", ["no extended key usage", "another purpose", "any purpose", "not for signatures"])
def test_an_index_signed_by_an_anchor_certificate_without_the_publisher_usage_is_refused(pki, world, shape):
    """The anchor issued it and the index announces it as its current key, yet it was not
    certified to sign trust data: refused by name, the state held unchanged."""
    _sync(pki, world)
    key = issuance.new_key()
    certificate = _certified_by_the_anchor(pki, key, shape)
    signer = FileSigner(key, certificate.certificate, (certificate.der, pki.ta.der))
    payload = _index_payload()
    payload["sequence"] += 1
    payload["publisherKeys"] = [
        {"kid": hashlib.sha256(certificate.der).hexdigest(), "status": "current", "certificate": _b64(certificate.der)}
    ]
    world["server"].override["index.jws"] = _sign_index(payload, signer)
    _refused(pki, world, "PUBLISHER_USAGE")


def _b64(der: bytes) -> str:
    return base64.b64encode(der).decode("ascii")


def test_oversize_bodies_are_refused_while_reading(tmp_path):
    """The real HTTP client stops reading at the cap, whatever Content-Length claims."""
    huge = b"x" * (2 * 1024 * 1024)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            if self.path == "/lying":
                self.send_header("Content-Length", "10")  # claims little, then the connection closes
            self.end_headers()
            self.wfile.write(huge)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with pytest.raises(VerificationError) as info:
            http_fetch(url + "/big", {}, 1024 * 1024)
        assert info.value.reason == "OVERSIZE"
        small = http_fetch(url + "/lying", {}, 1024 * 1024)
        assert len(small.body) <= 10
    finally:
        server.shutdown()


def test_tampered_state_file_is_not_trusted(pki, world):
    _sync(pki, world)
    state_file = world["state"] / "state.json"
    data = json.loads(state_file.read_text())
    data["index"] = base64.b64encode(b"x" + base64.b64decode(data["index"])[1:]).decode()
    state_file.write_text(json.dumps(data))
    with pytest.raises(VerificationError):
        _sync(pki, world)


# --- helpers --------------------------------------------------------------------------------------


def _payload(compact: bytes) -> bytes:
    part = compact.split(b".")[1]
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def _read(path: str) -> dict:
    """A published delta or span: plain JSON (a JWS before index version 5)."""
    data = (publish_root() / path).read_bytes()
    return json.loads(data if data[:1] == b"{" else _payload(data))


def _earlier(link: dict, sequence: int, kind: str) -> str:
    """The path of the file a delta or span names before it, at ``sequence``."""
    return link.get("path") or f"sequences/{sequence}/{kind}.json"


def _current_artifact(name: str) -> bytes:
    path = json.loads(_payload((publish_root() / "index.jws").read_bytes()))[name]["path"]
    return (publish_root() / path).read_bytes()


def _current_signer():
    from gateway.signing import keys

    return keys.current_signer()


def _resign(compact: bytes, signer, *, tweak: dict) -> bytes:
    payload = json.loads(_payload(compact))
    for key, value in tweak.items():
        if value is None:  # a different but valid-looking value
            payload[key] = (NOW + dt.timedelta(hours=47)).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            payload[key] = value
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return jws.compact(signer, "index", data)


def test_publish_folder_can_be_mirrored_as_is(pki, world, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(publish_root(), mirror)
    world["server"].root = mirror
    assert _sync(pki, world).mode == "full"
    assert publish(force=True) is not None


# --- full lists of an earlier sequence F, and the deltas from F (incremental publication) --------


@pytest.fixture
def incremental(settings):
    """No background rebuild: changes are published as deltas only, the index keeps naming F."""
    settings.GATEWAY_PUBLISH_FULL_AFTER_SECONDS = 3600
    settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS = 1000


def _index_payload() -> dict:
    return json.loads(_payload((publish_root() / "index.jws").read_bytes()))


def _sign_index(payload: dict, signer=None) -> bytes:

    return jws.compact(signer or _current_signer(), "index", canonical_json(payload), chain=False)


def _assert_a_new_verifier_agrees(pki, world, name: str = "fresh") -> None:
    """A verifier syncing from scratch (full lists) holds what the one in ``world`` holds."""
    fresh = world["state"].parent / name
    assert sync(BASE, fresh, anchors(pki), NOW, fetch=world["server"]).mode == "full"
    assert _state(fresh) == _state(world["state"])


def _state(folder: Path) -> tuple[dict, dict]:
    held = SyncState.load(folder)
    return held.trusted, held.revoked


def test_new_verifier_downloads_the_full_lists_of_f_then_the_deltas(client, pki, xa, world, incremental):
    dscs = [xa.dsc() for _ in range(3)]
    for dsc in dscs:
        upload(client, xa, xa.cms_b64(dsc.der))
    index = _index_payload()
    full = index["trustList"]["sequence"]
    assert full < index["sequence"]
    result = _sync(pki, world)
    assert result.mode == "full"
    # the chain walked back from the head to F: the sequence of the last rebuild (which named F)
    # and three changes, newest first
    deltas = _chain_paths(index, down_to=full)
    assert len(deltas) == 4
    assert world["server"].requests == [
        "index.jws",
        index["trustList"]["path"],
        index["revocationList"]["path"],
        *deltas,
        *(index["artifacts"][name]["path"] for name in sorted(index.get("artifacts", {}))),  # rules, value sets
    ]
    trusted, _ = _state(world["state"])
    assert {thumbprint(d.der) for d in dscs} <= set(trusted)
    rebuild_full()
    _assert_a_new_verifier_agrees(pki, world, "after-rebuild")
    assert json.loads(_payload((publish_root() / "index.jws").read_bytes()))["trustList"]["sequence"] > full


def test_verifier_behind_by_ten_downloads_the_index_and_ten_deltas_only(client, pki, xa, world, incremental):
    _sync(pki, world)
    for _ in range(10):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    world["server"].requests.clear()
    result = _sync(pki, world)
    assert result.mode == "delta"
    index = _index_payload()
    assert world["server"].requests == ["index.jws", *_chain_paths(index, down_to=index["sequence"] - 10)]
    sizes = (publish_root() / "index.jws").stat().st_size + sum(
        (publish_root() / path).stat().st_size for path in world["server"].requests[1:]
    )
    assert result.downloaded_bytes == sizes


def _chain_paths(index: dict, *, down_to: int) -> list[str]:
    """Paths of the deltas from the index's head back to the one after ``down_to``, newest first."""
    paths, path, sequence = [], index["head"]["path"], index["head"]["sequence"]
    while sequence > down_to:
        paths.append(path)
        delta = _read(path)
        if delta["previousDelta"] is None:
            break
        path, sequence = _earlier(delta["previousDelta"], delta["previous"], "delta"), delta["previous"]
    return paths


def _forge_head(payload: dict, change, served: dict[str, bytes]) -> None:
    """Rewrite the head delta after ``change`` edits its payload, serve it, and bind it in the index
    payload (which the caller re-signs)."""

    head = payload["head"]
    delta = _read(head["path"])
    change(delta)
    forged = canonical_json(delta)
    served[head["path"]] = forged
    head.update(sha256=hashlib.sha256(forged).hexdigest(), length=len(forged))


def test_verifier_in_the_window_downloads_only_deltas_across_a_rebuild(client, pki, xa, world, incremental):
    _sync(pki, world)
    held = SyncState.load(world["state"]).sequence
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    rebuild_full()
    late = xa.dsc()
    upload(client, xa, xa.cms_b64(late.der))
    assert _index_payload()["trustList"]["sequence"] > held, "the full lists moved past the verifier"
    world["server"].requests.clear()
    result = _sync(pki, world)
    assert result.mode == "delta"
    assert not [path for path in world["server"].requests if "trustlist" in path or "revocations" in path]
    assert thumbprint(late.der) in SyncState.load(world["state"]).trusted
    _assert_a_new_verifier_agrees(pki, world)


def test_delta_chain_that_skips_a_sequence_is_refused(client, pki, xa, world, incremental):
    _sync(pki, world)
    for _ in range(3):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    payload = _index_payload()
    head = _read(payload["head"]["path"])
    skipped = _read(_earlier(head["previousDelta"], head["previous"], "delta"))["previousDelta"]
    # hide one change: the head names the delta two back as the one before it, which is not the
    # file of the sequence it says it follows; or names that sequence too, which is not the one
    _forge_head(payload, lambda delta: delta.update(previousDelta=skipped), world["server"].override)
    world["server"].override["index.jws"] = _sign_index(payload)
    # not the file the link describes: longer than its length (refused while reading), or not its bytes
    _refused(pki, world, {"OVERSIZE", "LENGTH_MISMATCH", "HASH_MISMATCH"})
    payload = _index_payload()
    _forge_head(
        payload,
        lambda delta: delta.update(previousDelta={**skipped, "sequence": delta["previous"] - 1}),
        world["server"].override,
    )
    world["server"].override["index.jws"] = _sign_index(payload)
    _refused(pki, world, "DELTA_CHAIN")


def test_delta_that_does_not_follow_the_held_sequence_is_refused(client, pki, xa, world, incremental):
    """A validly signed delta (and an index binding it) claiming another predecessor: a fork."""
    _sync(pki, world)
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    payload = _index_payload()
    _forge_head(payload, lambda delta: delta.update(previous=delta["previous"] - 1), world["server"].override)
    world["server"].override["index.jws"] = _sign_index(payload)
    _refused(pki, world, "DELTA_CHAIN")


def _junk_certificate(delta):
    delta["upsert"][0]["certificate"] = base64.b64encode(b"junk").decode()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # leaves out what its certificate cannot give (it does not parse: no validity)
        (_junk_certificate, "MALFORMED_PAYLOAD"),
        (lambda delta: delta.update(revoked=[{"kid": "x"}]), "MALFORMED_PAYLOAD"),
        (lambda delta: delta.update(remove=[7]), "MALFORMED_PAYLOAD"),
        (lambda delta: delta.update(upsert="all of them"), "MALFORMED_PAYLOAD"),
        (lambda delta: delta.update(previous=True), "DELTA_CHAIN"),
        (lambda delta: delta.update(previousDelta={"sha256": "00", "length": 1e400}), "DELTA_CHAIN"),
    ],
    ids=[
        "unrestorable entry",
        "revocation without thumbprint",
        "removal not a thumbprint",
        "upsert not a list",
        "previous not a number",
        "link of infinite length",
    ],
)
def test_a_plain_delta_that_cannot_be_read_is_refused_by_name(client, pki, xa, world, incremental, change, reason):
    """Bound by the index, yet malformed (only the publisher could write it): refused with a
    reason, never an exception of another kind."""
    _sync(pki, world)
    for _ in range(2):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    payload = _index_payload()
    _forge_head(payload, change, world["server"].override)
    world["server"].override["index.jws"] = _sign_index(payload)
    _refused(pki, world, reason)


def test_full_lists_must_be_signed_even_when_the_index_binds_them(client, pki, xa, world):
    """Only deltas and spans may be plain JSON: a full list is checked alone too (it has x5c)."""
    from verifier.descriptors import Descriptor
    from verifier.index import verify_index, verify_named

    index = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW)
    plain = canonical_json(json.loads(_payload((publish_root() / index.trust_list.path).read_bytes())))
    descriptor = Descriptor(index.trust_list.path, hashlib.sha256(plain).hexdigest(), len(plain))
    with pytest.raises(VerificationError) as info:
        verify_named(plain, descriptor, index, anchors(pki), NOW, kind="trust-list", sequence=index.full_sequence)
    assert info.value.reason == "MALFORMED_JWS"


def test_changed_history_is_refused_as_a_fork(client, pki, xa, world, incremental):
    _sync(pki, world)
    seen = SyncState.load(world["state"]).sequence
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    payload = _index_payload()
    assert payload["head"]["previous"] == seen

    def rewrite(delta):  # the delta of the sequence the verifier holds (whose head it saw) is another
        delta["previousDelta"]["sha256"] = hashlib.sha256(b"another history").hexdigest()

    _forge_head(payload, rewrite, world["server"].override)
    world["server"].override["index.jws"] = _sign_index(payload)
    _refused(pki, world, "FORK")


def test_full_lists_of_another_sequence_are_refused(client, pki, xa, world, incremental):
    first = _index_payload()["trustList"]
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    rebuild_full()
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    payload = _index_payload()
    assert payload["trustList"]["sequence"] != first["sequence"]
    # an index (validly signed) naming an older, genuine trust list as the one of F
    payload["trustList"].update(path=first["path"], sha256=first["sha256"], length=first["length"])
    world["server"].override["index.jws"] = _sign_index(payload)
    with pytest.raises(VerificationError) as info:
        _sync(pki, world)
    assert info.value.reason == "SEQUENCE_MISMATCH"
    assert not (world["state"] / "state.json").exists()
    # and the genuine index, with an older list served under F's name
    world["server"].override = {_index_payload()["trustList"]["path"]: (publish_root() / first["path"]).read_bytes()}
    with pytest.raises(VerificationError) as info:
        _sync(pki, world)
    assert info.value.reason in {"LENGTH_MISMATCH", "HASH_MISMATCH"}


def test_index_whose_full_lists_are_older_than_its_window_is_refused(client, pki, xa, world, incremental):
    for _ in range(4):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    payload = _index_payload()
    payload["chainStart"] = payload["head"]["previous"]  # the chain from F is no longer reachable
    world["server"].override["index.jws"] = _sign_index(payload)
    with pytest.raises(VerificationError) as info:
        _sync(pki, world)
    assert info.value.reason == "FULL_OUTSIDE_WINDOW"


def test_delta_signed_by_an_unannounced_key_is_refused(client, pki, xa, world, incremental):
    """A delta in the JWS form of index versions 3 and 4 is still checked as one: its signer must
    be announced (a plain-JSON delta has no signature; its hash binds it)."""

    _sync(pki, world)
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    key = issuance.new_key()
    certificate = issuance.issue(
        issuance.name("Unannounced publisher"), at=NOW, issuer=pki.ta, key=key, extended_key_usage=[PUBLISHER_USAGE_OID]
    )
    rogue = FileSigner(key, certificate.certificate, (certificate.der, pki.ta.der))
    payload = _index_payload()
    last = payload["head"]
    delta = (publish_root() / last["path"]).read_bytes()
    forged = jws.compact(rogue, "delta", delta, chain=False)  # kid-only: the index must announce it
    world["server"].override[last["path"]] = forged
    last.update(sha256=hashlib.sha256(forged).hexdigest(), length=len(forged))
    world["server"].override["index.jws"] = _sign_index(payload)
    _refused(pki, world, "UNANNOUNCED_KEY")


def test_index_versions(pki, world):
    """Version 5 (plain-JSON deltas and spans), 4 (the same index, JWS deltas) and 3 (the same
    with x5c, as gateways wrote it before) are read; versions 1 and 2 (every delta listed in the
    index) and unknown ones are refused by name."""
    from verifier.index import verify_index

    publish(force=True, full=True)
    payload = _index_payload()
    assert payload["version"] == 5
    assert payload["trustList"]["sequence"] == payload["sequence"]
    assert verify_index(_sign_index({**payload, "version": 4}), anchors(pki), NOW).sequence == payload["sequence"]
    assert verify_index(_sign_index(payload), anchors(pki), NOW).full_sequence == payload["sequence"]
    version_3 = jws.compact(_current_signer(), "index", canonical_json({**payload, "version": 3}))
    assert b"x5c" in base64.urlsafe_b64decode(version_3.split(b".")[0] + b"==")
    assert verify_index(version_3, anchors(pki), NOW).full_sequence == payload["sequence"]
    for version in (1, 2, 6):
        with pytest.raises(VerificationError) as info:
            verify_index(_sign_index({**payload, "version": version}), anchors(pki), NOW)
        assert info.value.reason == "UNSUPPORTED_VERSION"


def test_a_verifier_holding_an_index_of_an_older_format_syncs_afresh(client, pki, xa, world, incremental):
    """After the upgrade to index version 3, a verifier whose stored index is of version 2 cannot
    read it any more: it downloads the full lists once, and still refuses to go back."""
    _sync(pki, world)
    held = SyncState.load(world["state"])
    legacy = json.loads(_payload(held.index))
    legacy["version"] = 2
    held.index = _sign_index(legacy)
    held.save(world["state"])
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    assert _sync(pki, world).mode == "full"
    assert SyncState.load(world["state"]).sequence == _index_payload()["sequence"]

    ahead = SyncState.load(world["state"])
    legacy["sequence"] = ahead.sequence + 5
    ahead.index, ahead.sequence = _sign_index(legacy), ahead.sequence + 5
    ahead.save(world["state"])
    _refused(pki, world, "ROLLBACK")


def _as_before_plain_deltas() -> None:
    """Rewrite the published deltas, and the index, as a gateway wrote them before index version 5:
    JWS (delta.jws) with every entry whole and every link a full descriptor; the rows say so."""
    from verifier.entries import restore_body

    signer, link = _current_signer(), None
    for publication in Publication.objects.published().order_by("id"):
        if not publication.delta_sha256:  # a reset: the chain starts again after it
            link = None
            continue
        plain = publish_root() / f"sequences/{publication.id}/delta.json"
        payload = restore_body(json.loads(plain.read_bytes()))
        payload.update(version=2, previousDelta=link)
        data = jws.compact(signer, "delta", canonical_json(payload), chain=False)
        plain.unlink()
        (plain.parent / "delta.jws").write_bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        Publication.objects.filter(id=publication.id).update(
            delta_plain=False, span_plain=False, delta_sha256=sha256, delta_length=len(data)
        )
        link = {
            "path": f"sequences/{publication.id}/delta.jws",
            "sha256": sha256,
            "length": len(data),
            "sequence": publication.id,
            "previous": publication.previous,
        }
    index = {**_index_payload(), "version": 4, "head": link}
    (publish_root() / "index.jws").write_bytes(_sign_index(index))


def test_a_chain_that_crosses_the_upgrade_to_plain_deltas_is_walked(client, pki, xa, world, spans):
    """Nothing is rewritten at the upgrade to index version 5: the first plain delta names the last
    JWS one by its path, and verifiers (held, or new) walk a chain of both kinds, and the rebuild
    reads both into the span it writes."""
    from verifier.folder import verify_folder

    early = [xa.dsc() for _ in range(3)]
    for dsc in early:
        upload(client, xa, xa.cms_b64(dsc.der))
    _as_before_plain_deltas()
    assert _sync(pki, world).mode == "full"
    assert [path for path in world["server"].requests if path.endswith("delta.jws")], "it walked JWS deltas"
    late = [xa.dsc() for _ in range(2)]
    for dsc in late:
        upload(client, xa, xa.cms_b64(dsc.der))
    index = _index_payload()
    assert index["version"] == 5
    crossing = _read(_chain_paths(index, down_to=index["sequence"] - 2)[-1])
    assert crossing["previousDelta"]["path"].endswith("/delta.jws"), "the first plain delta names a JWS one"
    world["server"].requests.clear()
    assert _sync(pki, world).mode == "delta"
    assert world["server"].requests[1:] == _chain_paths(index, down_to=index["sequence"] - 2)
    assert {thumbprint(dsc.der) for dsc in late} <= set(_state(world["state"])[0])
    _assert_a_new_verifier_agrees(pki, world, "fresh-across-the-upgrade")
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []
    assert rebuild_full() is not None
    span = _read(_index_payload()["span"]["path"])
    spanned = {thumbprint(base64.b64decode(entry["certificate"])) for entry in span["upsert"]}
    assert {thumbprint(dsc.der) for dsc in early + late} <= spanned, "from JWS and plain deltas alike"
    _assert_a_new_verifier_agrees(pki, world, "after-rebuild")


def test_a_span_ending_at_a_sequence_published_before_the_upgrade_is_named_where_it_is(client, pki, xa, world, spans):
    """The first rebuild after the upgrade may end a span at a sequence whose delta is a JWS: the
    span itself is plain JSON, and the index (and the next span) name it so."""
    from verifier.folder import verify_folder

    for _ in range(3):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    _as_before_plain_deltas()
    last_old = Publication.objects.published().newest()
    assert rebuild_full() is not None
    named = _index_payload()["span"]
    assert named["sequence"] == last_old.id
    assert named["path"].endswith("/span.json")
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []
    _rounds(client, xa, 1)
    newest = _read(_index_payload()["span"]["path"])
    assert newest["previous"] == last_old.id
    assert "path" not in newest["previousSpan"]
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []


def test_the_chain_stops_at_a_delta_that_names_no_predecessor(client, pki, xa, world, incremental):
    """Deltas published before index version 3 (no chain_start recorded) name no previous delta:
    the chain reaches the sequence before the last of them and no further."""
    from publication.models import Publication
    from verifier.folder import verify_folder

    for _ in range(3):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    Publication.objects.update(chain_start=None)  # as if published before the upgrade
    last_old = Publication.objects.published().newest()
    _sync(pki, world)  # a verifier holding the last sequence published before the upgrade
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    index = _index_payload()
    assert index["head"]["previous"] == last_old.id
    assert index["chainStart"] == last_old.previous
    # the full lists were older than the chain now reaches: this sequence got full lists of its own
    assert index["trustList"]["sequence"] == index["sequence"]
    assert _sync(pki, world).mode == "delta", "the verifier at the last old sequence still walks one delta"
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []


def test_a_delta_the_server_no_longer_has_falls_back_to_the_full_lists(client, pki, xa, world, incremental):
    _sync(pki, world)
    held = SyncState.load(world["state"]).sequence
    for _ in range(2):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    assert rebuild_full() is not None
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    index = _index_payload()
    full = index["trustList"]["sequence"]
    before_full = [path for path in _chain_paths(index, down_to=held) if int(path.split("/")[1]) <= full]
    (publish_root() / before_full[-1]).unlink()  # gone from a lagging mirror; the lists of F and after are there
    result = _sync(pki, world)
    assert result.mode == "full"
    assert SyncState.load(world["state"]).sequence == index["sequence"]
    _assert_a_new_verifier_agrees(pki, world)


def test_a_delta_that_does_not_verify_is_refused_not_skipped(client, pki, xa, world, incremental):
    _sync(pki, world)
    for _ in range(3):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    index = _index_payload()
    middle = _chain_paths(index, down_to=index["sequence"] - 3)[1]
    world["server"].override[middle] = b"x" * len((publish_root() / middle).read_bytes())
    _refused(pki, world, "HASH_MISMATCH")


# --- spans: verifiers beyond the chain of deltas ---------------------------------------------------------


@pytest.fixture
def spans(settings):
    """A chain of deltas three sequences long, rebuilds only when a test asks for them, and a span
    at every rebuild that follows three or more sequences (the count rule; the clock is frozen)."""
    settings.GATEWAY_PUBLISH_DELTA_WINDOW = 3
    settings.GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS = 0
    settings.GATEWAY_PUBLISH_DELTA_WINDOW_MAX = 3
    settings.GATEWAY_PUBLISH_FULL_AFTER_SECONDS = 3600
    settings.GATEWAY_PUBLISH_FULL_AFTER_DELTAS = 1000
    settings.GATEWAY_PUBLISH_SPAN_SECONDS = 3600


def _rounds(client, xa, count: int, *, per_round: int = 3) -> list:
    """``count`` rounds of ``per_round`` uploads, each round closed by a rebuild of the full lists."""
    dscs = []
    for _ in range(count):
        for _ in range(per_round):
            dscs.append(xa.dsc())
            assert upload(client, xa, xa.cms_b64(dscs[-1].der)).status_code == 201
        assert rebuild_full() is not None
    return dscs


def _span_paths(index: dict, *, down_to: int) -> list[str]:
    """Paths of the spans from the index's newest back to the one that covers ``down_to``, newest first."""
    paths, path = [], index["span"]["path"]
    while True:
        paths.append(path)
        span = _read(path)
        if span["previous"] <= down_to or span["previousSpan"] is None:
            return paths
        path = _earlier(span["previousSpan"], span["previous"], "span")


def test_a_verifier_beyond_the_chain_of_deltas_catches_up_by_spans(client, pki, xa, spans, world):
    _rounds(client, xa, 1)
    assert _sync(pki, world).mode == "full"
    held = SyncState.load(world["state"]).sequence
    dscs = _rounds(client, xa, 4)
    revoke(client, xa, xa.cms_b64(dscs[0].der))
    index = _index_payload()
    assert index["chainStart"] > held, "the chain of deltas no longer reaches the verifier"
    assert index["spanStart"] <= held < index["span"]["sequence"]
    world["server"].requests.clear()
    result = _sync(pki, world)
    assert result.mode == "span"
    spans_walked = _span_paths(index, down_to=held)
    assert len(spans_walked) == 4
    assert world["server"].requests == [
        "index.jws",
        *spans_walked,
        *_chain_paths(index, down_to=index["span"]["sequence"]),
    ]
    assert not any("trustlist" in path for path in world["server"].requests)
    served = sum((publish_root() / path).stat().st_size for path in world["server"].requests)
    assert result.downloaded_bytes == served
    assert served < (publish_root() / index["trustList"]["path"]).stat().st_size
    trusted, revoked = _state(world["state"])
    assert thumbprint(dscs[0].der) in revoked
    assert thumbprint(dscs[0].der) not in trusted
    assert {thumbprint(d.der) for d in dscs[1:]} <= set(trusted)
    _assert_a_new_verifier_agrees(pki, world)


def test_a_span_also_brings_a_state_from_inside_it(client, pki, xa, spans, world):
    """A verifier that synced between two full-list sequences holds a state no span starts from:
    the span across it replaces what changed since, and leaves the rest."""
    _rounds(client, xa, 1)
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    _sync(pki, world)
    held = SyncState.load(world["state"]).sequence
    assert not Publication.objects.filter(id=held, span_start__isnull=False).exists(), "no span ends here"
    _rounds(client, xa, 3)
    index = _index_payload()
    assert index["chainStart"] > held
    assert _sync(pki, world).mode == "span"
    _assert_a_new_verifier_agrees(pki, world)


def test_a_span_that_does_not_verify_is_refused_and_a_missing_one_means_full_lists(client, pki, xa, spans, world):
    _rounds(client, xa, 1)
    _sync(pki, world)
    _rounds(client, xa, 3)
    index = _index_payload()
    path = index["span"]["path"]
    tampered = bytearray((publish_root() / path).read_bytes())
    middle = len(tampered) // 2
    tampered[middle] = ord("A") if tampered[middle] != ord("A") else ord("B")
    world["server"].override[path] = bytes(tampered)
    _refused(pki, world, "HASH_MISMATCH")
    del world["server"].override[path]
    (publish_root() / path).rename(publish_root() / f"{path}.away")  # a mirror that lags
    assert _sync(pki, world).mode == "full"
    _assert_a_new_verifier_agrees(pki, world)


def test_spans_stop_at_a_reset_and_at_their_age_limit(client, pki, xa, spans, world, settings):
    from unittest import mock

    from gateway.outbox.services import record_change

    _rounds(client, xa, 1)
    _sync(pki, world)
    before_reset = world["state"].parent / "before-reset"
    shutil.copytree(world["state"], before_reset)
    with mock.patch("publication.tasks.request_publication"):
        record_change(kind="IMPORT", at=NOW)  # anything may have changed: no delta, no span across
    reset = publish(at=NOW)
    _rounds(client, xa, 2)
    index = _index_payload()
    assert index["spanStart"] == reset.id
    world["state"] = before_reset
    assert _sync(pki, world).mode == "full"
    # Spans whose end is older than GATEWAY_PUBLISH_SPAN_KEEP_SECONDS leave the chain (and the disk).
    settings.GATEWAY_PUBLISH_SPAN_KEEP_SECONDS = 0
    oldest = index["span"]["path"]
    later = NOW + dt.timedelta(seconds=RETAIN_SECONDS + 5)  # no index that names it is cached any more
    for _ in range(3):
        upload(client, xa, xa.cms_b64(xa.dsc().der))
    assert rebuild_full(at=later) is not None
    index = _index_payload()
    assert index["spanStart"] == index["span"]["previous"], "only the newest span is young enough"
    assert not (publish_root() / oldest).exists()
    assert verify_folder_problems(pki) == []


def verify_folder_problems(pki) -> list[str]:
    from verifier.folder import verify_folder

    return verify_folder(publish_root(), anchors(pki), NOW).problems


def test_spans_signed_before_a_key_rotation_still_verify(client, pki, xa, spans, world):
    """The retired key stays announced (as "retired") while files it signed are on a chain."""
    from publication import keys

    _rounds(client, xa, 1)
    install_publisher(pki, label="p2")
    publish(force=True)  # announces p2 as next: a verifier learns it before p2 signs anything
    _sync(pki, world)
    _rounds(client, xa, 2)
    keys.activate_next(at=NOW, actor="test")
    _rounds(client, xa, 2)
    statuses = sorted(k["status"] for k in _index_payload()["publisherKeys"])
    assert statuses == ["current", "retired"]
    assert _sync(pki, world).mode == "span"
    _assert_a_new_verifier_agrees(pki, world)


def test_a_verifier_at_the_end_of_an_older_span_walks_the_later_ones(client, pki, xa, spans, world):
    _rounds(client, xa, 2)
    _sync(pki, world)
    held = SyncState.load(world["state"]).sequence
    first_end = _index_payload()["span"]["sequence"]
    _rounds(client, xa, 3)
    index = _index_payload()
    assert index["chainStart"] > held >= first_end
    result = _sync(pki, world)
    assert result.mode == "span"
    _assert_a_new_verifier_agrees(pki, world)


def test_a_held_state_the_spans_do_not_lead_from_is_replaced_by_the_full_lists(client, pki, xa, spans, world):
    """Spans have no link to the verifier's history; their end state's digest catches a held
    state that was not the gateway's (here an entry slipped into the state file)."""
    _rounds(client, xa, 1)
    _sync(pki, world)
    state_file = world["state"] / "state.json"
    data = json.loads(state_file.read_text())
    stray = dict(data["trusted"][0], thumbprint="f" * 64)
    data["trusted"].append(stray)
    state_file.write_text(json.dumps(data))
    _rounds(client, xa, 3)
    assert _sync(pki, world).mode == "full"
    assert "f" * 64 not in _state(world["state"])[0]
    _assert_a_new_verifier_agrees(pki, world)


def test_a_rebuild_does_not_rewrite_full_lists_a_publication_wrote_for_itself(client, pki, xa, spans, world):
    upload(client, xa, xa.cms_b64(xa.dsc().der))
    own = publish(force=True, full=True)
    before = {path: path.read_bytes() for path in (publish_root() / f"sequences/{own.id}").iterdir()}
    assert rebuild_full() is None
    assert {path: path.read_bytes() for path in (publish_root() / f"sequences/{own.id}").iterdir()} == before


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p.update(spanStart=None), "SPAN_CHAIN"),
        (lambda p: p["span"].update(sequence=p["trustList"]["sequence"] + 1), "SPAN_CHAIN"),
        (lambda p: p.update(spanStart=p["span"]["previous"] + 1), "SPAN_CHAIN"),
        (lambda p: p["span"].update(sequence=p["chainStart"] - 1, previous=p["spanStart"]), "SPAN_CHAIN"),
    ],
)
def test_an_index_naming_spans_it_cannot_lead_from_is_refused(client, pki, xa, spans, world, change, reason):
    from verifier.index import verify_index

    _rounds(client, xa, 2)
    payload = _index_payload()
    assert payload["span"] is not None
    assert payload["spanStart"] < payload["chainStart"] - 1, "room for a span the chain does not reach"
    change(payload)
    with pytest.raises(VerificationError) as info:
        verify_index(_sign_index(payload), anchors(pki), NOW)
    assert info.value.reason == reason


def test_a_span_that_names_another_span_before_it_is_refused(client, pki, xa, spans, world):

    _rounds(client, xa, 1)
    _sync(pki, world)
    _rounds(client, xa, 3)
    payload = _index_payload()
    newest = _read(payload["span"]["path"])
    newest["previousSpan"]["sequence"] = newest["previous"] - 1  # a chain that skips
    forged = canonical_json(newest)
    world["server"].override[payload["span"]["path"]] = forged
    payload["span"].update(sha256=hashlib.sha256(forged).hexdigest(), length=len(forged))
    world["server"].override["index.jws"] = _sign_index(payload)
    _refused(pki, world, "SPAN_CHAIN")


def _set_csca(xa, status) -> None:
    from countries.models import CertificateType, TrustedParty
    from countries.services import set_status

    csca = TrustedParty.objects.get(country="XA", certificate_type=CertificateType.CSCA)
    set_status(party_id=csca.id, status=status, reason="test", actor="test", at=NOW)


def test_a_suspended_csca_inside_a_span_takes_its_dscs_out(client, pki, xa, xb, spans, world):
    from countries.models import Status

    _rounds(client, xa, 1)
    _sync(pki, world)
    xa_dscs = {t for t, e in _state(world["state"])[0].items() if e["country"] == "XA" and e["type"] == "DSC"}
    _set_csca(xa, Status.SUSPENDED)
    _rounds(client, xb, 3)
    assert _sync(pki, world).mode == "span"
    assert not xa_dscs & set(_state(world["state"])[0])
    _assert_a_new_verifier_agrees(pki, world)


def test_spans_that_weigh_more_than_the_full_lists_are_not_walked(client, pki, xa, xb, spans, world):
    """Each suspension or reactivation of a CSCA touches every DSC it issued: spans that repeat
    them cost more than the full lists, which the verifier then takes instead."""
    from countries.models import Status

    _rounds(client, xa, 2)
    _sync(pki, world)
    for _ in range(3):
        _set_csca(xa, Status.SUSPENDED)
        _rounds(client, xb, 1, per_round=1)
        _set_csca(xa, Status.ACTIVE)
        _rounds(client, xb, 1, per_round=1)
    index = _index_payload()
    assert index["chainStart"] > SyncState.load(world["state"]).sequence
    world["server"].requests.clear()
    assert index["spanStart"] <= SyncState.load(world["state"]).sequence, "spans do reach the verifier"
    assert _sync(pki, world).mode == "full"
    requests = world["server"].requests
    assert any(path.endswith("span.json") for path in requests), "it started on the spans"
    assert requests.index(index["trustList"]["path"]) > max(
        i for i, path in enumerate(requests) if path.endswith("span.json")
    ), "and took the full lists once they cost more"
    _assert_a_new_verifier_agrees(pki, world)


def test_a_span_ending_at_a_publication_with_full_lists_of_its_own_counts_its_own_changes(
    client, pki, xa, spans, world
):
    """A publication that writes full lists itself (the chain limit, `publish --full`) ends a span
    that includes the changes of its own delta, which is not published yet when the span is made."""
    from unittest import mock

    _rounds(client, xa, 1)
    _sync(pki, world)
    _rounds(client, xa, 1)
    own = xa.dsc()
    with mock.patch("publication.tasks.request_publication"):  # committed, not yet published
        assert upload(client, xa, xa.cms_b64(own.der)).status_code == 201
    full = publish(full=True)
    assert Publication.objects.get(id=full.id).span_previous is not None, "it ends a span"
    span = _read(f"sequences/{full.id}/span.json")
    assert own.der in {base64.b64decode(entry["certificate"]) for entry in span["upsert"]}
    _rounds(client, xa, 2)
    assert _index_payload()["chainStart"] > SyncState.load(world["state"]).sequence
    assert _sync(pki, world).mode == "span"
    _assert_a_new_verifier_agrees(pki, world)
