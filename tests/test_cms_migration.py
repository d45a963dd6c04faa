"""CMS migration through DGCG's API (issue 21): ``GET /cms-migration`` lists the caller's DSCs (their
stored detached CMS recombined into an attached one), revocation batches and rules; ``POST``
replaces one entity's CMS by one a renewed UPLOAD key signed. Every type and every code of DGCG's
controller, and the deliberate difference: the new payload must equal the stored one for a DSC
too, so a DSC cannot be swapped. Every refusal is a 4xx with a named reason, stores nothing and
is one audit event. (End to end, with the publication and a verifier: test_cms_migration_e2e.py;
the admin: test_cms_migration_admin.py.)"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass

import pytest
import time_machine

from countries.models import Role
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.outbox.models import Change
from gateway.pki import cms, issuance
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason
from gateway.pki.issuance import Issued
from revocation.models import RevocationBatch
from rules.models import ValidationRule
from tests.factory import NOW, CountryPki, Pki
from tests.helpers import revoke, upload
from tests.test_revocation_api import batch, delete_batch, grant, post_batch
from tests.test_rules_api import post_rule, rule_for
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db
ROLES = (Role.REVOCATION_UPLOADER, Role.REVOCATION_LIST_READER, Role.REVOCATION_DELETER)


@dataclass
class World:
    xa: CountryPki
    xb: CountryPki
    new: Issued  # XA's renewed UPLOAD certificate, onboarded beside the old one


def renew_upload(pki: Pki, country: CountryPki, *, days: int = 365, at: dt.datetime = NOW) -> Issued:
    """A new UPLOAD certificate of ``country``, onboarded beside the one it replaces."""
    issued = issuance.issue(issuance.name(f"{country.code} upload (renewed)", country.code), at=at, days=days)
    pki.onboard(country.code, "UPLOAD", issued)
    return issued


@pytest.fixture
def world(client, pki, xa, xb) -> World:
    """XA and XB each with two DSCs, a rule and a revocation batch; XA's UPLOAD key renewed."""
    for country in (xa, xb):
        grant(country, *ROLES)
        for _ in range(2):
            assert upload(client, country, country.cms_b64(country.dsc().der)).status_code == 201
        assert post_rule(client, country, rule_for(country.code)).status_code == 201
        assert post_batch(client, country, batch(country.code)).status_code == 201
    return World(xa, xb, renew_upload(pki, xa))


def listed(client, country) -> list[dict]:
    response = client.get("/cms-migration", **country.headers())
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def post(client, country, entity_type: str, entity_id, cms_b64: bytes | str, **members):
    text = cms_b64.decode() if isinstance(cms_b64, bytes) else cms_b64
    body = {"cms": text, "entityId": entity_id, "type": entity_type, **members}
    return client.post("/cms-migration", json.dumps(body), content_type="application/json", **country.headers())


def resigned(country: CountryPki, package: dict, signer: Issued) -> bytes:
    """The package's payload signed afresh by ``signer``: what a country's backend posts."""
    payload = cms.parse_attached(base64.b64decode(package["cms"])).payload
    return country.cms_b64(payload, signer=signer)


def of_type(packages: list[dict], entity_type: str) -> list[dict]:
    return [package for package in packages if package["type"] == entity_type]


def snapshot() -> tuple:
    """Everything a migration may change, to show that a refusal changed none of it."""
    return (
        sorted(SignerCertificate.objects.values_list("pk", "signature", "uploader_thumbprint", "resigned_at")),
        sorted(ValidationRule.objects.values_list("pk", "cms", "signature", "uploader_thumbprint")),
        sorted(RevocationBatch.objects.values_list("pk", "cms", "uploader_thumbprint", "changed", "deleted")),
        Change.objects.count(),
    )


def signer_of(cms_b64: str, content: bytes | None = None) -> bytes:
    der = base64.b64decode(cms_b64)
    message = cms.parse_attached(der) if content is None else cms.verify_detached(der, content)
    return message.signer_der


# --- GET ----------------------------------------------------------------------------------------------------


