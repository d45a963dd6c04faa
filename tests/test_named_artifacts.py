"""Named content plugs into publication (publication.providers): a registered provider is
published as a signed file the index binds by name, hash, length and sequence; a change of its
outbox kind makes a new version, recorded in that sequence's delta; an unchanged value is not
rewritten; pruning keeps the version in use; verify_folder and sync check it like the lists."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from gateway.outbox.services import record_change
from gateway.signing import jws, keys
from publication.models import Publication
from publication.providers import register_named_content, unregister_named_content
from publication.pruning import RETAIN_SECONDS
from publication.service import publish
from tests.factory import NOW
from tests.helpers import upload
from tests.publishing import anchors, install_publisher, publish_root
from verifier.descriptors import named_descriptor
from verifier.encoding import canonical_json
from verifier.folder import verify_folder
from verifier.index import verify_content, verify_index
from verifier.reasons import PublicationReason, VerificationError
from verifier.sync import Response, SyncState, sync

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "https://mirror.example/publication/"


class Notes:
    """A content room in miniature: a value that changes with outbox changes of kind NOTE."""

    name = "notes"
    change_kinds = frozenset({"NOTE"})

    def __init__(self) -> None:
        self.value: dict = {"notes": ["first"]}
        self.reads = 0

    def full(self) -> dict:
        self.reads += 1
        return json.loads(json.dumps(self.value))


@pytest.fixture
def notes(pki, frozen):
    provider = Notes()
    register_named_content(provider)
    install_publisher(pki)
    yield provider
    unregister_named_content("notes")


def _index() -> dict:
    part = (publish_root() / "index.jws").read_bytes().split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)))


def _delta(sequence: int) -> dict:
    return json.loads((publish_root() / f"sequences/{sequence}/delta.json").read_bytes())


def _change(notes: Notes, at: dt.datetime, *, text: str | None) -> None:
    """A NOTE change, committed: its commit publishes it (eager tasks), as an upload's does."""
    if text is not None:
        notes.value["notes"].append(text)
    record_change(kind="NOTE", at=at)


def _newest() -> Publication:
    newest = Publication.objects.published().newest()
    assert newest is not None
    return newest


def test_without_named_content_the_index_has_no_artifacts_member(pki, frozen, monkeypatch):
    # As if no room registered any (the rules app does): the index is what it was before them.
    monkeypatch.setattr("publication.providers._named", {})
    install_publisher(pki)
    publish(at=NOW)
    assert "artifacts" not in _index()


def test_named_content_is_bound_by_the_index_and_verifies(pki, notes):
    first = publish(at=NOW)
    descriptor = _index()["artifacts"]["notes"]
    assert descriptor["path"] == f"sequences/{first.id}/notes.jws"
    assert descriptor["sequence"] == first.id
    data = (publish_root() / descriptor["path"]).read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (descriptor["length"], descriptor["sha256"])
    index = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW)
    assert verify_content(data, "notes", index, anchors(pki), NOW) == {"notes": ["first"]}
    report = verify_folder(publish_root(), anchors(pki), NOW)
    assert report.problems == []
    assert descriptor["path"] in report.checked


def test_a_change_of_its_kind_publishes_a_new_version_recorded_in_the_delta(pki, notes):
    publish(at=NOW)
    before = _index()["artifacts"]["notes"]
    _change(notes, NOW + dt.timedelta(seconds=1), text="second")
    descriptor = _index()["artifacts"]["notes"]
    assert descriptor["sequence"] > before["sequence"]
    assert descriptor["path"] == f"sequences/{descriptor['sequence']}/notes.jws"
    # The sequence that wrote it records it in its delta: the chain holds every version. It is
    # not a reset of the trust content: the chain goes on, with no certificate in it.
    delta = _delta(descriptor["sequence"])
    assert delta["artifacts"] == {"notes": descriptor}
    assert delta["previous"] is not None
    assert delta.get("upsert", []) == []
    index = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW + dt.timedelta(seconds=1))
    assert index.head is not None
    data = (publish_root() / descriptor["path"]).read_bytes()
    assert verify_content(data, "notes", index, anchors(pki), NOW)["notes"] == ["first", "second"]


