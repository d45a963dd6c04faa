"""Downloads: DGCG /trustList (fields, types, paging, deltas), TNG /trustList/certificate,
/countrylist, conditional requests, and that every served signature verifies with OpenSSL."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import operator
import re
import subprocess

import pytest

from countries.models import TrustedParty
from gateway.pki.certs import kid, thumbprint
from tests.factory import NOW
from tests.helpers import assert_problem, revoke, upload
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db

CLASSIC_FIELDS = {"kid", "timestamp", "country", "certificateType", "thumbprint", "signature", "rawData"}
TNG_FIELDS = {"certificate", "signature", "kid", "group", "country", "properties", "uuid", "domain", "version"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _upload_dscs(client, country, n: int):
    dscs = [country.dsc() for _ in range(n)]
    for dsc in dscs:
        assert upload(client, country, country.cms_b64(dsc.der)).status_code == 201
    return dscs


def test_classic_wire_format(client, xa, xb):
    _upload_dscs(client, xa, 2)
    body = client.get("/trustList", **xa.headers()).json()
    assert len(body) == 6 + 2  # AUTHENTICATION, UPLOAD, CSCA of two countries + 2 DSCs
    for entry in body:
        assert set(entry) == CLASSIC_FIELDS
        assert isinstance(entry["kid"], str)
        assert len(entry["kid"]) == 12
        assert TIMESTAMP.match(entry["timestamp"])
        assert re.fullmatch(r"[0-9a-f]{64}", entry["thumbprint"])
        der = base64.b64decode(entry["rawData"])
        assert thumbprint(der) == entry["thumbprint"]
        assert kid(der) == entry["kid"]
    assert [e["kid"] for e in body] == sorted(e["kid"] for e in body)
    assert {e["certificateType"] for e in body} == {"AUTHENTICATION", "UPLOAD", "CSCA", "DSC"}


def _openssl_verifies(signature_b64: str, content: bytes, tmp_path) -> bool:
    sig, data = tmp_path / "sig.der", tmp_path / "data.der"
    sig.write_bytes(base64.b64decode(signature_b64))
    data.write_bytes(content)
    result = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(sig),
            "-content",
            str(data),
            "-noverify",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def test_every_served_signature_verifies_with_openssl(client, xa, tmp_path):
    _upload_dscs(client, xa, 1)
    body = client.get("/trustList", **xa.headers()).json()
    for entry in body:
        assert _openssl_verifies(entry["signature"], base64.b64decode(entry["rawData"]), tmp_path), entry
    # and a tampered certificate does not verify against the served signature
    entry = body[0]
    tampered = bytearray(base64.b64decode(entry["rawData"]))
    tampered[-1] ^= 1
    assert not _openssl_verifies(entry["signature"], bytes(tampered), tmp_path)


@pytest.mark.parametrize("spelling", ["DSC", "dsc", "Dsc"])
def test_type_is_case_insensitive(client, xa, spelling):
    _upload_dscs(client, xa, 1)
    body = client.get(f"/trustList/{spelling}", **xa.headers()).json()
    assert [e["certificateType"] for e in body] == ["DSC"]


@pytest.mark.parametrize("certificate_type", ["AUTHENTICATION", "UPLOAD", "CSCA"])
def test_type_and_country_filters(client, xa, xb, certificate_type):
    body = client.get(f"/trustList/{certificate_type}/xb", **xa.headers()).json()
    assert [(e["certificateType"], e["country"]) for e in body] == [(certificate_type, "XB")]


def test_bad_type_and_country_are_400(client, xa):
    assert_problem(client.get("/trustList/NOPE", **xa.headers()), 400, "0x001", "INVALID_TYPE")
    assert_problem(client.get("/trustList/DSC/XAA", **xa.headers()), 400, "0x001", "INVALID_COUNTRY")


def test_paging(client, xa):
    _upload_dscs(client, xa, 5)
    full = client.get("/trustList/DSC", **xa.headers()).json()
    pages = [client.get(f"/trustList/DSC?page={p}&pagesize=2", **xa.headers()).json() for p in range(4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert functools.reduce(operator.iadd, pages, []) == full
    assert len(client.get("/trustList/DSC?page=0", **xa.headers()).json()) == 5  # default size 100
    assert len(client.get("/trustList/DSC?pagesize=3", **xa.headers()).json()) == 3  # default page 0


@pytest.mark.parametrize("query", ["page=-1", "pagesize=0", "page=x", "pagesize=1.5"])
def test_bad_paging_is_400_not_500(client, xa, query):
    assert_problem(client.get(f"/trustList?{query}", **xa.headers()), 400, "0x001", "INVALID_PAGING")


def test_delta_includes_new_and_revoked_dscs(client, xa, frozen):
    old, revoked_later = _upload_dscs(client, xa, 2)
    frozen.shift(dt.timedelta(hours=2))
    since = NOW + dt.timedelta(hours=1)
    new = _upload_dscs(client, xa, 1)[0]
    assert revoke(client, xa, xa.cms_b64(revoked_later.der)).status_code == 204

    for header in (
        since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        since.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        since.isoformat(),
    ):
        body = client.get("/trustList/DSC", HTTP_IF_MODIFIED_SINCE=header, **xa.headers()).json()
        by_thumbprint = {e["thumbprint"]: e for e in body}
        assert set(by_thumbprint) == {thumbprint(new.der), thumbprint(revoked_later.der)}, header
        gone = by_thumbprint[thumbprint(revoked_later.der)]
        assert gone["rawData"] is None
        assert gone["signature"] is None
        assert gone["kid"] == kid(revoked_later.der)
        assert gone["timestamp"] == "2026-06-01T12:00:00Z"  # creation time, as DGCG
        assert by_thumbprint[thumbprint(new.der)]["rawData"] is not None

    full = client.get("/trustList/DSC", **xa.headers()).json()
    assert {e["thumbprint"] for e in full} == {thumbprint(old.der), thumbprint(new.der)}


def test_delta_of_trusted_parties_uses_creation_time(client, xa, frozen):
    frozen.shift(dt.timedelta(days=1))
    body = client.get("/trustList/CSCA", HTTP_IF_MODIFIED_SINCE="2026-06-01T13:00:00Z", **xa.headers()).json()
    assert body == []
    body = client.get("/trustList/CSCA", HTTP_IF_MODIFIED_SINCE="2026-06-01T11:00:00Z", **xa.headers()).json()
    assert len(body) == 1


def test_unparsable_if_modified_since_is_400(client, xa):
    assert_problem(
        client.get("/trustList", HTTP_IF_MODIFIED_SINCE="yesterday", **xa.headers()), 400, "0x001", "INVALID_DATE"
    )


def test_etag_and_304(client, xa):
    first = client.get("/trustList", **xa.headers())
    etag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{64}"', etag)
    assert first["Cache-Control"]
    again = client.get("/trustList", HTTP_IF_NONE_MATCH=etag, **xa.headers())
    assert again.status_code == 304
    assert again.content == b""
    _upload_dscs(client, xa, 1)
    changed = client.get("/trustList", HTTP_IF_NONE_MATCH=etag, **xa.headers())
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_rendered_list_follows_every_change(client, xa):
    assert client.get("/trustList/DSC", **xa.headers()).json() == []
    (dsc,) = _upload_dscs(client, xa, 1)
    assert len(client.get("/trustList/DSC", **xa.headers()).json()) == 1
    revoke(client, xa, xa.cms_b64(dsc.der))
    assert client.get("/trustList/DSC", **xa.headers()).json() == []


def test_trusted_party_edited_in_database_drops_out_of_the_list(client, xa):
    TrustedParty.objects.filter(thumbprint=thumbprint(xa.csca.der)).update(signature=base64.b64encode(b"x").decode())
    from gateway.outbox.services import record_change

    record_change(kind="TEST", at=NOW)  # a later change re-renders; the edited row must not come back
    body = client.get("/trustList/CSCA", **xa.headers()).json()
    assert body == []


def test_countrylist(client, xa, xb):
    assert client.get("/countrylist", **xa.headers()).json() == ["XA", "XB"]


def test_downloads_need_authentication(client, xa):
    for url in ("/trustList", "/trustList/DSC", "/trustList/certificate", "/countrylist"):
        assert_problem(client.get(url), 401, "0x400")


# --- TNG --------------------------------------------------------------------------------------


def _tng_upload(client, country, dsc, **fields):
    payload = {"cms": country.cms_b64(dsc.der).decode(), "properties": {}, **fields}
    return client.post("/trustedCertificate", payload, content_type="application/json", **country.headers())


def test_tng_trusted_certificate_upload_and_download(client, xa, tmp_path):
    dsc = xa.dsc()
    response = _tng_upload(
        client, xa, dsc, kid="custom-kid-1", group="SIGN", domain="DICVP", properties={"purpose": "test"}
    )
    assert response.status_code == 201, response.content
    body = client.get("/trustList/certificate?group=SIGN", **xa.headers()).json()
    assert len(body) == 1
    entry = body[0]
    assert set(entry) == TNG_FIELDS
    assert (entry["kid"], entry["group"], entry["domain"], entry["country"]) == ("custom-kid-1", "SIGN", "DICVP", "XA")
    assert entry["properties"] == {"purpose": "test"}
    assert base64.b64decode(entry["certificate"]) == dsc.der
    # TNG serves the uploader's attached CMS; it verifies and carries the DSC.
    cms_file = tmp_path / "att.der"
    cms_file.write_bytes(base64.b64decode(entry["signature"]))
    out = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(cms_file), "-noverify"],
        capture_output=True,
        check=False,
    )
    assert out.returncode == 0
    assert out.stdout == dsc.der


def test_tng_filters(client, xa, xb):
    _upload_dscs(client, xa, 1)
    _upload_dscs(client, xb, 1)
    get = lambda query: client.get(f"/trustList/certificate?{query}", **xa.headers()).json()  # noqa: E731
    assert {(e["group"], e["country"]) for e in get("group=DSC")} == {("DSC", "XA"), ("DSC", "XB")}
    assert {e["country"] for e in get("group=DSC&country=XB")} == {"XB"}
    assert {e["group"] for e in get("group=CSCA,UPLOAD&country=XA")} == {"CSCA", "UPLOAD"}
    assert {e["group"] for e in get("group=CSCA&group=DSC&country=XA")} == {"CSCA", "DSC"}
    assert get("group=UNKNOWN") == []
    assert get("domain=PH4H") == []
    assert_problem(client.get("/trustList/certificate?withFederation=maybe", **xa.headers()), 400, "0x001")


@pytest.mark.parametrize("query", ["domain=a%00b", "country=%00", "group=DSC&country=X%01"])
def test_tng_filter_with_control_characters_is_400(client, xa, query):
    # Found by schemathesis through the stack: a NUL in a filter reached PostgreSQL, which
    # cannot hold it in text, and the request failed with a 500.
    response = client.get(f"/trustList/certificate?{query}", **xa.headers())
    assert_problem(response, 400, "0x001", "INVALID_PARAMETER")


@pytest.mark.parametrize("country", ["X1", "%C3%A4A"])
def test_country_in_path_must_be_two_letters(client, xa, country):
    assert_problem(client.get(f"/trustList/DSC/{country}", **xa.headers()), 400, "0x001", "INVALID_COUNTRY")


def test_a_nul_in_the_country_is_refused_before_any_view(client, xa):
    # countries.paths refuses a path with a control character before routing (tests/test_hostile_paths.py).
    response = client.get("/trustList/DSC/X%00", **xa.headers())
    assert response.status_code == 400
    assert response.json()["reason"] == "INVALID_PATH"


def test_tng_federated_rows_only_with_federation(client, xa, monkeypatch):
    """A row imported from a peer is listed only with withFederation=true, and only while that
    peer is trusted (configured and signed by the trust anchor: countries.peer_sources)."""
    from countries import peer_sources
    from gateway.outbox.services import record_change

    (_dsc,) = _upload_dscs(client, xa, 1)
    SignerCertificate.objects.update(source_gateway="peer")
    record_change(kind="TEST", at=NOW)
    assert client.get("/trustList/certificate?group=DSC", **xa.headers()).json() == []
    assert client.get("/trustList/certificate?group=DSC&withFederation=true", **xa.headers()).json() == []
    monkeypatch.setattr(peer_sources, "trusted_sources", lambda: frozenset({"peer"}))
    record_change(kind="TEST", at=NOW)
    assert client.get("/trustList/certificate?group=DSC", **xa.headers()).json() == []
    body = client.get("/trustList/certificate?group=DSC&withFederation=true", **xa.headers()).json()
    assert body[0]["sourceGateway"] == "peer"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"group": "NOPE"}, "GROUP_NOT_ALLOWED"),
        ({"domain": "NOPE"}, "DOMAIN_NOT_ALLOWED"),
        ({"properties": {"evil": "x"}}, "PROPERTY_NOT_ALLOWED"),
    ],
)
def test_tng_request_checks(client, xa, fields, reason):
    response = _tng_upload(client, xa, xa.dsc(), **fields)
    body = assert_problem(response, 400, "n/a", reason)
    assert body["problem"] == "Upload of Signer Certificate failed"
    assert SignerCertificate.objects.count() == 0


def test_tng_missing_properties_is_not_a_500(client, xa):
    dsc = xa.dsc()
    response = client.post(
        "/trustedCertificate", {"cms": xa.cms_b64(dsc.der).decode()}, content_type="application/json", **xa.headers()
    )
    assert response.status_code == 201


def test_tng_custom_kid_collision(client, xa):
    assert _tng_upload(client, xa, xa.dsc(), kid="same").status_code == 201
    assert_problem(_tng_upload(client, xa, xa.dsc(), kid="same"), 400, "0x004", "KID_EXISTS")


def test_tng_invalid_cms_and_json(client, xa):
    assert_problem(
        client.post(
            "/trustedCertificate", {"cms": "!!", "properties": {}}, content_type="application/json", **xa.headers()
        ),
        400,
        "n/a",
        "INVALID_BASE64",
    )
    assert_problem(
        client.post("/trustedCertificate", b"{not json", content_type="application/json", **xa.headers()), 400, "0x001"
    )
    assert_problem(
        client.post("/trustedCertificate", {"kid": "x"}, content_type="application/json", **xa.headers()),
        400,
        "0x001",
        "INVALID_REQUEST",
    )


def test_tng_delete_revokes(client, xa):
    dsc = xa.dsc()
    assert _tng_upload(client, xa, dsc).status_code == 201
    response = client.delete("/trustedCertificate", xa.cms_b64(dsc.der), content_type="application/cms", **xa.headers())
    assert response.status_code == 204
    assert SignerCertificate.objects.get().revoked_at is not None
