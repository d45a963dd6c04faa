"""Trusted issuers (issue 21, part 1): DGCG's and TNG's ``GET /trustList/issuers`` with its filters,
the trust anchor's signature over either peer's string (made offline by ``ta_sign_issuer``,
checked with OpenSSL), operators' changes in the admin and by command (each audited, each refusal
named with nothing stored), the ``issuers`` artifact under the signed index, and the signature
audit's finding for an entry that does not verify."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from countries import peer_sources
from countries.models import Membership, MembershipRole
from gateway.audit.models import Action, AuditEvent, Finding, Outcome
from gateway.audit.roles import AUDITORS
from gateway.outbox.models import Change
from gateway.pki import cms, issuance
from gateway.pki.errors import Reason, Rejected
from issuers import services, signatures
from issuers.models import IssuerStatus, SignedForm, TrustedIssuer
from issuers.services import ISSUER_CHANGE
from oversight import signature_audit
from publication.service import publish
from tests.conftest import otp_login
from tests.factory import NOW, Pki
from tests.helpers import assert_problem, last_event
from tests.publishing import anchors, install_publisher, publish_root
from verifier.index import verify_content, verify_index

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
HTTP_URL = "https://issuer.xa.example/keys"
DID_URL = "did:web:tng-cdn.who.int:v2:trustlist:-:XXA"
API_FIELDS = {
    "url",
    "type",
    "country",
    "thumbprint",
    "sslPublicKey",
    "keyStorageType",
    "signature",
    "timestamp",
    "name",
    "uuid",
    "domain",
}


def sign(pki: Pki, country: str, name: str, url: str, url_type: str, form: str = "dgcg") -> str:
    """The ceremony's signature, as ta_sign_issuer makes it (tested below against the command)."""
    data = signatures.signed_string(country, name, url, url_type, form)
    return signatures.sign(data, pki.ta.certificate, pki.ta.key)


def add(
    pki: Pki,
    country: str = "XA",
    name: str = "Ministry of Health",
    url: str = HTTP_URL,
    url_type: str = "HTTP",
    *,
    form: str = "dgcg",
    signature: str | None = None,
    **extra: str,
) -> TrustedIssuer:
    return services.add_issuer(
        country=country,
        name=name,
        url=url,
        url_type=url_type,
        signature=signature if signature is not None else sign(pki, country, name, url, url_type, form),
        actor="test",
        at=NOW,
        **extra,
    )


def issuers(client, country, query: str = "", **headers) -> list[dict]:
    response = client.get(f"/trustList/issuers{query}", **country.headers(**headers))
    assert response.status_code == 200, response.content
    return response.json()


def refused_and_audited(reason: Reason, action: Action = Action.ISSUER_ADD) -> AuditEvent:
    event = last_event()
    assert (event.action, event.outcome, event.reason) == (action, Outcome.REJECTED, reason)
    return event


# --- the signed string, both forms ---------------------------------------------------------------


def test_the_two_peers_strings():
    assert signatures.signed_string("XA", "Min", "did:web:x", "DID", "dgcg") == b"XA;Min;did:web:x;DID;"
    assert signatures.signed_string("XA", "Min", "did:web:x", "DID", "tng") == b"XA;Min;did:web:x;DID"
    assert signatures.signed_string("XA", "Zoë", "did:web:x", "DID", "tng") == "XA;Zoë;did:web:x;DID".encode()


@pytest.mark.parametrize("form", ["dgcg", "tng"])
def test_either_form_is_accepted_and_recorded(pki, xa, client, form):
    issuer = add(pki, form=form)
    assert issuer.signed_form == form
    assert signatures.is_intact(issuer, (pki.ta.der,))
    (entry,) = issuers(client, xa)
    assert entry["signature"] == issuer.signature
    # The signature is over that form's string and no other.
    other = "tng" if form == "dgcg" else "dgcg"
    data = signatures.signed_string("XA", issuer.name, issuer.url, "HTTP", other)
    with pytest.raises(Rejected) as raised:
        cms.verify_detached(base64.b64decode(issuer.signature), data)
    assert raised.value.reason == Reason.CMS_MESSAGE_DIGEST


def _openssl_verify(tmp_path: Path, name: str, signature_b64: str, content: bytes, ta_pem: Path):
    (tmp_path / f"{name}.sig").write_bytes(base64.b64decode(signature_b64))
    (tmp_path / f"{name}.txt").write_bytes(content)
    return subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / f"{name}.sig"),
            "-content",
            str(tmp_path / f"{name}.txt"),
            "-CAfile",
            str(ta_pem),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        check=False,
    )