def test_the_list_is_the_callers_dscs_batches_and_rules_each_with_its_attached_cms(client, world):
    xa = world.xa
    packages = listed(client, xa)
    assert [package["type"] for package in packages] == ["DSC", "DSC", "REVOCATION_LIST", "VALIDATION_RULE"]
    assert all(set(package) == {"cms", "entityId", "type"} for package in packages)
    dscs = SignerCertificate.objects.filter(country="XA").order_by("pk")
    for package, row in zip(of_type(packages, "DSC"), dscs, strict=True):
        # DGCG's #163: the DSC in an attached CMS (its stored detached signature, recombined).
        message = cms.parse_attached(base64.b64decode(package["cms"]))
        assert package["entityId"] == row.pk
        assert message.payload == bytes(row.raw_data)
        assert message.signer_der == xa.upload.der
        assert cms.detach(message.cms_der) == base64.b64decode(row.signature)
    [batch_package] = of_type(packages, "REVOCATION_LIST")
    stored_batch = RevocationBatch.objects.get(country="XA")
    assert (batch_package["entityId"], batch_package["cms"]) == (stored_batch.pk, stored_batch.cms)
    [rule_package] = of_type(packages, "VALIDATION_RULE")
    rule = ValidationRule.objects.get(country="XA")
    assert (rule_package["entityId"], rule_package["cms"]) == (rule.pk, rule.cms)
    # XB's are XB's own.
    assert {package["entityId"] for package in of_type(listed(client, world.xb), "DSC")} == set(
        SignerCertificate.objects.filter(country="XB").values_list("pk", flat=True)
    )


def test_a_revoked_dsc_and_a_deleted_batch_are_not_listed_every_rule_version_is(client, world):
    xa = world.xa
    revoked = xa.dscs[0]
    assert revoke(client, xa, xa.cms_b64(revoked.der)).status_code == 204
    assert delete_batch(client, xa, RevocationBatch.objects.get(country="XA").batch_id).status_code == 204
    assert post_rule(client, xa, rule_for("XA", Version="1.0.1")).status_code == 201
    packages = listed(client, xa)
    assert [package["type"] for package in packages] == ["DSC", "VALIDATION_RULE", "VALIDATION_RULE"]
    assert cms.parse_attached(base64.b64decode(packages[0]["cms"])).payload == xa.dscs[1].der


def test_tng_groups_are_listed_as_dscs_and_a_country_without_anything_gets_an_empty_list(client, pki, xa):
    body = {"cms": xa.cms_b64(xa.dsc().der).decode(), "group": "SIGN", "properties": {}}
    response = client.post("/trustedCertificate", json.dumps(body), content_type="application/json", **xa.headers())
    assert response.status_code == 201, response.content
    assert [package["type"] for package in listed(client, xa)] == ["DSC"]
    xc = pki.country("XC")
    assert listed(client, xc) == []


def test_the_list_needs_an_onboarded_client(client, world):
    response = client.get("/cms-migration")
    assert (response.status_code, response.json()["code"]) == (401, "0x400")


# --- POST: each type re-signed ---------------------------------------------------------------------------------


