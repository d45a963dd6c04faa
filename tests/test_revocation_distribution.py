"""Revoked DCCs published for verifiers (issue 19): a batch uploaded through the API becomes the
partition files of its group (one country, one kid) under the signed index's ``dcc-revocations``
manifest; a verifier syncing the folder refuses the revoked code with DCC_REVOKED and accepts
another code of the same DSC; a change rewrites only its group, and a verifier downloads only the
parts it does not hold; deletion and expiry take a group out; tampered parts, on the mirror or in
the verifier's folder, are refused by name; pruning removes the parts no manifest in use names."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from publication.models import Publication
from publication.pruning import RETAIN_SECONDS
from publication.service import publish
from revocation import content as revocation_content
from revocation.tasks import clean_up_batches
from tests.factory import NOW
from tests.helpers import upload
from tests.publishing import anchors, install_publisher, publish_root
from tests.test_named_artifacts import BASE, _Server
from tests.test_revocation_api import ROLES, batch, delete_batch, grant, post_batch
from tests.test_verifier_e2e import DCC
from trustlist.models import SignerCertificate
from verifier import sources
from verifier.descriptors import part_path
from verifier.hcert import verify_hc1
from verifier.issue import issue_hc1
from verifier.reasons import PublicationReason, Reason, Step, VerificationError
from verifier.revocation_hashes import revocation_hash
from verifier.revocation_parts import PARTS_FOLDER, REVOCATION_ARTIFACT, parse_manifest
from verifier.sync import SyncState, sync

pytestmark = pytest.mark.django_db(transaction=True)
SECOND = dt.timedelta(seconds=1)


class World:
    def __init__(self, client, pki, frozen, tmp_path) -> None:
        self.client, self.pki, self.frozen = client, pki, frozen
        self.xa = pki.country("XA")
        grant(self.xa, *ROLES)
        self.dsc = self.xa.dsc()
        assert upload(client, self.xa, self.xa.cms_b64(self.dsc.der)).status_code == 201
        self.kid = SignerCertificate.objects.get(country="XA").kid
        self.server = _Server()
        self.folder = tmp_path / "verifier"
        self.at = NOW

    def code(self, ci: str) -> str:
        payload = {**DCC, "v": [{**DCC["v"][0], "ci": ci}]}
        return issue_hc1(
            payload, self.dsc.certificate, self.dsc.key, iat=NOW, exp=NOW + dt.timedelta(days=30), issuer="XA"
        )

    def revoke(self, *cis: str, kid: str | None = None, **changes) -> str:
        value = batch(kid=kid or self.kid, count=0, **changes)
        value["entries"] = [{"hash": _b64(revocation_hash(ci.encode()))} for ci in cis]
        response = post_batch(self.client, self.xa, value)
        assert response.status_code == 201, response.content
        return response["ETag"]

    def publish(self) -> Publication:
        self.at += SECOND
        self.frozen.move_to(self.at)
        publication = publish(at=self.at, force=True)
        assert publication is not None
        return publication

    def sync(self):
        self.server.requests.clear()
        return sync(BASE, self.folder, anchors(self.pki), self.at, fetch=self.server)

    def verify(self, code: str):
        source = sources.from_state(self.folder)
        return verify_hc1(code, source.store, self.at, revoked_hashes=source.revoked_hashes)

    def manifest(self) -> dict:
        return SyncState.load(self.folder).artifacts[REVOCATION_ARTIFACT]["content"]


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@pytest.fixture
def world(client, pki, frozen, tmp_path) -> World:
    install_publisher(pki)
    return World(client, pki, frozen, tmp_path)


def test_a_revoked_code_is_refused_after_a_sync_another_of_the_same_dsc_is_valid(world):
    revoked, kept = world.code("URN:UVCI:01:XA:REVOKED"), world.code("URN:UVCI:01:XA:KEPT")
    world.publish()
    world.sync()
    assert world.verify(revoked).valid  # nothing revoked yet
    assert world.manifest()["groups"] == []

    world.revoke("URN:UVCI:01:XA:REVOKED")
    world.publish()
    world.sync()
    result = world.verify(revoked)
    assert not result.valid
    step = result.step(Step.REVOCATION)
    assert step.reason is Reason.DCC_REVOKED
    assert "revoked by XA: the UCI hash of v[0].ci" in step.detail
    assert world.verify(kept).valid
    (group,) = world.manifest()["groups"]
    assert (group["country"], group["kid"], group["hashes"], group["group"]) == (
        "XA",
        world.kid,
        1,
        f"XA {world.kid}",
    )
    assert sources.from_state(world.folder).summary(world.at)["revokedDccHashes"] == 1


def test_deletion_and_expiry_take_a_group_out_and_the_code_verifies_again(world):
    code = world.code("URN:UVCI:01:XA:1")
    batch_id = world.revoke("URN:UVCI:01:XA:1")
    world.revoke("URN:UVCI:01:XA:2", kid="UNKNOWN_KID", expires="2026-06-10T00:00:00Z")
    world.publish()
    world.sync()
    assert world.verify(code).step(Step.REVOCATION).reason is Reason.DCC_REVOKED
    # The manifest lists groups by scope ("XA <kid>"): where the random kid's base64 sorts is chance.
    assert sorted(g["kid"] for g in world.manifest()["groups"]) == sorted(["UNKNOWN_KID", world.kid])
    assert not world.verify(world.code("URN:UVCI:01:XA:2")).valid  # under UNKNOWN_KID: any DSC

    assert delete_batch(world.client, world.xa, batch_id).status_code == 204
    world.publish()
    world.sync()
    assert world.verify(code).valid
    assert [g["kid"] for g in world.manifest()["groups"]] == ["UNKNOWN_KID"]

    world.at = dt.datetime(2026, 6, 10, 0, 0, 1, tzinfo=dt.UTC)
    world.frozen.move_to(world.at)
    assert clean_up_batches() == (1, 0)  # the beat's cleanup: the batch expired
    world.publish()
    world.sync()
    assert world.manifest()["groups"] == []
    assert world.verify(world.code("URN:UVCI:01:XA:2")).valid
    assert not list((world.folder / PARTS_FOLDER).iterdir())  # parts no manifest names are dropped


def test_a_change_reads_and_rewrites_only_its_group_and_a_verifier_fetches_only_new_parts(world, monkeypatch):
    world.revoke(*(f"URN:UVCI:01:XA:A{n}" for n in range(200)))
    world.revoke(*(f"URN:UVCI:01:XA:U{n}" for n in range(200)), kid="UNKNOWN_KID")
    world.publish()
    world.sync()
    before = {g["group"]: g["parts"] for g in world.manifest()["groups"]}

    asked = []
    original = revocation_content.RevokedHashesContent.groups

    def spy(self, scopes):
        asked.append(None if scopes is None else sorted(scopes))
        return original(self, scopes)

    monkeypatch.setattr(revocation_content.RevokedHashesContent, "groups", spy)
    world.revoke("URN:UVCI:01:XA:A-late")
    world.publish()
    assert asked == [[f"XA {world.kid}"]]
    world.sync()
    after = {g["group"]: g["parts"] for g in world.manifest()["groups"]}
    assert after["XA UNKNOWN_KID"] == before["XA UNKNOWN_KID"]
    assert after[f"XA {world.kid}"] != before[f"XA {world.kid}"]
    fetched = [path for path in world.server.requests if path.startswith("parts/")]
    assert fetched == [part_path(REVOCATION_ARTIFACT, part["sha256"]) for part in after[f"XA {world.kid}"]]


def test_a_tampered_part_on_the_mirror_is_refused_and_the_state_held_is_kept(world):
    world.publish()
    world.sync()
    held = (world.folder / "state.json").read_bytes()
    world.revoke("URN:UVCI:01:XA:1")
    world.publish()
    (group,) = _published_manifest()["groups"]
    path = publish_root() / part_path(REVOCATION_ARTIFACT, group["parts"][0]["sha256"])
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(VerificationError) as caught:
        world.sync()
    assert caught.value.reason is PublicationReason.HASH_MISMATCH
    assert (world.folder / "state.json").read_bytes() == held


def test_a_part_damaged_in_the_verifiers_folder_is_refused_on_load(world):
    world.revoke("URN:UVCI:01:XA:1")
    world.publish()
    world.sync()
    (part,) = (world.folder / PARTS_FOLDER).iterdir()
    data = bytearray(part.read_bytes())
    data[30] ^= 1
    part.write_bytes(bytes(data))
    with pytest.raises(sources.SourceError) as caught:
        sources.from_state(world.folder)
    assert caught.value.reason == PublicationReason.HASH_MISMATCH
    part.unlink()
    with pytest.raises(sources.SourceError):
        sources.from_state(world.folder)
    world.sync()  # the next sync with a change fetches what is missing


def test_pruning_removes_parts_no_manifest_in_use_names(world):
    world.revoke("URN:UVCI:01:XA:1")
    world.publish()
    first = {p["sha256"] for g in _published_manifest()["groups"] for p in g["parts"]}
    world.revoke("URN:UVCI:01:XA:2")
    world.publish()
    second = {p["sha256"] for g in _published_manifest()["groups"] for p in g["parts"]}
    assert first.isdisjoint(second)
    on_disk = {path.name for path in (publish_root() / "parts" / REVOCATION_ARTIFACT).iterdir()}
    assert first | second <= on_disk  # the first is named by an index issued within RETAIN_SECONDS
    world.at += dt.timedelta(seconds=RETAIN_SECONDS + 1)
    world.publish()
    on_disk = {path.name for path in (publish_root() / "parts" / REVOCATION_ARTIFACT).iterdir()}
    assert on_disk == second


def test_the_manifest_is_checked_member_by_member():
    good = {
        "version": 1,
        "format": "DRH2",
        "groups": [
            {
                "group": "XA x",
                "country": "XA",
                "kid": "AAAA",
                "hashes": 1,
                "parts": [{"sha256": "a" * 64, "length": 40}],
            }
        ],
    }
    assert parse_manifest(good)[0].kid == b"\0\0\0"
    group = good["groups"][0]
    for bad in (
        {**good, "version": 2},
        {**good, "format": "DRH1"},
        {**good, "groups": {}},
        {**good, "groups": [{**group, "country": "xa"}]},
        {**good, "groups": [{**group, "kid": "not base64!"}]},
        {**good, "groups": [{**group, "hashes": -1}]},
        {**good, "groups": [{**group, "parts": []}]},
        {**good, "groups": [{**group, "parts": [{"sha256": "A" * 64, "length": 40}]}]},
        {**good, "groups": [{**group, "parts": [{"sha256": "a" * 64, "length": 0}]}]},
        {**good, "groups": [{**group, "parts": [{"sha256": "a" * 64, "length": 2**40}]}]},
        {**good, "groups": [group, group]},
        {**good, "groups": [{k: v for k, v in group.items() if k != "parts"}]},
        [],
    ):
        with pytest.raises(VerificationError) as caught:
            parse_manifest(bad)
        assert caught.value.reason is PublicationReason.MALFORMED_PAYLOAD


def _published_manifest() -> dict:
    index = (publish_root() / "index.jws").read_bytes().split(b".")[1]
    descriptor = json.loads(base64.urlsafe_b64decode(index + b"=" * (-len(index) % 4)))["artifacts"][
        REVOCATION_ARTIFACT
    ]
    named = (publish_root() / descriptor["path"]).read_bytes().split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(named + b"=" * (-len(named) % 4)))["content"]