def _versions() -> list[str]:
    return sorted(path.relative_to(publish_root()).as_posix() for path in publish_root().glob("sequences/*/notes.jws"))


def test_an_unchanged_value_keeps_its_version_and_other_changes_do_not_read_it(client, pki, notes, xa):
    publish(at=NOW)  # if onboarding XA has not published already
    version = _index()["artifacts"]["notes"]
    assert notes.reads == 1
    _change(notes, NOW, text=None)  # a NOTE change that leaves the value as it was
    after = _newest()
    assert notes.reads == 2
    assert _index()["artifacts"]["notes"] == version
    assert _versions() == [version["path"]]
    assert "artifacts" not in _delta(after.id)
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    assert notes.reads == 2, "a DSC upload does not read named content"
    assert _index()["artifacts"]["notes"] == version


def test_pruning_keeps_the_version_in_use_and_drops_replaced_ones(pki, notes, settings):
    settings.GATEWAY_PUBLISH_DELTA_WINDOW = 2
    first = publish(at=NOW)
    at = NOW
    for _ in range(4):  # far apart: no index still cached names anything older
        at += dt.timedelta(seconds=RETAIN_SECONDS + 1)
        publish(at=at, force=True)
    assert (publish_root() / f"sequences/{first.id}/notes.jws").exists(), "the version the index names"
    at += dt.timedelta(seconds=RETAIN_SECONDS + 1)
    _change(notes, at, text="second")
    replaced_at = _newest()
    at += dt.timedelta(seconds=RETAIN_SECONDS + 1)
    publish(at=at, force=True)
    assert not (publish_root() / f"sequences/{first.id}/notes.jws").exists()
    assert (publish_root() / f"sequences/{replaced_at.id}/notes.jws").exists()
    assert verify_folder(publish_root(), anchors(pki), at).problems == []


def test_verify_folder_refuses_a_tampered_version(pki, notes):
    publish(at=NOW)
    path = publish_root() / _index()["artifacts"]["notes"]["path"]
    path.write_bytes(path.read_bytes()[:-2] + b"AA")
    problems = verify_folder(publish_root(), anchors(pki), NOW).problems
    assert len(problems) == 1
    assert "notes.jws" in problems[0]
    assert "SHA-256" in problems[0]


def _resigned_index(tweak) -> bytes:
    payload = _index()
    tweak(payload)
    return jws.compact(keys.current_signer(), "index", canonical_json(payload), chain=False)


def test_an_index_may_not_roll_a_version_back_nor_rewrite_it(pki, notes):
    publish(at=NOW)
    _change(notes, NOW, text="second")
    publish(at=NOW + dt.timedelta(seconds=1))
    held = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW)
    first_version = {"path": "sequences/1/notes.jws", "sha256": "0" * 64, "length": 10, "sequence": 1}

    def older(payload):
        payload["sequence"] += 1
        payload["head"]["sequence"] = payload["sequence"]
        payload["artifacts"]["notes"] = first_version

    with pytest.raises(VerificationError) as info:
        verify_index(_resigned_index(older), anchors(pki), NOW, previous=held)
    assert info.value.reason == PublicationReason.ROLLBACK

    def rewritten(payload):
        payload["sequence"] += 1
        payload["head"]["sequence"] = payload["sequence"]
        payload["artifacts"]["notes"]["sha256"] = "0" * 64

    with pytest.raises(VerificationError) as info:
        verify_index(_resigned_index(rewritten), anchors(pki), NOW, previous=held)
    assert info.value.reason == PublicationReason.FORK


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("notes", {"path": "../../etc/passwd", "sha256": "0" * 64, "length": 1, "sequence": 1}),
        ("notes", {"path": "sequences/2/notes.jws", "sha256": "0" * 64, "length": 1, "sequence": 2}),  # later
        ("notes", {"path": "sequences/1/notes.jws", "sha256": "0" * 64, "length": 1}),
        ("Notes", {"path": "sequences/1/Notes.jws", "sha256": "0" * 64, "length": 1, "sequence": 1}),
        ("notes", ["sequences/1/notes.jws"]),
    ],
)
def test_a_named_descriptor_is_where_its_name_and_sequence_say(name, value):
    with pytest.raises(VerificationError) as info:
        named_descriptor(name, value, 1)
    assert info.value.reason == PublicationReason.MALFORMED_INDEX