def _manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("setting", "option", "form"),
    [("dgcg", None, "dgcg"), ("tng", None, "tng"), ("dgcg", "tng", "tng"), ("tng", "dgcg", "dgcg")],
)
def test_ta_sign_issuer_signs_offline_the_form_asked_and_openssl_verifies_it(tmp_path, setting, option, form):
    """Offline (an unreachable database), the string GATEWAY_ISSUER_SIGNATURE_FORMAT or --format
    names; `openssl cms -verify` checks the signature against the trust anchor over exactly that
    string, and refuses it over the other form's."""
    ta = issuance.issue(issuance.name("TA"), at=NOW, ca=True)
    (tmp_path / "ta.pem").write_bytes(ta.cert_pem)
    (tmp_path / "ta.key").write_bytes(ta.key_pem)
    result = _manage(
        "ta_sign_issuer",
        "--country",
        "XA",
        "--name",
        "Ministère de la Santé",
        "--url",
        DID_URL,
        "--type",
        "DID",
        *(["--format", option] if option else []),
        "--ta-cert",
        str(tmp_path / "ta.pem"),
        "--ta-key",
        str(tmp_path / "ta.key"),
        "--print-string",
        env={"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "GATEWAY_ISSUER_SIGNATURE_FORMAT": setting},
    )
    assert result.returncode == 0, result.stderr
    signature = result.stdout.strip()
    signed = signatures.signed_string("XA", "Ministère de la Santé", DID_URL, "DID", form)
    assert result.stderr.strip().encode() == signed
    check = _openssl_verify(tmp_path, "right", signature, signed, tmp_path / "ta.pem")
    assert check.returncode == 0, check.stderr
    other = signatures.signed_string("XA", "Ministère de la Santé", DID_URL, "DID", "tng" if form == "dgcg" else "dgcg")
    assert _openssl_verify(tmp_path, "other", signature, other, tmp_path / "ta.pem").returncode != 0
    # The gateway accepts it, whichever form it is configured to make, and knows which it is.
    assert signatures.form_of("XA", "Ministère de la Santé", DID_URL, "DID", signature, (ta.der,)) == form


def test_ta_sign_issuer_refuses_what_the_gateway_would_refuse(tmp_path):
    ta = issuance.issue(issuance.name("TA"), at=NOW, ca=True)
    (tmp_path / "ta.pem").write_bytes(ta.cert_pem)
    (tmp_path / "ta.key").write_bytes(ta.key_pem)
    common = ["--ta-cert", str(tmp_path / "ta.pem"), "--ta-key", str(tmp_path / "ta.key"), "--name", "M"]
    with pytest.raises(CommandError, match="ISSUER_URL_INVALID"):
        call_command("ta_sign_issuer", "--country", "XA", "--url", "javascript:alert(1)", "--type", "HTTP", *common)
    with pytest.raises(CommandError, match="INVALID_COUNTRY"):
        call_command("ta_sign_issuer", "--country", "QQ", "--url", HTTP_URL, "--type", "HTTP", *common)


def test_published_and_served_signatures_of_both_forms_verify_with_openssl(pki, xa, client, tmp_path, settings):
    """What a national backend downloads: each entry's signature, checked with OpenSSL against the
    trust anchor over the string of its form (DGCG's for one, TNG's for the other)."""
    ta_pem = Path(settings.GATEWAY_TRUST_ANCHOR_FILES[0])
    add(pki, url=HTTP_URL, form="dgcg")
    add(pki, "XB", "XB Health", DID_URL, "DID", form="tng")
    served = {entry["country"]: entry for entry in issuers(client, xa)}
    strings = {
        "XA": f"XA;Ministry of Health;{HTTP_URL};HTTP;".encode(),
        "XB": f"XB;XB Health;{DID_URL};DID".encode(),
    }
    for country, entry in served.items():
        check = _openssl_verify(tmp_path, country, entry["signature"], strings[country], ta_pem)
        assert check.returncode == 0, (country, check.stderr)


# --- the API ---------------------------------------------------------------------------------------


def test_the_issuers_with_dgcgs_and_tngs_fields(pki, xa, client):
    http = add(
        pki,
        thumbprint="AB" * 32,
        ssl_public_key="MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
        key_storage_type="JWKS",
    )
    did = add(pki, "XB", "XB Health", DID_URL, "DID", form="tng", domain="DICVP")
    response = client.get("/trustList/issuers", **xa.headers())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "private, no-cache"
    body = response.json()
    assert [set(entry) for entry in body] == [API_FIELDS, API_FIELDS]
    assert body[0] == {
        "url": HTTP_URL,
        "type": "HTTP",
        "country": "XA",
        "thumbprint": "ab" * 32,
        "sslPublicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
        "keyStorageType": "JWKS",
        "signature": http.signature,
        "timestamp": "2026-06-01T12:00:00Z",
        "name": "Ministry of Health",
        "uuid": str(http.uuid),
        "domain": "DCC",
    }
    assert body[1]["type"] == "DID"
    assert (body[1]["url"], body[1]["domain"], body[1]["uuid"]) == (DID_URL, "DICVP", str(did.uuid))
    assert (body[1]["thumbprint"], body[1]["sslPublicKey"], body[1]["keyStorageType"]) == (None, None, None)
    # A strong ETag; If-None-Match with it is 304, until something changes.
    etag = response["ETag"]
    again = client.get("/trustList/issuers", **xa.headers(HTTP_IF_NONE_MATCH=etag))
    assert again.status_code == 304
    assert again["ETag"] == etag
    services.set_status(did.pk, IssuerStatus.SUSPENDED, actor="test", at=NOW)
    changed = client.get("/trustList/issuers", **xa.headers(HTTP_IF_NONE_MATCH=etag))
    assert changed.status_code == 200
    assert [entry["uuid"] for entry in changed.json()] == [str(http.uuid)]


def test_filters_country_domain_and_their_errors(pki, xa, client):
    add(pki, "XA")
    add(pki, "XB", "XB Health", DID_URL, "DID", domain="DICVP")
    add(pki, "XC", "XC Health", "https://xc.example/", "HTTP")
    countries = lambda query: [e["country"] for e in issuers(client, xa, query)]  # noqa: E731
    assert countries("") == ["XA", "XB", "XC"]
    assert countries("?country=XB") == ["XB"]
    assert countries("?country=xb") == ["XB"]  # upper-cased, as /trustList/{type}/{country}
    assert countries("?country=XA,XC") == ["XA", "XC"]
    assert countries("?country=XA&country=XC") == ["XA", "XC"]
    assert countries("?country=XA,&country=") == ["XA"]
    assert countries("?country=DE") == []
    assert countries("?domain=DICVP") == ["XB"]
    assert countries("?domain=DCC,DICVP&country=XB,XC") == ["XB", "XC"]
    assert countries("?domain=PH4H") == []
    assert countries("?withFederation=false") == ["XA", "XB", "XC"]
    assert countries("?withFederation=TRUE") == ["XA", "XB", "XC"]
    for query, reason in [
        ("?country=XAB", Reason.INVALID_COUNTRY),
        ("?country=X1", Reason.INVALID_COUNTRY),
        ("?country=XA,Y", Reason.INVALID_COUNTRY),
        ("?country=%00", Reason.INVALID_PARAMETER),
        ("?domain=D%01", Reason.INVALID_PARAMETER),
        ("?withFederation=maybe", Reason.INVALID_PARAMETER),
    ]:
        before = AuditEvent.objects.count()
        assert_problem(client.get(f"/trustList/issuers{query}", **xa.headers()), 400, "0x001", reason)
        assert AuditEvent.objects.count() == before + 1, query  # a refusal of who asks is recorded
        assert last_event().reason == reason


def test_federated_issuers_only_when_asked_and_while_their_peer_is_trusted(pki, xa, client, monkeypatch):
    """TNG's withFederation: rows imported from a peer (source_gateway set) carry sourceGateway
    and appear only when asked, on their trusted peer's word (countries.peer_sources)."""
    local = add(pki)
    for peer in ("peer-b.example", "peer-c.example"):
        TrustedIssuer.objects.create(
            country="DE",
            name=f"DE issuer via {peer}",
            url="did:web:de.example",
            url_type="DID",
            signature="signed-by-the-peers-trust-anchor",
            signed_form=SignedForm.DGCG,
            created_at=NOW,
            source_gateway=peer,
        )
    monkeypatch.setattr(peer_sources, "_query", lambda: frozenset({"peer-b.example"}))
    assert [e["uuid"] for e in issuers(client, xa)] == [str(local.uuid)]
    federated = issuers(client, xa, "?withFederation=true")
    assert [(e["country"], e.get("sourceGateway")) for e in federated] == [("DE", "peer-b.example"), ("XA", None)]
    assert "sourceGateway" not in federated[1]
    assert issuers(client, xa, "?withFederation=true&country=XA") == issuers(client, xa)
    # An operator here changes no peer's entry.
    imported = TrustedIssuer.objects.get(source_gateway="peer-b.example")
    with pytest.raises(Rejected) as raised:
        services.set_status(imported.pk, IssuerStatus.SUSPENDED, actor="test", at=NOW)
    assert raised.value.reason == Reason.INVALID_STATE
    with pytest.raises(Rejected):
        services.remove_issuer(imported.pk, actor="test", at=NOW)
    assert TrustedIssuer.objects.filter(pk=imported.pk, status=IssuerStatus.ACTIVE).exists()


def test_authenticated_like_every_trust_list(pki, xa, client):
    add(pki)
    assert_problem(client.get("/trustList/issuers"), 401, "0x400")
    stranger = pki.country("XC", onboard=False)
    assert_problem(client.get("/trustList/issuers", **stranger.headers()), 401, "0x402")
    assert last_event().action == Action.AUTHENTICATE


def test_an_entry_whose_signature_does_not_verify_is_never_served(pki, xa, client, settings, tmp_path):
    kept = add(pki)
    edited = add(pki, "XB", "XB Health", DID_URL, "DID")
    # A row edited behind the services' back (its signed string changed): dropped, silently.
    TrustedIssuer.objects.filter(pk=edited.pk).update(url="did:web:evil.example")
    assert [e["uuid"] for e in issuers(client, xa)] == [str(kept.uuid)]
    TrustedIssuer.objects.filter(pk=edited.pk).update(url=DID_URL)
    assert len(issuers(client, xa)) == 2
    # A signed form that is not the one signed: dropped too.
    TrustedIssuer.objects.filter(pk=edited.pk).update(signed_form=SignedForm.TNG)
    assert len(issuers(client, xa)) == 1
    TrustedIssuer.objects.filter(pk=edited.pk).update(signed_form=SignedForm.DGCG)
    # Another trust anchor configured: every entry it did not sign is dropped, at once.
    other = Pki.create()
    (tmp_path / "other.pem").write_bytes(other.ta.cert_pem)
    original = settings.GATEWAY_TRUST_ANCHOR_FILES
    settings.GATEWAY_TRUST_ANCHOR_FILES = [*original, str(tmp_path / "other.pem")]
    assert len(issuers(client, xa)) == 2  # the old anchor is still configured beside the new
    settings.GATEWAY_TRUST_ANCHOR_FILES = [str(tmp_path / "other.pem")]
    assert [e["uuid"] for e in signatures_served()] == []


def signatures_served() -> list[dict]:
    from issuers import listing

    return [listing.api_entry(issuer) for issuer in listing.served()]


# --- the services: changes audited, refusals named -------------------------------------------------


def test_add_suspend_reactivate_remove_each_audited_with_an_outbox_change(pki, xa, client):
    issuer = add(pki)
    event = last_event()
    assert (event.action, event.outcome, event.country, event.actor) == (
        Action.ISSUER_ADD,
        Outcome.SUCCESS,
        "XA",
        "test",
    )
    assert event.details["uuid"] == str(issuer.uuid)
    assert event.details["form"] == "dgcg"
    assert Change.objects.filter(kind=ISSUER_CHANGE).count() == 1
    services.set_status(issuer.pk, IssuerStatus.SUSPENDED, reason="key compromise?", actor="test", at=NOW)
    assert (last_event().action, last_event().reason) == (Action.ISSUER_SUSPEND, "key compromise?")
    assert issuers(client, xa) == []
    with pytest.raises(Rejected) as raised:
        services.set_status(issuer.pk, IssuerStatus.SUSPENDED, actor="test", at=NOW)
    assert raised.value.reason == Reason.INVALID_STATE
    refused_and_audited(Reason.INVALID_STATE, Action.ISSUER_SUSPEND)
    services.set_status(issuer.pk, IssuerStatus.ACTIVE, actor="test", at=NOW)
    assert last_event().action == Action.ISSUER_REACTIVATE
    assert len(issuers(client, xa)) == 1
    services.remove_issuer(issuer.pk, reason="retired", actor="test", at=NOW)
    assert last_event().action == Action.ISSUER_REMOVE
    assert not TrustedIssuer.objects.exists()
    assert Change.objects.filter(kind=ISSUER_CHANGE).count() == 4  # one per change, none per refusal
    with pytest.raises(Rejected) as raised:
        services.remove_issuer(issuer.pk, actor="test", at=NOW)
    assert raised.value.reason == Reason.ISSUER_NOT_FOUND
    refused_and_audited(Reason.ISSUER_NOT_FOUND, Action.ISSUER_REMOVE)
    # Removed for good: the same entry may be added again (a new uuid).
    again = add(pki)
    assert again.uuid != issuer.uuid


def _attached(pki: Pki) -> str:
    data = signatures.signed_string("XA", "Ministry of Health", HTTP_URL, "HTTP", "dgcg")
    return base64.b64encode(cms.sign(data, pki.ta.certificate, pki.ta.key, detached=False)).decode()


def _by_other_key(pki: Pki) -> str:
    stranger = issuance.issue(issuance.name("Not the TA"), at=NOW, ca=True)
    data = signatures.signed_string("XA", "Ministry of Health", HTTP_URL, "HTTP", "dgcg")
    return signatures.sign(data, stranger.certificate, stranger.key)


HOSTILE = {
    # (the fields changed, or a signature maker) -> the reason
    "javascript-url": ({"url": "javascript:alert(1)"}, Reason.ISSUER_URL_INVALID),
    "data-url": ({"url": "data:text/html,<script>alert(1)</script>"}, Reason.ISSUER_URL_INVALID),
    "ftp-url": ({"url": "ftp://issuer.example/"}, Reason.ISSUER_URL_INVALID),
    "no-host": ({"url": "https:///keys"}, Reason.ISSUER_URL_INVALID),
    "user-in-url": ({"url": "https://user:pw@issuer.example/"}, Reason.ISSUER_URL_INVALID),
    "bad-port": ({"url": "https://issuer.example:99999/"}, Reason.ISSUER_URL_INVALID),
    "bad-ipv6": ({"url": "https://[::1/"}, Reason.ISSUER_URL_INVALID),
    "space-in-url": ({"url": "https://issuer.example/a b"}, Reason.ISSUER_URL_INVALID),
    "semicolon-in-url": ({"url": "https://issuer.example/a;DID"}, Reason.ISSUER_URL_INVALID),
    "non-ascii-url": ({"url": "https://issuér.example/"}, Reason.ISSUER_URL_INVALID),
    "control-in-url": ({"url": "https://issuer.example/\x00"}, Reason.ISSUER_URL_INVALID),
    "url-too-long": ({"url": "https://issuer.example/" + "a" * 1024}, Reason.ISSUER_URL_INVALID),
    "did-for-http": ({"url": "did:web:issuer.example"}, Reason.ISSUER_URL_INVALID),
    "url-for-did": ({"url": HTTP_URL, "url_type": "DID"}, Reason.ISSUER_URL_INVALID),
    "did-upper-method": ({"url": "did:WEB:issuer.example", "url_type": "DID"}, Reason.ISSUER_URL_INVALID),
    "did-no-id": ({"url": "did:web:", "url_type": "DID"}, Reason.ISSUER_URL_INVALID),
    "did-bad-escape": ({"url": "did:web:a%zz", "url_type": "DID"}, Reason.ISSUER_URL_INVALID),
    "did-fragment": ({"url": "did:web:a#key-1", "url_type": "DID"}, Reason.ISSUER_URL_INVALID),
    "unknown-type": ({"url_type": "JWKS"}, Reason.ISSUER_TYPE_INVALID),
    "unknown-country": ({"country": "QQ"}, Reason.INVALID_COUNTRY),
    "lower-country": ({"country": "xa"}, Reason.INVALID_COUNTRY),
    "long-country": ({"country": "XAX"}, Reason.INVALID_COUNTRY),
    "empty-name": ({"name": ""}, Reason.ISSUER_FIELD_INVALID),
    "semicolon-in-name": ({"name": "Ministry;https://evil.example"}, Reason.ISSUER_FIELD_INVALID),
    "padded-name": ({"name": " Ministry"}, Reason.ISSUER_FIELD_INVALID),
    "control-in-name": ({"name": "Min\nistry"}, Reason.ISSUER_FIELD_INVALID),
    "name-too-long": ({"name": "M" * 513}, Reason.ISSUER_FIELD_INVALID),
    "bad-thumbprint": ({"thumbprint": "not-hex"}, Reason.ISSUER_FIELD_INVALID),
    "bad-key-storage": ({"key_storage_type": "<script>"}, Reason.ISSUER_FIELD_INVALID),
    "ssl-key-too-long": ({"ssl_public_key": "A" * 2049}, Reason.ISSUER_FIELD_INVALID),
    "ssl-key-control": ({"ssl_public_key": "AAAA\x00"}, Reason.ISSUER_FIELD_INVALID),
    "unknown-domain": ({"domain": "NOPE"}, Reason.DOMAIN_NOT_ALLOWED),
    "no-signature": ({"signature": ""}, Reason.ISSUER_SIGNATURE_INVALID),
    "signature-too-long": ({"signature": "A" * 8193}, Reason.ISSUER_SIGNATURE_INVALID),
    "signature-not-base64": ({"signature": "not base64!"}, Reason.ISSUER_SIGNATURE_INVALID),
    "signature-not-cms": ({"signature": base64.b64encode(b"junk").decode()}, Reason.ISSUER_SIGNATURE_INVALID),
    "signature-over-other-fields": ({"name": "Another Ministry", "signed_for": {}}, Reason.ISSUER_SIGNATURE_INVALID),
    "attached-signature": (_attached, Reason.ISSUER_SIGNATURE_INVALID),
    "signed-by-another-key": (_by_other_key, Reason.ISSUER_SIGNER_UNKNOWN),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_every_refusal_is_named_audited_and_stores_nothing(pki, xa, case):
    change, reason = HOSTILE[case]
    fields = {"country": "XA", "name": "Ministry of Health", "url": HTTP_URL, "url_type": "HTTP"}
    extra: dict[str, str] = {}
    signature = None
    if callable(change):
        signature = change(pki)
    else:
        change = dict(change)
        signed_for = change.pop("signed_for", None)
        for key, value in change.items():
            (fields if key in fields else extra)[key] = value
        if "signature" in extra:
            signature = extra.pop("signature")
        elif signed_for is not None:  # a genuine signature, over the unchanged fields
            signature = sign(pki, "XA", "Ministry of Health", HTTP_URL, "HTTP")
        else:  # a genuine signature over the hostile fields: the field check must refuse them
            signature = sign(pki, *fields.values())
    changes = Change.objects.count()
    with pytest.raises(Rejected) as raised:
        add(pki, **fields, signature=signature, **extra)
    assert raised.value.reason == reason, raised.value
    assert not TrustedIssuer.objects.exists()
    assert Change.objects.count() == changes
    event = refused_and_audited(reason)
    assert event.country in ("", "XA")


def test_a_duplicate_is_refused_whatever_form_it_is_signed_in(pki, xa):
    add(pki, form="dgcg")
    with pytest.raises(Rejected) as raised:
        add(pki, form="tng", name="Ministry of Health (again)")
    assert raised.value.reason == Reason.ISSUER_EXISTS
    refused_and_audited(Reason.ISSUER_EXISTS)
    assert TrustedIssuer.objects.count() == 1
    # The same URL as another type, or for another country, is another issuer.
    add(pki, "XB")


def test_every_issuer_action_reads_in_words():
    from gateway.audit.words import event_in_words

    for action in (Action.ISSUER_ADD, Action.ISSUER_SUSPEND, Action.ISSUER_REACTIVATE, Action.ISSUER_REMOVE):
        assert event_in_words(action, Outcome.SUCCESS).startswith("Trusted issuer")
        assert "refused" in event_in_words(action, Outcome.REJECTED)


# --- commands --------------------------------------------------------------------------------------


def test_issuer_commands_add_list_suspend_reactivate_remove(pki, xa, tmp_path, capsys):
    signature = tmp_path / "issuer.sig"
    call_command(
        "ta_sign_issuer",
        "--country",
        "XA",
        "--name",
        "Ministry of Health",
        "--url",
        DID_URL,
        "--type",
        "DID",
        "--format",
        "tng",
        "--ta-cert",
        str(_pem(tmp_path, "ta.pem", pki.ta.cert_pem)),
        "--ta-key",
        str(_pem(tmp_path, "ta.key", pki.ta.key_pem)),
        "--out",
        str(signature),
    )
    call_command(
        "issuer_add",
        "--country",
        "XA",
        "--name",
        "Ministry of Health",
        "--url",
        DID_URL,
        "--type",
        "DID",
        "--signature",
        str(signature),
        "--key-storage-type",
        "JWKS",
    )
    issuer = TrustedIssuer.objects.get()
    assert (issuer.signed_form, issuer.key_storage_type) == ("tng", "JWKS")
    assert last_event().actor == "manage.py issuer_add"
    assert f"issuer {issuer.uuid} added" in capsys.readouterr().out
    call_command("issuer_list")
    line = capsys.readouterr().out.strip()
    assert line.split("\t")[:6] == [str(issuer.uuid), "XA", "DID", "ACTIVE", "TA-OK", "tng"]
    prefix = str(issuer.uuid)[:8]
    call_command("issuer_set_status", "suspend", prefix, "--reason", "audit")
    issuer.refresh_from_db()
    assert (issuer.status, issuer.status_reason) == (IssuerStatus.SUSPENDED, "audit")
    with pytest.raises(CommandError, match="INVALID_STATE"):
        call_command("issuer_set_status", "suspend", prefix)
    call_command("issuer_set_status", "reactivate", prefix)
    TrustedIssuer.objects.filter(pk=issuer.pk).update(name="Edited")
    call_command("issuer_list", "--country", "xa")
    assert "TA-INVALID:ISSUER_SIGNATURE_INVALID" in capsys.readouterr().out
    call_command("issuer_set_status", "remove", prefix)
    assert not TrustedIssuer.objects.exists()
    with pytest.raises(CommandError, match="no trusted issuer matches"):
        call_command("issuer_set_status", "remove", prefix)
    # A refused add names its reason and stores nothing.
    with pytest.raises(CommandError, match="ISSUER_SIGNATURE_INVALID"):
        call_command(
            "issuer_add",
            "--country",
            "XA",
            "--name",
            "Another name",
            "--url",
            DID_URL,
            "--type",
            "DID",
            "--signature",
            str(signature),
        )
    assert not TrustedIssuer.objects.exists()


def _pem(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / name).write_bytes(data)
    return tmp_path / name


# --- the admin -------------------------------------------------------------------------------------


@pytest.fixture
def people(django_user_model, client):
    otto = django_user_model.objects.create_superuser("otto", "otto@example.org", "x")
    audrey = django_user_model.objects.create_user("audrey", password="x", is_staff=True)
    audrey.groups.add(Group.objects.get(name=AUDITORS))
    alice = django_user_model.objects.create_user("alice", password="x", is_staff=True)
    Membership.objects.create(user=alice, country="XA", role=MembershipRole.ADMIN)
    return {"otto": otto, "audrey": audrey, "alice": alice}


def _form(pki: Pki, **changes: str) -> dict[str, str]:
    form = {
        "country": "XA",
        "name": "Ministry of Health",
        "url": HTTP_URL,
        "url_type": "HTTP",
        "domain": "DCC",
        "thumbprint": "",
        "ssl_public_key": "",
        "key_storage_type": "JWKS",
    }
    form["signature"] = sign(pki, "XA", "Ministry of Health", HTTP_URL, "HTTP")
    form.update(changes)
    return form


def test_an_operator_adds_and_suspends_in_the_admin_and_a_bad_signature_is_refused_by_name(pki, xa, client, people):
    otp_login(client, people["otto"])
    assert client.get("/admin/issuers/trustedissuer/add/").status_code == 200
    bad = client.post("/admin/issuers/trustedissuer/add/", _form(pki, name="Another Ministry"))
    assert bad.status_code == 200
    assert b"ISSUER_SIGNATURE_INVALID" in bad.content
    assert not TrustedIssuer.objects.exists()
    refused_and_audited(Reason.ISSUER_SIGNATURE_INVALID)
    assert last_event().actor == "admin:otto"
    stranger = client.post("/admin/issuers/trustedissuer/add/", _form(pki, signature=_by_other_key(pki)))
    assert b"ISSUER_SIGNER_UNKNOWN" in stranger.content
    assert not TrustedIssuer.objects.exists()
    # A field the service refuses is named and audited as every refusal, not a bare form error.
    long_country = client.post("/admin/issuers/trustedissuer/add/", _form(pki, country="XAB"))
    assert b"INVALID_COUNTRY" in long_country.content
    refused_and_audited(Reason.INVALID_COUNTRY)
    javascript = client.post("/admin/issuers/trustedissuer/add/", _form(pki, url="javascript:alert(1)"))
    assert b"ISSUER_URL_INVALID" in javascript.content
    assert not TrustedIssuer.objects.exists()
    added = client.post("/admin/issuers/trustedissuer/add/", _form(pki))
    assert added.status_code == 302, added.content[-2000:]
    issuer = TrustedIssuer.objects.get()
    assert (issuer.key_storage_type, issuer.signed_form) == ("JWKS", "dgcg")
    assert (last_event().action, last_event().actor) == (Action.ISSUER_ADD, "admin:otto")
    page = client.get(f"/admin/issuers/trustedissuer/{issuer.pk}/change/").content.decode()
    assert "verified" in page
    assert f"XA;Ministry of Health;{HTTP_URL};HTTP;" in page
    assert "Suspend…" in page
    assert "Remove…" in page
    assert client.get("/admin/issuers/trustedissuer/").status_code == 200
    # Suspend, with a reason; then the page offers reactivation.
    status_url = f"/admin/issuers/trustedissuer/{issuer.pk}/status/suspend/"
    assert client.get(status_url).status_code == 200
    assert client.post(status_url, {"reason": "under review"}).status_code == 302
    issuer.refresh_from_db()
    assert (issuer.status, issuer.status_reason) == (IssuerStatus.SUSPENDED, "under review")
    assert (last_event().action, last_event().actor) == (Action.ISSUER_SUSPEND, "admin:otto")
    assert "Reactivate…" in client.get(f"/admin/issuers/trustedissuer/{issuer.pk}/change/").content.decode()
    history = client.get(f"/admin/issuers/trustedissuer/{issuer.pk}/history/").content.decode()
    assert "Trusted issuer suspended" in history
    assert "Trusted issuer added" in history
    # Suspending again is refused by name, shown once.
    again = client.post(status_url, {"reason": ""}, follow=True)
    assert b"INVALID_STATE" in again.content
    assert client.post(f"/admin/issuers/trustedissuer/{issuer.pk}/status/reactivate/", {}).status_code == 302
    assert client.post(f"/admin/issuers/trustedissuer/{issuer.pk}/status/remove/", {}).status_code == 302
    assert not TrustedIssuer.objects.exists()
    assert last_event().action == Action.ISSUER_REMOVE
    assert client.get(f"/admin/issuers/trustedissuer/{issuer.pk}/status/bogus/").status_code == 404


def test_an_auditor_reads_and_changes_nothing_and_a_country_admin_sees_no_issuers(pki, xa, client, people):
    issuer = add(pki)
    otp_login(client, people["audrey"])
    listing = client.get("/admin/issuers/trustedissuer/")
    assert listing.status_code == 200
    assert "Ministry of Health" in listing.content.decode()
    for query in (str(issuer.uuid)[:8], "ministry", "issuer.xa"):  # by uuid, name or URL
        found = client.get("/admin/issuers/trustedissuer/", {"q": query})
        assert found.status_code == 200
        assert "Ministry of Health" in found.content.decode(), query
    page = client.get(f"/admin/issuers/trustedissuer/{issuer.pk}/change/")
    assert page.status_code == 200
    assert "Suspend…" not in page.content.decode()
    assert client.get("/admin/issuers/trustedissuer/add/").status_code in (403, 404)
    assert client.post("/admin/issuers/trustedissuer/add/", _form(pki, url="https://other.example/")).status_code in (
        403,
        404,
    )
    status_url = f"/admin/issuers/trustedissuer/{issuer.pk}/status/suspend/"
    assert client.post(status_url, {"reason": "x"}).status_code == 404
    assert client.post(f"/admin/issuers/trustedissuer/{issuer.pk}/delete/", {"post": "yes"}).status_code == 403
    issuer.refresh_from_db()
    assert issuer.status == IssuerStatus.ACTIVE
    assert TrustedIssuer.objects.count() == 1
    client.logout()
    otp_login(client, people["alice"])
    assert client.get("/admin/issuers/trustedissuer/").status_code == 403
    assert client.get(f"/admin/issuers/trustedissuer/{issuer.pk}/change/").status_code in (403, 404)


def test_an_unverifiable_entry_is_flagged_in_the_admin(pki, xa, client, people):
    issuer = add(pki)
    TrustedIssuer.objects.filter(pk=issuer.pk).update(name="Edited")
    otp_login(client, people["otto"])
    page = client.get("/admin/issuers/trustedissuer/").content.decode()
    assert "ISSUER_SIGNATURE_INVALID: not served" in page


# --- publication -----------------------------------------------------------------------------------


def _published(pki: Pki, at: dt.datetime) -> list[dict]:
    root = publish_root()
    index = verify_index((root / "index.jws").read_bytes(), anchors(pki), at)
    descriptor = index.artifacts["issuers"]
    return verify_content((root / descriptor.path).read_bytes(), "issuers", index, anchors(pki), at)["issuers"]


@pytest.mark.django_db(transaction=True)
def test_published_under_the_signed_index_with_signature_and_form_and_dropped_when_not_served(
    pki, xa, tmp_path, settings
):
    from verifier.folder import verify_folder

    install_publisher(pki)
    publish(at=NOW, force=True)
    assert _published(pki, NOW) == []  # named from the first sequence on, empty
    http = add(pki, form="dgcg")
    did = add(pki, "XB", "XB Health", DID_URL, "DID", form="tng")
    publish(at=NOW + dt.timedelta(seconds=1), force=True)
    assert verify_folder(publish_root(), anchors(pki), NOW + dt.timedelta(seconds=1)).problems == []
    published = _published(pki, NOW + dt.timedelta(seconds=1))
    assert [(e["uuid"], e["signedForm"]) for e in published] == [(str(http.uuid), "dgcg"), (str(did.uuid), "tng")]
    assert published[0]["signed"] == f"XA;Ministry of Health;{HTTP_URL};HTTP;"
    assert published[1]["signed"] == f"XB;XB Health;{DID_URL};DID"
    # Anyone holding the trust anchor checks an entry on its own: OpenSSL, over the string given.
    ta_pem = Path(settings.GATEWAY_TRUST_ANCHOR_FILES[0])
    for entry in published:
        check = _openssl_verify(tmp_path, entry["uuid"], entry["signature"], entry["signed"].encode(), ta_pem)
        assert check.returncode == 0, check.stderr
    # Suspended: out of the next version.
    services.set_status(did.pk, IssuerStatus.SUSPENDED, actor="test", at=NOW)
    publish(at=NOW + dt.timedelta(seconds=2), force=True)
    assert [e["uuid"] for e in _published(pki, NOW + dt.timedelta(seconds=2))] == [str(http.uuid)]
    # A row that stops verifying without a change of its own (edited behind the services' back):
    # the signature audit reports it and has the issuers published again, without it.
    TrustedIssuer.objects.filter(pk=http.pk).update(name="Edited Ministry")
    signature_audit.run(at=NOW + dt.timedelta(seconds=3))
    publish(at=NOW + dt.timedelta(seconds=3), force=True)
    assert _published(pki, NOW + dt.timedelta(seconds=3)) == []
    TrustedIssuer.objects.filter(pk=http.pk).update(name="Ministry of Health")
    signature_audit.run(at=NOW + dt.timedelta(seconds=4))
    publish(at=NOW + dt.timedelta(seconds=4), force=True)
    assert [e["uuid"] for e in _published(pki, NOW + dt.timedelta(seconds=4))] == [str(http.uuid)]


# --- the signature audit ---------------------------------------------------------------------------


def test_the_signature_audit_reports_an_issuer_whose_signature_does_not_verify(pki, xa):
    good = add(pki)
    bad = add(pki, "XB", "XB Health", DID_URL, "DID", form="tng")
    run = signature_audit.run(at=NOW)
    assert run.checked["issuers"] == 2
    assert not Finding.objects.filter(kind="ISSUER_SIGNATURE_INVALID").exists()
    changes = Change.objects.filter(kind=ISSUER_CHANGE).count()
    TrustedIssuer.objects.filter(pk=bad.pk).update(url="did:web:elsewhere.example")
    signature_audit.run(at=NOW + dt.timedelta(minutes=1))
    finding = Finding.objects.open().get(kind="ISSUER_SIGNATURE_INVALID")
    assert (finding.subject, finding.country, finding.severity) == (str(bad.uuid), "XB", "CRITICAL")
    assert "ISSUER_SIGNATURE_INVALID" in finding.message
    event = AuditEvent.objects.filter(action=Action.AUDIT_FINDING).get()
    assert (event.reason, event.country) == ("ISSUER_SIGNATURE_INVALID", "XB")
    assert Change.objects.filter(kind=ISSUER_CHANGE).count() == changes + 1  # published again, once
    signature_audit.run(at=NOW + dt.timedelta(minutes=2))
    assert Change.objects.filter(kind=ISSUER_CHANGE).count() == changes + 1
    assert Finding.objects.open().count() == 1
    # A suspended entry is audited too; a removed one is gone, and its finding resolves.
    services.set_status(good.pk, IssuerStatus.SUSPENDED, actor="test", at=NOW)
    TrustedIssuer.objects.filter(pk=good.pk).update(signature="AAAA")
    signature_audit.run(at=NOW + dt.timedelta(minutes=3))
    assert set(Finding.objects.open().values_list("subject", flat=True)) == {str(bad.uuid), str(good.uuid)}
    services.remove_issuer(bad.pk, actor="test", at=NOW)
    services.remove_issuer(good.pk, actor="test", at=NOW)
    signature_audit.run(at=NOW + dt.timedelta(minutes=4))
    assert not Finding.objects.open().filter(kind="ISSUER_SIGNATURE_INVALID").exists()


def test_uuid_is_random_and_unique(pki, xa):
    first, second = add(pki), add(pki, "XB")
    assert isinstance(first.uuid, uuid.UUID)
    assert first.uuid.version == 4
    assert first.uuid != second.uuid


def test_a_misspelt_signature_format_fails_the_system_check(settings):
    from issuers.apps import check_signature_format

    assert check_signature_format() == []
    settings.GATEWAY_ISSUER_SIGNATURE_FORMAT = "dgc"
    (error,) = check_signature_format()
    assert error.id == "issuers.E001"
    with pytest.raises(ImproperlyConfigured, match="dgcg or tng"):
        signatures.configured_form()