def test_a_dsc_re_signed_is_served_with_the_new_signature_everywhere(client, world):
    xa, new = world.xa, world.new
    since = (NOW - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    package = of_type(listed(client, xa), "DSC")[0]
    row = SignerCertificate.objects.get(pk=package["entityId"])
    last_change = Change.objects.order_by("-id").values_list("id", flat=True).first()
    assert post(client, xa, "DSC", row.pk, resigned(xa, package, new)).status_code == 204
    row.refresh_from_db()
    der = bytes(row.raw_data)
    assert row.uploader_thumbprint == thumbprint(new.der)
    assert row.resigned_at == NOW
    assert signer_of(row.signature, der) == new.der
    # DGCG's list, its delta and TNG's list serve the new signature; the DSC is still trusted.
    for path, headers in (("/trustList/DSC/XA", {}), ("/trustList/DSC", {"HTTP_IF_MODIFIED_SINCE": since})):
        entries = {e["thumbprint"]: e for e in client.get(path, **xa.headers(**headers)).json()}
        assert entries[row.thumbprint]["rawData"] == base64.b64encode(der).decode()
        assert signer_of(entries[row.thumbprint]["signature"], der) == new.der
    tng = {e["kid"]: e for e in client.get("/trustList/certificate", **xa.headers()).json()}
    assert signer_of(tng[row.kid]["signature"]) == new.der
    # The other DSC is untouched, and the list now carries the new CMS.
    other = SignerCertificate.objects.filter(country="XA").exclude(pk=row.pk).get()
    assert other.uploader_thumbprint == thumbprint(xa.upload.der)
    assert signer_of(of_type(listed(client, xa), "DSC")[0]["cms"]) == new.der
    event = AuditEvent.objects.filter(action=Action.CMS_MIGRATION).get()
    assert (event.outcome, event.country, event.subject_thumbprint) == (Outcome.SUCCESS, "XA", row.thumbprint)
    assert event.uploader_thumbprint == thumbprint(new.der)
    assert event.authentication_thumbprint == xa.auth_thumbprint
    assert event.details["previousUploader"] == thumbprint(xa.upload.der)
    assert list(Change.objects.filter(id__gt=last_change).values_list("kind", "thumbprint")) == [
        ("RESIGN", row.thumbprint)
    ]


def test_a_delta_since_the_upload_lists_a_re_signed_dsc_again(client, world, frozen):
    xa, new = world.xa, world.new
    frozen.shift(dt.timedelta(hours=1))
    since = (NOW + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.get("/trustList/DSC", **xa.headers(HTTP_IF_MODIFIED_SINCE=since)).json() == []
    package = of_type(listed(client, xa), "DSC")[1]
    assert post(client, xa, "DSC", package["entityId"], resigned(xa, package, new)).status_code == 204
    [entry] = client.get("/trustList/DSC", **xa.headers(HTTP_IF_MODIFIED_SINCE=since)).json()
    row = SignerCertificate.objects.get(pk=package["entityId"])
    assert (entry["thumbprint"], entry["timestamp"]) == (row.thumbprint, "2026-06-01T12:00:00Z")  # created then
    assert signer_of(entry["signature"], bytes(row.raw_data)) == new.der


def test_a_rule_re_signed_is_served_with_the_new_cms(client, world):
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), "VALIDATION_RULE")[0]
    assert post(client, xa, "VALIDATION_RULE", package["entityId"], resigned(xa, package, new)).status_code == 204
    rule = ValidationRule.objects.get(pk=package["entityId"])
    assert rule.uploader_thumbprint == thumbprint(new.der)
    assert signer_of(rule.signature, bytes(rule.raw)) == new.der
    [served] = client.get("/rules/XA", **xa.headers()).json()[rule.identifier]
    assert served["cms"] == rule.cms
    assert signer_of(served["cms"]) == new.der
    assert cms.parse_attached(base64.b64decode(served["cms"])).payload == bytes(rule.raw)
    event = AuditEvent.objects.filter(action=Action.CMS_MIGRATION).get()
    assert (event.details["identifier"], event.details["version"]) == (rule.identifier, rule.version)
    assert Change.objects.order_by("-id").values_list("kind", flat=True).first() == "RULE"


def test_a_batch_re_signed_is_served_with_the_new_cms_and_listed_again(client, world, frozen):
    xa, new = world.xa, world.new
    frozen.shift(dt.timedelta(hours=1))
    stored = RevocationBatch.objects.get(country="XA")
    package = of_type(listed(client, xa), "REVOCATION_LIST")[0]
    assert post(client, xa, "REVOCATION_LIST", stored.pk, resigned(xa, package, new)).status_code == 204
    stored.refresh_from_db()
    assert (stored.changed, stored.deleted, stored.uploader_thumbprint) == (
        NOW + dt.timedelta(hours=1),
        False,
        thumbprint(new.der),
    )
    served = client.get(f"/revocation-list/{stored.batch_id}", **xa.headers())
    assert served.status_code == 200
    assert signer_of(served.content.decode()) == new.der
    # DGCG moves `changed`: a client that pages the list by date downloads the batch again.
    since = (NOW + dt.timedelta(minutes=30)).isoformat()
    page = client.get("/revocation-list", **xa.headers(HTTP_IF_MODIFIED_SINCE=since)).json()
    assert [item["batchId"] for item in page["batches"]] == [stored.batch_id]
    assert stored.hashes.count() == 2  # its hashes stay
    assert AuditEvent.objects.filter(action=Action.CMS_MIGRATION).get().details["batchId"] == stored.batch_id