class _Server:
    def __init__(self) -> None:
        self.requests: list[str] = []

    def __call__(self, url, headers, cap, progress):
        path = url.removeprefix(BASE)
        self.requests.append(path)
        try:
            return Response(200, {}, (publish_root() / path).read_bytes())
        except FileNotFoundError:
            return Response(404, {}, b"")


def test_sync_downloads_a_version_once_and_holds_its_content(client, pki, notes, xa, tmp_path):
    server, folder = _Server(), tmp_path / "state"
    publish(at=NOW)
    sync(BASE, folder, anchors(pki), NOW, fetch=server)
    path = _index()["artifacts"]["notes"]["path"]
    assert path in server.requests
    assert SyncState.load(folder).artifacts["notes"]["content"] == {"notes": ["first"]}
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    publish(at=NOW + dt.timedelta(seconds=1))
    server.requests.clear()
    assert sync(BASE, folder, anchors(pki), NOW, fetch=server).mode == "delta"
    assert path not in server.requests, "the version held is not downloaded again"
    _change(notes, NOW, text="second")
    publish(at=NOW + dt.timedelta(seconds=2))
    sync(BASE, folder, anchors(pki), NOW, fetch=server)
    held = SyncState.load(folder).artifacts["notes"]
    assert held["content"] == {"notes": ["first", "second"]}
    assert held["sha256"] == _index()["artifacts"]["notes"]["sha256"]


def test_sync_refuses_a_version_that_does_not_verify_and_keeps_the_state(pki, notes, tmp_path):
    server, folder = _Server(), tmp_path / "state"
    publish(at=NOW)
    sync(BASE, folder, anchors(pki), NOW, fetch=server)
    before = (folder / "state.json").read_bytes()
    _change(notes, NOW, text="second")
    publish(at=NOW + dt.timedelta(seconds=1))
    path = publish_root() / _index()["artifacts"]["notes"]["path"]
    path.write_bytes(path.read_bytes().replace(b".", b".A", 1))
    with pytest.raises(VerificationError):
        sync(BASE, folder, anchors(pki), NOW, fetch=server)
    assert (folder / "state.json").read_bytes() == before


class _Named:
    def __init__(self, name: str, kinds: set[str]) -> None:
        self.name, self.change_kinds = name, frozenset(kinds)

    def full(self) -> dict:
        return {}


@pytest.mark.parametrize("name", ["delta", "trustlist", "Rules", "a/b", "x" * 33, ""])
def test_a_provider_cannot_take_a_reserved_or_unsafe_name(name):
    with pytest.raises(ImproperlyConfigured):
        register_named_content(_Named(name, {"K"}))


def test_two_providers_cannot_share_a_name_or_an_outbox_kind():
    first = _Named("batches", {"BATCH"})
    register_named_content(first)
    try:
        with pytest.raises(ImproperlyConfigured):
            register_named_content(_Named("batches", {"OTHER"}))
        with pytest.raises(ImproperlyConfigured):
            register_named_content(_Named("lists", {"BATCH"}))
        with pytest.raises(ImproperlyConfigured):
            register_named_content(_Named("lists", {"RULE"}))  # the rules app's outbox kind
        register_named_content(first)  # the same provider again (a second ready()) is harmless
    finally:
        unregister_named_content("batches")
