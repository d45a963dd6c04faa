"""Revocation batches through DGCG's API (issue 19): upload with every check named, its code 0x000
(0x260 for the CMS), nothing stored on refusal and one audit event; the roles; the list's paging
(``>``, 1,000 a page with ``more``, 204, a required and not future If-Modified-Since); download;
soft deletion (404, 410, 403) and the cleanup; the hashes kept for a distribution in bulk."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid

import pytest

from countries import services as country_services
from countries.models import Role, TrustedParty
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.outbox.models import Change
from gateway.pki import cms
from revocation import listing, services
from revocation.models import RevocationBatch, RevocationHash
from revocation.tasks import clean_up_batches
from tests.factory import NOW
from tests.helpers import upload
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db
ROLES = (Role.REVOCATION_UPLOADER, Role.REVOCATION_LIST_READER, Role.REVOCATION_DELETER)


def grant(country, *roles: Role) -> None:
    party = TrustedParty.objects.get(country=country.code, certificate_type="AUTHENTICATION")
    for role in roles:
        country_services.grant_role(party_id=party.pk, role=role, actor="test", at=NOW)


@pytest.fixture
def rxa(xa):
    """XA with every revocation role."""
    grant(xa, *ROLES)
    return xa


@pytest.fixture
def rxb(xb):
    grant(xb, *ROLES)
    return xb


@pytest.fixture
def kid(client, rxa) -> str:
    """The kid of a DSC XA uploaded."""
    assert upload(client, rxa, rxa.cms_b64(rxa.dsc().der)).status_code == 201
    return SignerCertificate.objects.get(country="XA").kid


def hash_of(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()[:16]).decode()


def batch(country: str = "XA", *, kid: str = "UNKNOWN_KID", count: int = 2, **changes) -> dict:
    value = {
        "country": country,
        "expires": "2026-07-01T00:00:00Z",
        "kid": kid,
        "hashType": "UCI",
        "entries": [{"hash": hash_of(f"URN:UVCI:01:{country}:{number}")} for number in range(count)],
    }
    for key, change in changes.items():
        if change is None:
            value.pop(key)
        else:
            value[key] = change
    return value


def post_batch(client, country, value: dict | bytes, *, signer=None, content_type="application/cms-text"):
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    body = country.cms_b64(raw, signer=signer)
    return client.post("/revocation-list", body, content_type=content_type, **country.headers())


def delete_batch(client, country, batch_id: str | bytes, *, alias: bool = False, signer=None):
    raw = batch_id if isinstance(batch_id, bytes) else json.dumps({"batchId": batch_id}).encode()
    body = country.cms_b64(raw, signer=signer)
    if alias:
        return client.post("/revocation-list/delete", body, content_type="application/cms", **country.headers())
    return client.delete("/revocation-list", body, content_type="application/cms", **country.headers())


def listed(client, country, since: str):
    return client.get("/revocation-list", **country.headers(HTTP_IF_MODIFIED_SINCE=since))


def refused(response, status: int, code: str, reason: str, action: str = Action.REVOCATION_BATCH_UPLOAD) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["code"], body["reason"]) == (code, reason), body
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.outcome, event.reason) == (action, Outcome.REJECTED, reason)


# --- upload ---------------------------------------------------------------------------------------------


def test_a_batch_is_stored_with_its_hashes_and_served_as_signed(client, rxa, kid):
    value = batch(kid=kid, count=3, hashType="COUNTRYCODEUCI")
    response = post_batch(client, rxa, value)
    assert response.status_code == 201, response.content
    batch_id = response["ETag"]
    assert str(uuid.UUID(batch_id)) == batch_id  # a lower-case UUID
    row = RevocationBatch.objects.get()
    assert (row.batch_id, row.country, row.kid, row.hash_type, row.entry_count, row.deleted) == (
        batch_id,
        "XA",
        kid,
        "COUNTRYCODEUCI",
        3,
        False,
    )
    assert row.expires == dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    # The hashes, as 16 raw bytes beside the kid and type: what a distribution reads in bulk.
    stored = set(RevocationHash.objects.filter(kid=kid, hash_type="COUNTRYCODEUCI").values_list("hash", flat=True))
    assert {bytes(value) for value in stored} == {base64.b64decode(entry["hash"]) for entry in value["entries"]}
    served = client.get(f"/revocation-list/{batch_id}", **rxa.headers())
    assert served.status_code == 200
    assert (served["ETag"], served["Content-Type"]) == (batch_id, "application/cms-text")
    assert json.loads(cms.parse_attached(base64.b64decode(served.content)).payload) == value
    event = AuditEvent.objects.filter(action=Action.REVOCATION_BATCH_UPLOAD, outcome=Outcome.SUCCESS).get()
    assert (event.details["batchId"], event.details["entries"], event.country) == (batch_id, 3, "XA")
    assert Change.objects.filter(kind=services.BATCH_CHANGE, country="XA").count() == 1


def test_application_cms_unknown_kid_unknown_properties_and_a_thousand_entries(client, rxa):
    value = batch(count=1000, extra={"ignored": True})  # DGCG ignores unknown properties
    response = post_batch(client, rxa, value, content_type="application/cms")
    assert response.status_code == 201, response.content
    assert RevocationHash.objects.count() == 1000
    assert RevocationBatch.objects.get().kid == "UNKNOWN_KID"


def test_a_revoked_dscs_kid_may_be_named(client, rxa, kid):
    dsc = SignerCertificate.objects.get(kid=kid)
    SignerCertificate.objects.filter(pk=dsc.pk).update(revoked_at=NOW)
    assert post_batch(client, rxa, batch(kid=kid)).status_code == 201


def _tampered(country) -> bytes:
    der = bytearray(country.cms(json.dumps(batch()).encode()))
    der[-3] ^= 1  # a bit of the signature
    return base64.b64encode(bytes(der))


HOSTILE = [
    # (label, the batch or its raw payload, status, code, reason)
    ("not JSON", b"{not json", 400, "0x000", "REVOCATION_NOT_JSON"),
    ("trailing tokens", json.dumps(batch()).encode() + b" {}", 400, "0x000", "REVOCATION_NOT_JSON"),
    ("a JSON array", b"[]", 400, "0x000", "REVOCATION_NOT_JSON"),
    ("NaN", json.dumps(batch(expires=float("nan"))).encode(), 400, "0x000", "REVOCATION_NOT_JSON"),
    ("deep JSON", b"[" * 20_000 + b"]" * 20_000, 400, "0x000", "REVOCATION_NOT_JSON"),
    ("no country", batch(country=None), 400, "0x000", "REVOCATION_SCHEMA"),
    ("expires a number", batch(expires=1), 400, "0x000", "REVOCATION_SCHEMA"),
    ("expires without an offset", batch(expires="2026-07-01T00:00:00"), 400, "0x000", "REVOCATION_SCHEMA"),
    ("expires not a date", batch(expires="soon"), 400, "0x000", "REVOCATION_SCHEMA"),
    ("no kid", batch(kid=None), 400, "0x000", "REVOCATION_SCHEMA"),
    ("entries an object", batch(entries={"hash": hash_of("x")}), 400, "0x000", "REVOCATION_SCHEMA"),
    ("another country", batch("XB"), 403, "0x000", "REVOCATION_COUNTRY"),
    ("expired", batch(expires="2026-06-01T11:59:59Z"), 400, "0x000", "REVOCATION_EXPIRED"),
    ("expiring now", batch(expires="2026-06-01T12:00:00Z"), 400, "0x000", "REVOCATION_EXPIRED"),
    ("no entries", batch(count=0), 400, "0x000", "REVOCATION_ENTRY_COUNT"),
    ("1,001 entries", batch(count=1001), 400, "0x000", "REVOCATION_ENTRY_COUNT"),
    (
        "a hash of 15 bytes",
        batch(entries=[{"hash": base64.b64encode(b"x" * 15).decode()}]),
        400,
        "0x000",
        "REVOCATION_HASH_INVALID",
    ),
    (
        "a hash of 17 bytes",
        batch(entries=[{"hash": base64.b64encode(b"x" * 17).decode()}]),
        400,
        "0x000",
        "REVOCATION_HASH_INVALID",
    ),
    (
        "a hash of 32 bytes",
        batch(entries=[{"hash": base64.b64encode(b"x" * 32).decode()}]),
        400,
        "0x000",
        "REVOCATION_HASH_INVALID",
    ),
    ("a hash unpadded", batch(entries=[{"hash": hash_of("x")[:22]}]), 400, "0x000", "REVOCATION_HASH_INVALID"),
    ("a url-safe hash", batch(entries=[{"hash": "-" * 22 + "=="}]), 400, "0x000", "REVOCATION_HASH_INVALID"),
    ("an entry without hash", batch(entries=[{}]), 400, "0x000", "REVOCATION_HASH_INVALID"),
    ("an entry not an object", batch(entries=[hash_of("x")]), 400, "0x000", "REVOCATION_HASH_INVALID"),
    ("a hash twice", batch(entries=[{"hash": hash_of("x")}] * 2), 400, "0x000", "REVOCATION_HASH_DUPLICATE"),
    # the same 16 bytes spelt twice: base64's last character carries 4 bits the bytes do not keep
    (
        "a hash twice in two spellings",
        batch(entries=[{"hash": "A" * 21 + "A=="}, {"hash": "A" * 21 + "B=="}]),
        400,
        "0x000",
        "REVOCATION_HASH_DUPLICATE",
    ),
    ("no hashType", batch(hashType=None), 400, "0x000", "REVOCATION_HASH_TYPE"),
    ("an unknown hashType", batch(hashType="SHA256"), 400, "0x000", "REVOCATION_HASH_TYPE"),
    ("a hashType in lower case", batch(hashType="uci"), 400, "0x000", "REVOCATION_HASH_TYPE"),
    ("a kid no DSC has", batch(kid="AAAAAAAAAAA="), 400, "0x000", "REVOCATION_KID_UNKNOWN"),
]


@pytest.mark.parametrize(("label", "value", "status", "code", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_batch_is_refused_by_name_storing_nothing(client, rxa, label, value, status, code, reason):
    before = AuditEvent.objects.count()
    refused(post_batch(client, rxa, value), status, code, reason)
    assert AuditEvent.objects.count() == before + 1
    assert (RevocationBatch.objects.count(), RevocationHash.objects.count()) == (0, 0)
    assert not Change.objects.filter(kind=services.BATCH_CHANGE).exists()


def test_another_countrys_kid_is_unknown(client, rxa, rxb):
    assert upload(client, rxb, rxb.cms_b64(rxb.dsc().der)).status_code == 201
    kid_of_xb = SignerCertificate.objects.get(country="XB").kid
    refused(post_batch(client, rxa, batch(kid=kid_of_xb)), 400, "0x000", "REVOCATION_KID_UNKNOWN")
    assert RevocationBatch.objects.count() == 0


SIGNERS = [
    # (label, how the body is made, status, code, reason, action)
    (
        "another country's upload key",
        lambda xa, xb: xa.cms_b64(json.dumps(batch()).encode(), signer=xb.upload),
        403,
        "0x000",
        "UPLOAD_CERT_UNKNOWN",
        Action.REVOCATION_BATCH_UPLOAD,
    ),
    (
        "the authentication key",
        lambda xa, xb: xa.cms_b64(json.dumps(batch()).encode(), signer=xa.auth),
        403,
        "0x000",
        "UPLOAD_CERT_UNKNOWN",
        Action.REVOCATION_BATCH_UPLOAD,
    ),
    (
        "a signature that does not verify",
        lambda xa, xb: _tampered(xa),
        400,
        "0x260",
        None,
        Action.REVOCATION_BATCH_UPLOAD,
    ),
    ("not base64", lambda xa, xb: b"not base64!", 400, "0x260", "INVALID_BASE64", Action.REVOCATION_BATCH_UPLOAD),
    (
        "not a CMS",
        lambda xa, xb: base64.b64encode(b"not a cms"),
        400,
        "0x260",
        "CMS_PARSE",
        Action.REVOCATION_BATCH_UPLOAD,
    ),
    ("oversize", lambda xa, xb: b"A" * (70 * 1024), 413, "0x001", "BODY_TOO_LARGE", Action.REQUEST),
]


@pytest.mark.parametrize(("label", "body", "status", "code", "reason", "action"), SIGNERS, ids=[s[0] for s in SIGNERS])
def test_a_batch_by_the_wrong_signer_or_not_a_cms_is_refused(
    client, rxa, rxb, label, body, status, code, reason, action
):
    before = AuditEvent.objects.count()
    response = client.post("/revocation-list", body(rxa, rxb), content_type="application/cms", **rxa.headers())
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    (event,) = AuditEvent.objects.order_by("leaf_index")[before:]
    assert (event.action, event.outcome) == (action, Outcome.REJECTED)
    assert event.reason == response.json()["reason"] == (reason or event.reason)
    assert RevocationBatch.objects.count() == 0


def test_another_media_type_is_refused(client, rxa):
    response = client.post("/revocation-list", "x", content_type="text/plain", **rxa.headers())
    assert (response.status_code, response.json()["reason"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


# --- roles ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        (Role.REVOCATION_UPLOADER, "post", "/revocation-list"),
        (Role.REVOCATION_LIST_READER, "get", "/revocation-list"),
        (Role.REVOCATION_LIST_READER, "get", f"/revocation-list/{uuid.UUID(int=1)}"),
        (Role.REVOCATION_DELETER, "delete", "/revocation-list"),
        (Role.REVOCATION_DELETER, "post", "/revocation-list/delete"),
    ],
)
def test_each_endpoint_needs_its_role(client, xa, role, method, path):
    grant(xa, *(other for other in ROLES if other != role))  # every role but the one it needs
    body = xa.cms_b64(json.dumps(batch()).encode())
    extra = {"HTTP_IF_MODIFIED_SINCE": "2026-01-01T00:00:00Z"}
    if method == "get":
        response = client.get(path, **xa.headers(**extra))
    else:
        response = getattr(client, method)(path, body, content_type="application/cms", **xa.headers(**extra))
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (403, "0x403", "ROLE_MISSING")
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.reason, event.country) == (Action.AUTHENTICATE, "ROLE_MISSING", "XA")
    assert response.json()["details"] == role
    assert RevocationBatch.objects.count() == 0


def test_without_a_client_certificate_nothing_is_answered(client, rxa):
    assert client.get("/revocation-list", HTTP_IF_MODIFIED_SINCE="2026-01-01T00:00:00Z").status_code == 401


# --- the list -------------------------------------------------------------------------------------------


def _rows(country: str, moments: list[dt.datetime], **fields) -> list[RevocationBatch]:
    return RevocationBatch.objects.bulk_create(
        RevocationBatch(
            batch_id=str(uuid.uuid4()),
            country=country,
            kid="UNKNOWN_KID",
            hash_type="UCI",
            expires=NOW + dt.timedelta(days=30),
            created_at=moment,
            changed=moment,
            cms="",
            entry_count=1,
            uploader_thumbprint="",
            **fields,
        )
        for moment in moments
    )


def test_the_list_names_batches_changed_after_the_date_oldest_first(client, rxa, rxb):
    assert post_batch(client, rxb, batch("XB")).status_code == 201
    response = listed(client, rxa, "2026-05-31T00:00:00Z")
    assert response.status_code == 200
    body = response.json()
    (item,) = body["batches"]
    assert body["more"] is False
    assert item == {
        "batchId": RevocationBatch.objects.get().batch_id,
        "country": "XB",  # every country's batches: a verifier needs them all
        "date": "2026-06-01T12:00:00.000000Z",
        "deleted": False,
    }
    # DGCG's ">" (TNG's ">=" would answer the same batch again to a client paging by its date).
    assert listed(client, rxa, item["date"]).status_code == 204
    assert listed(client, rxa, "2026-06-01T11:59:59.999999Z").json()["batches"] == [item]


def test_the_list_pages_by_a_thousand_with_more(client, rxa):
    start = NOW - dt.timedelta(days=2)
    _rows("XA", [start + dt.timedelta(seconds=number) for number in range(1001)])
    first = listed(client, rxa, "2026-05-01T00:00:00Z").json()
    assert (len(first["batches"]), first["more"]) == (1000, True)
    dates = [item["date"] for item in first["batches"]]
    assert dates == sorted(dates)
    second = listed(client, rxa, dates[-1]).json()
    assert (len(second["batches"]), second["more"]) == (1, False)
    assert second["batches"][0]["date"] == listing.render_date(start + dt.timedelta(seconds=1000))


def test_a_page_never_ends_inside_one_moment():
    start = NOW - dt.timedelta(days=2)
    same = start + dt.timedelta(hours=1)
    _rows("XA", [start + dt.timedelta(seconds=number) for number in range(3)] + [same] * 3)
    page, more = listing.page_after(start - dt.timedelta(seconds=1), size=4)
    assert ([row.changed for row in page], more) == ([start + dt.timedelta(seconds=n) for n in range(3)], True)
    page, more = listing.page_after(page[-1].changed, size=2)  # the moment fills the page: given whole
    assert ([row.changed for row in page], more) == ([same] * 3, True)
    page, more = listing.page_after(same, size=2)
    assert (page, more) == ([], False)


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 400, "REVOCATION_SINCE_MISSING"),
        ({"HTTP_IF_MODIFIED_SINCE": "2026-06-01T12:00:01Z"}, 400, "REVOCATION_SINCE_FUTURE"),
        ({"HTTP_IF_MODIFIED_SINCE": "yesterday"}, 400, "INVALID_DATE"),
    ],
)
def test_the_list_needs_a_readable_date_not_in_the_future(client, rxa, headers, status, reason):
    response = client.get("/revocation-list", **rxa.headers(**headers))
    assert (response.status_code, response.json()["reason"]) == (status, reason)
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.outcome, event.reason, event.country) == (
        Action.REQUEST,
        Outcome.REJECTED,
        reason,
        "XA",
    )


def test_an_rfc_1123_date_is_read_too(client, rxa):
    _rows("XA", [NOW - dt.timedelta(hours=1)])
    assert listed(client, rxa, "Mon, 01 Jun 2026 10:00:00 GMT").json()["more"] is False


# --- download and deletion ------------------------------------------------------------------------------


def test_download_of_an_unknown_or_malformed_batch(client, rxa):
    response = client.get(f"/revocation-list/{uuid.uuid4()}", **rxa.headers())
    assert (response.status_code, response.json()["problem"], response.json()["code"]) == (
        404,
        "Batch does not exist.",
        "0x000",
    )
    response = client.get(f"/revocation-list/{str(uuid.uuid4()).upper()}", **rxa.headers())
    assert (response.status_code, response.json()["reason"]) == (400, "REVOCATION_BATCH_ID_INVALID")


@pytest.mark.parametrize("alias", [False, True])
def test_deletion_is_soft_and_listed(client, rxa, alias, frozen):
    batch_id = post_batch(client, rxa, batch())["ETag"]
    frozen.move_to(NOW + dt.timedelta(minutes=5))
    assert delete_batch(client, rxa, batch_id, alias=alias).status_code == 204
    row = RevocationBatch.objects.get()
    assert (row.deleted, row.cms, row.changed) == (True, "", NOW + dt.timedelta(minutes=5))
    assert RevocationHash.objects.count() == 0  # nothing left to distribute
    response = client.get(f"/revocation-list/{batch_id}", **rxa.headers())
    assert (response.status_code, response.json()["problem"], response.json()["reason"]) == (
        410,
        "Batch already deleted.",
        "REVOCATION_BATCH_DELETED",
    )
    (item,) = listed(client, rxa, "2026-06-01T12:00:00Z").json()["batches"]  # moved past the upload
    assert (item["batchId"], item["deleted"]) == (batch_id, True)
    event = AuditEvent.objects.filter(action=Action.REVOCATION_BATCH_DELETE, outcome=Outcome.SUCCESS).get()
    assert (event.details["batchId"], event.authentication_thumbprint) == (batch_id, rxa.auth_thumbprint)
    assert Change.objects.filter(kind=services.BATCH_CHANGE).count() == 2


def test_deletion_refusals(client, rxa, rxb):
    of_xb = post_batch(client, rxb, batch("XB"))["ETag"]
    action = Action.REVOCATION_BATCH_DELETE
    refused(delete_batch(client, rxa, of_xb), 403, "0x000", "REVOCATION_BATCH_COUNTRY", action)
    refused(delete_batch(client, rxa, str(uuid.uuid4())), 404, "0x000", "REVOCATION_BATCH_NOT_FOUND", action)
    refused(delete_batch(client, rxa, of_xb.upper()), 400, "0x000", "REVOCATION_BATCH_ID_INVALID", action)
    refused(delete_batch(client, rxa, b"{"), 400, "0x000", "REVOCATION_NOT_JSON", action)
    refused(delete_batch(client, rxa, of_xb, signer=rxb.upload), 403, "0x000", "UPLOAD_CERT_UNKNOWN", action)
    assert delete_batch(client, rxb, of_xb).status_code == 204
    refused(delete_batch(client, rxb, of_xb), 410, "0x000", "REVOCATION_BATCH_DELETED", action)
    assert AuditEvent.objects.filter(action=action, outcome=Outcome.SUCCESS).count() == 1


# --- cleanup --------------------------------------------------------------------------------------------


def test_the_cleanup_marks_expired_batches_deleted_then_purges_after_14_days(client, rxa, frozen, settings):
    assert settings.GATEWAY_REVOCATION_PURGE_DAYS == 14  # DGCG's delete-threshold
    soon = post_batch(client, rxa, batch(expires="2026-06-02T00:00:00Z"))["ETag"]
    later = post_batch(client, rxa, batch(expires="2026-08-01T00:00:00Z", entries=[{"hash": hash_of("y")}]))["ETag"]
    assert clean_up_batches() == (0, 0)
    frozen.move_to(dt.datetime(2026, 6, 3, tzinfo=dt.UTC))
    assert clean_up_batches() == (1, 0)
    expired = RevocationBatch.objects.get(batch_id=soon)
    assert (expired.deleted, expired.cms, expired.changed) == (True, "", dt.datetime(2026, 6, 3, tzinfo=dt.UTC))
    assert list(RevocationHash.objects.values_list("batch__batch_id", flat=True)) == [later]
    event = AuditEvent.objects.filter(action=Action.REVOCATION_BATCH_EXPIRED).get()
    assert (event.country, event.details["batchId"]) == ("XA", soon)
    assert client.get(f"/revocation-list/{soon}", **rxa.headers()).status_code == 410
    frozen.move_to(dt.datetime(2026, 6, 16, 23, tzinfo=dt.UTC))  # 13 days and 23 hours later: kept
    assert clean_up_batches() == (0, 0)
    frozen.move_to(dt.datetime(2026, 6, 17, tzinfo=dt.UTC))
    assert clean_up_batches() == (0, 1)
    assert list(RevocationBatch.objects.values_list("batch_id", flat=True)) == [later]
    purge = AuditEvent.objects.filter(action=Action.REVOCATION_BATCH_PURGE).get()
    assert purge.details["batchIds"] == [soon]
    assert client.get(f"/revocation-list/{soon}", **rxa.headers()).status_code == 404
    # Two uploads and the expiry, each scoped to its group; the purge changes no group's hashes.
    scopes = list(Change.objects.filter(kind=services.BATCH_CHANGE).values_list("scope", flat=True))
    assert scopes == ["XA UNKNOWN_KID"] * 3


def test_the_cleanup_purges_a_deleted_batch_by_its_deletion_date(client, rxa, frozen):
    batch_id = post_batch(client, rxa, batch())["ETag"]
    frozen.move_to(NOW + dt.timedelta(days=10))
    assert delete_batch(client, rxa, batch_id).status_code == 204
    frozen.move_to(NOW + dt.timedelta(days=20))  # 20 days after the upload, 10 after the deletion
    assert services.clean_up(at=NOW + dt.timedelta(days=20), purge_after=dt.timedelta(days=14)) == (0, 0)
    assert services.clean_up(at=NOW + dt.timedelta(days=24), purge_after=dt.timedelta(days=14)) == (0, 1)
    assert not RevocationBatch.objects.exists()


def test_the_cleanup_is_scheduled(settings):
    assert settings.CELERY_BEAT_SCHEDULE["revocation-cleanup"]["task"] == clean_up_batches.name


def test_hashes_round_trip_as_raw_bytes(client, rxa):
    assert post_batch(client, rxa, batch(count=1)).status_code == 201
    (value,) = RevocationHash.objects.values_list("hash", flat=True)
    assert bytes(value) == hashlib.sha256(b"URN:UVCI:01:XA:0").digest()[:16]