def test_the_same_cms_again_changes_nothing_and_is_answered_alike(client, world):
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), "DSC")[0]
    body = resigned(xa, package, new)
    assert post(client, xa, "DSC", package["entityId"], body).status_code == 204
    before = snapshot()
    assert post(client, xa, "DSC", package["entityId"], body).status_code == 204  # a retry
    assert snapshot() == before
    events = AuditEvent.objects.filter(action=Action.CMS_MIGRATION).order_by("id")
    assert [event.outcome for event in events] == [Outcome.SUCCESS, Outcome.UNCHANGED]


def test_re_signing_with_the_key_that_signed_it_is_allowed(client, world):
    """A country may re-sign with the same UPLOAD key (e.g. to move to a stronger digest)."""
    xa = world.xa
    package = of_type(listed(client, xa), "VALIDATION_RULE")[0]
    assert post(client, xa, "VALIDATION_RULE", package["entityId"], resigned(xa, package, xa.upload)).status_code == 204


def test_an_entity_id_as_a_string_of_digits_is_taken_as_jackson_takes_it(client, world):
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), "DSC")[0]
    assert post(client, xa, "DSC", str(package["entityId"]), resigned(xa, package, new)).status_code == 204


# --- POST: refusals -------------------------------------------------------------------------------------------


def refused(response, status: int, code: str, reason: str, before: tuple, *, action: str = Action.CMS_MIGRATION):
    """A named 4xx refusal that stored nothing and is one audit event."""
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["code"], body["reason"]) == (code, reason), body
    assert snapshot() == before
    [event] = AuditEvent.objects.filter(outcome=Outcome.REJECTED)
    assert (event.action, event.reason, event.country) == (action, reason, "XA")
    return event


def _other(world: World, entity_type: str) -> int:
    """The id of XB's entity of that type."""
    model = {"DSC": SignerCertificate, "REVOCATION_LIST": RevocationBatch, "VALIDATION_RULE": ValidationRule}
    return model[entity_type].objects.filter(country="XB").order_by("pk").values_list("pk", flat=True).first()


@pytest.mark.parametrize(
    ("entity_type", "missing", "country", "payload"),
    [
        ("DSC", "0x010", "0x004", "0x004"),
        ("REVOCATION_LIST", "0x020", "0x021", "0x022"),
        ("VALIDATION_RULE", "0x030", "0x031", "0x032"),
    ],
)
def test_dgcgs_codes_for_each_type(client, world, entity_type, missing, country, payload):
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), entity_type)[0]
    body = resigned(xa, package, new)
    before = snapshot()

    # an entity that does not exist: 409
    event = refused(post(client, xa, entity_type, 10**9, body), 409, missing, Reason.MIGRATION_NOT_FOUND, before)
    assert (event.details["type"], event.details["entityId"]) == (entity_type, str(10**9))
    assert event.uploader_thumbprint == thumbprint(new.der)

    # another country's
    response = post(client, xa, entity_type, _other(world, entity_type), body)
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        400,
        country,
        Reason.MIGRATION_COUNTRY,
    )
    assert response.json()["sendValue"] == f"type:{entity_type} entityId:{_other(world, entity_type)} country:XA"

    # another payload
    other_payload = {
        "DSC": xa.dsc().der,  # a DSC of XA's CSCA that was never uploaded: the swap DGCG allows
        "REVOCATION_LIST": json.dumps(batch("XA", count=3)).encode(),
        "VALIDATION_RULE": json.dumps(rule_for("XA", Version="2.0.0")).encode(),
    }[entity_type]
    response = post(client, xa, entity_type, package["entityId"], xa.cms_b64(other_payload, signer=new))
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        400,
        payload,
        Reason.MIGRATION_PAYLOAD_MISMATCH,
    )
    assert "does not match present payload" in response.json()["details"]
    assert snapshot() == before
    rejected = AuditEvent.objects.filter(action=Action.CMS_MIGRATION, outcome=Outcome.REJECTED)
    assert list(rejected.values_list("reason", flat=True)) == [
        Reason.MIGRATION_NOT_FOUND,
        Reason.MIGRATION_COUNTRY,
        Reason.MIGRATION_PAYLOAD_MISMATCH,
    ]


def test_a_dsc_cannot_be_swapped_by_a_migration(client, world):
    """The deliberate difference from DGCG: its migration repeats the upload's checks on the new
    certificate but does not compare it with the stored one, so a country's TLS and UPLOAD keys
    could replace any of its DSCs by another under the old entry. Here the payload must be the
    stored certificate, byte for byte: MIGRATION_PAYLOAD_MISMATCH, and nothing changes."""
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), "DSC")[0]
    swapped = xa.dsc()  # a valid DSC of XA's own CSCA, which DGCG would take
    before = snapshot()
    trust_list = client.get("/trustList/DSC/XA", **xa.headers()).content
    response = post(client, xa, "DSC", package["entityId"], xa.cms_b64(swapped.der, signer=new))
    refused(response, 400, "0x004", Reason.MIGRATION_PAYLOAD_MISMATCH, before)
    assert client.get("/trustList/DSC/XA", **xa.headers()).content == trust_list
    assert not SignerCertificate.objects.filter(thumbprint=thumbprint(swapped.der)).exists()


def test_a_revoked_dsc_and_a_deleted_batch_cannot_be_re_signed(client, world):
    xa, new = world.xa, world.new
    packages = listed(client, xa)
    dsc, stored_batch = of_type(packages, "DSC")[0], of_type(packages, "REVOCATION_LIST")[0]
    assert revoke(client, xa, xa.cms_b64(xa.dscs[0].der)).status_code == 204
    assert delete_batch(client, xa, RevocationBatch.objects.get(country="XA").batch_id).status_code == 204
    before = snapshot()
    response = post(client, xa, "DSC", dsc["entityId"], resigned(xa, dsc, new))
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        409,
        "0x010",
        Reason.MIGRATION_WITHDRAWN,
    )
    response = post(client, xa, "REVOCATION_LIST", stored_batch["entityId"], resigned(xa, stored_batch, new))
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        409,
        "0x020",
        Reason.MIGRATION_WITHDRAWN,
    )
    assert snapshot() == before
    assert AuditEvent.objects.filter(action=Action.CMS_MIGRATION, outcome=Outcome.REJECTED).count() == 2


def test_a_type_that_names_another_table_finds_nothing(client, world):
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), "VALIDATION_RULE")[0]
    before = snapshot()
    wrong = max(RevocationBatch.objects.values_list("pk", flat=True)) + 1  # no batch has this id
    response = post(client, xa, "REVOCATION_LIST", wrong, resigned(xa, package, new))
    refused(response, 409, "0x020", Reason.MIGRATION_NOT_FOUND, before)


def _detached(xa, package, new) -> bytes:
    payload = cms.parse_attached(base64.b64decode(package["cms"])).payload
    return base64.b64encode(cms.sign(payload, new.certificate, new.key, detached=True))


def _tampered(xa, package, new) -> bytes:
    der = bytearray(base64.b64decode(resigned(xa, package, new)))
    der[-3] ^= 0x01  # inside the signature value
    return base64.b64encode(bytes(der))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda xa, package, new: b"not base64!", Reason.INVALID_BASE64),
        (lambda xa, package, new: base64.b64encode(b"\x30\x03\x02\x01\x01"), Reason.CMS_PARSE),
        (_detached, Reason.CMS_DETACHED),
        (_tampered, Reason.CMS_SIGNATURE_INVALID),
    ],
    ids=["base64", "not-cms", "detached", "bad-signature"],
)
def test_a_cms_that_cannot_be_read_or_does_not_verify_is_0x260(client, world, make, reason):
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), "DSC")[0]
    before = snapshot()
    refused(post(client, xa, "DSC", package["entityId"], make(xa, package, new)), 400, "0x260", reason, before)


def test_the_signer_must_be_a_valid_upload_certificate_of_the_callers_country(client, pki, world):
    xa, xb = world.xa, world.xb
    package = of_type(listed(client, xa), "DSC")[0]
    before = snapshot()

    def attempt(signer: Issued, reason: str) -> None:
        response = post(client, xa, "DSC", package["entityId"], resigned(xa, package, signer))
        assert (response.status_code, response.json()["code"], response.json()["reason"]) == (400, "0x004", reason)
        assert snapshot() == before
        event = AuditEvent.objects.filter(outcome=Outcome.REJECTED).order_by("-id").first()
        assert (event.action, event.reason, event.uploader_thumbprint) == (
            Action.CMS_MIGRATION,
            reason,
            thumbprint(signer.der),
        )

    attempt(xb.upload, Reason.UPLOAD_CERT_UNKNOWN)  # another country's UPLOAD key
    attempt(xa.csca, Reason.UPLOAD_CERT_UNKNOWN)  # XA's, but not an UPLOAD certificate
    stranger = issuance.issue(issuance.name("XA upload, not onboarded", "XA"), at=NOW)
    attempt(stranger, Reason.UPLOAD_CERT_UNKNOWN)
    expired = issuance.issue(
        issuance.name("XA upload, expired", "XA"), at=NOW, not_before=NOW - dt.timedelta(days=400), days=-1
    )
    pki.onboard("XA", "UPLOAD", expired)
    before = snapshot()
    attempt(expired, Reason.UPLOAD_CERT_EXPIRED)


def test_an_older_cms_cannot_undo_a_migration(client, world, frozen):
    """The upload's own CMS (which GET /cms-migration and the lists publish) is by an UPLOAD key
    still onboarded until it is removed: replayed after a migration, it would bring the old
    signature back. A CMS signed before the stored one is refused (ours: MIGRATION_NOT_FRESH)."""
    xa, new = world.xa, world.new
    package = of_type(listed(client, xa), "DSC")[0]
    original = package["cms"]
    frozen.shift(dt.timedelta(minutes=5))
    assert post(client, xa, "DSC", package["entityId"], resigned(xa, package, new)).status_code == 204
    before = snapshot()
    refused(post(client, xa, "DSC", package["entityId"], original), 400, "0x004", Reason.MIGRATION_NOT_FRESH, before)
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        older = resigned(xa, package, new)  # by the new key, but before the stored CMS
    response = post(client, xa, "DSC", package["entityId"], older)
    assert (response.status_code, response.json()["reason"]) == (400, Reason.MIGRATION_NOT_FRESH)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", Reason.MALFORMED_BODY),
        (b"[]", Reason.INVALID_REQUEST),
        (b'{"entityId": 1, "type": "DSC"}', Reason.INVALID_REQUEST),
        (b'{"cms": "", "entityId": 1, "type": "DSC"}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": "one", "type": "DSC"}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": 0, "type": "DSC"}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": true, "type": "DSC"}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": 1.5, "type": "DSC"}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": 9223372036854775808, "type": "DSC"}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": 1, "type": "CSCA"}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": 1, "type": ["DSC"]}', Reason.INVALID_REQUEST),
        (b'{"cms": "AA==", "entityId": 1, "type": "dsc"}', Reason.INVALID_REQUEST),
    ],
)
def test_a_request_of_another_shape_is_refused_by_name(client, world, body, reason):
    before = snapshot()
    response = client.post("/cms-migration", body, content_type="application/json", **world.xa.headers())
    refused(response, 400, "0x001", reason, before, action=Action.REQUEST)


def test_a_body_that_is_not_json_by_its_type_is_415(client, world):
    before = snapshot()
    response = client.post("/cms-migration", b"AA==", content_type="application/cms", **world.xa.headers())
    refused(response, 415, "0x001", Reason.UNSUPPORTED_MEDIA_TYPE, before, action=Action.REQUEST)


def test_a_post_needs_an_onboarded_client(client, world):
    before = snapshot()
    response = client.post("/cms-migration", b"{}", content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (401, "0x400")
    assert snapshot() == before
