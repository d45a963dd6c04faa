"""TNG's trusted references (issue 21, part 2): upload, update by uuid, read, list and delete,
through the API. Every refusal is named, TNG's code (0x000 for the service's checks, 0x260 for a
signature, 0x402 for a CMS that cannot be read), recorded once in the audit log, and stores
nothing. The deliberate differences from TNG: the CMS is stored and served (it verifies with
OpenSSL), the list's filters are not swapped, every field is validated (URLs parsed, http(s)
only), an update or a deletion of another country's reference is 403, a change writes no outbox
row (references are not published to verifiers)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import uuid

import pytest

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.outbox.models import Change
from gateway.pki import issuance
from gateway.pki.certs import thumbprint
from references.models import TrustedReference
from tests.factory import NOW

pytestmark = pytest.mark.django_db

DTO_FIELDS = {
    "uuid",
    "domain",
    "version",
    "country",
    "type",
    "url",
    "service",
    "thumbprint",
    "name",
    "sslPublicKey",
    "contentType",
    "signatureType",
    "referenceVersion",
    "signature",
}
SSL_KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"


def reference(code: str = "XA", **changes) -> dict:
    """A valid TrustedReferenceDto of the country ``code``; a change of None removes the field."""
    value = {
        "url": f"https://dcc.{code.lower()}.example/verify",
        "country": code,
        "type": "DCC",
        "service": "DCC verification service",
        "thumbprint": "ab" * 32,
        "name": f"{code} national verification service",
        "sslPublicKey": SSL_KEY,
        "contentType": "application/json",
        "signatureType": "CMS",
        "referenceVersion": "1.0.0",
    }
    for key, change in changes.items():
        if change is None:
            value.pop(key, None)
        else:
            value[key] = change
    return value


def raw(value: dict | bytes) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def post_reference(client, country, value: dict | bytes, *, signer=None, content_type="application/cms-text"):
    body = country.cms_b64(raw(value), signer=signer)
    return client.post("/trust/reference", body, content_type=content_type, **country.headers())


def delete_reference(client, country, reference_uuid: str | bytes, *, signer=None, content_type="application/cms"):
    payload = reference_uuid if isinstance(reference_uuid, bytes) else json.dumps({"uuid": reference_uuid}).encode()
    body = country.cms_b64(payload, signer=signer)
    return client.delete("/trust/reference", body, content_type=content_type, **country.headers())


def uploaded(client, country, value: dict | None = None) -> str:
    response = post_reference(client, country, value or reference(country.code))
    assert response.status_code == 201, response.content
    return response["ETag"]


def listed(client, country, query: str = "") -> list[dict]:
    response = client.get(f"/trustList/references{query}", **country.headers())
    assert response.status_code == 200, response.content
    return response.json()


def refused(response, status: int, code: str, reason: str | None, action: str = Action.REFERENCE_UPLOAD) -> dict:
    """The problem report names ``reason`` (any, when None) and is the last audit event's."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    if reason is not None:
        assert body["reason"] == reason, body
    event = AuditEvent.objects.order_by("-leaf_index").first()
    assert (event.action, event.outcome, event.reason) == (action, Outcome.REJECTED, body["reason"])
    return body


@pytest.fixture
def no_outbox():
    """Asserts after the test that it wrote no outbox row: references are not published."""
    before = Change.objects.count()
    yield
    assert Change.objects.count() == before


def stored() -> list[tuple]:
    """Everything stored of every reference, to compare before and after a refusal."""
    return list(TrustedReference.objects.order_by("pk").values_list())


def openssl_payload(signature_b64: str, tmp_path) -> bytes:
    """What ``openssl cms -verify`` prints of a base64 attached CMS: its payload, once the
    signature holds (``-noverify``: the signer's chain is the gateway's business, not OpenSSL's)."""
    path = tmp_path / "reference.cms.der"
    path.write_bytes(base64.b64decode(signature_b64))
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(path), "-noverify"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- upload and read ------------------------------------------------------------------------------------


def test_an_upload_is_stored_with_its_cms_and_served(client, xa, no_outbox):
    value = reference()
    body = xa.cms_b64(raw(value))
    response = client.post("/trust/reference", body, content_type="application/cms-text", **xa.headers())
    assert (response.status_code, response.content) == (201, b"")  # TNG's empty 201
    reference_uuid = response["ETag"]
    assert str(uuid.UUID(reference_uuid)) == reference_uuid  # a lower-case UUID
    assert uuid.UUID(reference_uuid).version == 4
    assert response["Location"] == f"/trust/reference/{reference_uuid}"
    row = TrustedReference.objects.get()
    assert (row.uuid, row.country, row.domain, row.version, row.reference_type, row.signature_type) == (
        reference_uuid,
        "XA",
        "DDCC",  # TNG's default domain for an upload
        1,
        "DCC",
        "CMS",
    )
    assert row.cms == body.decode()  # the CMS as uploaded
    assert (row.created_at, row.updated_at) == (NOW, NOW)
    served = client.get(response["Location"], **xa.headers())
    assert served.status_code == 200
    assert served["Content-Type"] == "application/json"
    assert served.json() == {
        **value,
        "uuid": reference_uuid,
        "domain": "DDCC",
        "version": 1,
        "signature": body.decode(),
    }
    event = AuditEvent.objects.filter(action=Action.REFERENCE_UPLOAD).get()
    assert (event.outcome, event.country, event.authentication_thumbprint) == (
        Outcome.SUCCESS,
        "XA",
        xa.auth_thumbprint,
    )
    assert event.details["uuid"] == reference_uuid


def test_application_cms_a_domain_and_unknown_properties_are_accepted(client, xa):
    value = reference(domain="IPS-PILGRIMAGE", type="FHIR", signatureType="NONE", referenceVersion="", extra=[1])
    response = post_reference(client, xa, value, content_type="application/cms")
    assert response.status_code == 201, response.content
    row = TrustedReference.objects.get()
    assert (row.domain, row.reference_type, row.signature_type, row.reference_version) == (
        "IPS-PILGRIMAGE",
        "FHIR",
        "NONE",
        "",
    )
    assert "extra" not in client.get(response["Location"], **xa.headers()).json()


def test_the_bounds_themselves_are_accepted(client, xa):
    """Each field at its longest (Java counts UTF-16 units: an emoji is two)."""
    value = reference(
        url="https://h.example/" + "a" * 82,
        service="s" * 1024,
        thumbprint="F" * 64,
        name="\U0001f600" * 256,
        sslPublicKey="k" * 2048,
        contentType="c" * 512,
        referenceVersion="v" * 64,
        domain="D" * 32,
    )
    assert len(value["url"]) == 100
    assert post_reference(client, xa, value).status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "http://dcc.xa.example",
        "HTTPS://DCC.XA.EXAMPLE:8443/a/b?c=d&e=%20#f",
        "https://192.0.2.1/",
        "https://[2001:db8::1]:443/x",
        "https://dcc.xa.example./trailing-dot",
    ],
)
def test_http_and_https_urls_are_accepted(client, xa, url):
    assert post_reference(client, xa, reference(url=url)).status_code == 201


def test_the_stored_cms_verifies_with_openssl(client, xa, tmp_path):
    value = reference()
    reference_uuid = uploaded(client, xa, value)
    (entry,) = listed(client, xa)
    single = client.get(f"/trust/reference/{reference_uuid}", **xa.headers()).json()
    assert entry == single
    # The signature is the uploader's own: its payload is the reference as the country sent it.
    assert json.loads(openssl_payload(entry["signature"], tmp_path)) == value
    der = base64.b64decode(entry["signature"])
    signer = subprocess.run(
        ["openssl", "pkcs7", "-inform", "DER", "-print_certs"], input=der, capture_output=True, check=True
    ).stdout
    assert b"XA upload" in signer


def test_an_update_by_uuid_replaces_the_reference_and_its_cms(client, xa, frozen, tmp_path, no_outbox):
    reference_uuid = uploaded(client, xa)
    first = TrustedReference.objects.get()
    frozen.move_to(NOW.replace(hour=13))
    changed = reference(uuid=reference_uuid, url="https://new.xa.example/", name="renamed", domain="DCC")
    response = post_reference(client, xa, changed)
    assert response.status_code == 201, response.content
    assert (response["ETag"], response["Location"]) == (reference_uuid, f"/trust/reference/{reference_uuid}")
    row = TrustedReference.objects.get()
    assert (row.pk, row.url, row.name, row.domain, row.version) == (first.pk, changed["url"], "renamed", "DCC", 2)
    assert (row.created_at, row.updated_at) == (NOW, NOW.replace(hour=13))
    assert row.cms != first.cms
    served = client.get(f"/trust/reference/{reference_uuid}", **xa.headers()).json()
    assert json.loads(openssl_payload(served["signature"], tmp_path)) == changed
    event = AuditEvent.objects.filter(action=Action.REFERENCE_UPDATE).get()
    assert (event.outcome, event.details["uuid"], event.details["version"]) == (Outcome.SUCCESS, reference_uuid, 2)
    # An update without a domain takes TNG's default again.
    assert post_reference(client, xa, reference(uuid=reference_uuid)).status_code == 201
    assert TrustedReference.objects.get().domain == "DDCC"


def test_every_country_reads_every_reference_without_a_role(client, xa, xb):
    of_xa = uploaded(client, xa)
    response = client.get(f"/trust/reference/{of_xa}", **xb.headers())
    assert (response.status_code, response.json()["country"]) == (200, "XA")
    assert [entry["uuid"] for entry in listed(client, xb)] == [of_xa]


def test_reading_an_unknown_reference_is_tngs_400(client, xa):
    unknown = str(uuid.uuid4())
    body = refused(
        client.get(f"/trust/reference/{unknown}", **xa.headers()), 400, "0x000", "REFERENCE_NOT_FOUND", Action.REQUEST
    )
    assert (body["problem"], body["details"]) == ("Requested Entity could not be found", unknown)


@pytest.mark.parametrize("path", [str(uuid.UUID(int=0xABCDEF)).upper(), "not-a-uuid", "0" * 36, "%20"])
def test_reading_a_path_that_is_no_lower_case_uuid_is_a_validation_error(client, xa, path):
    body = refused(
        client.get(f"/trust/reference/{path}", **xa.headers()), 400, "0x001", "REFERENCE_UUID_INVALID", Action.REQUEST
    )
    assert body["problem"] == "Validation Error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/trust/reference"),
        ("delete", "/trust/reference"),
        ("get", f"/trust/reference/{uuid.UUID(int=1)}"),
        ("get", "/trustList/references"),
    ],
)
def test_every_route_needs_an_onboarded_client_certificate(client, xa, method, path):
    if method == "get":
        response = client.get(path)
    else:
        response = getattr(client, method)(path, xa.cms_b64(raw(reference())), content_type="application/cms")
    assert (response.status_code, response.json()["code"]) == (401, "0x400")
    unknown = {"HTTP_X_SSL_CLIENT_SHA256": "0" * 64, "HTTP_X_SSL_CLIENT_DN": "CN=XA TLS,C=XA"}
    if method == "get":
        response = client.get(path, **unknown)
    else:
        response = getattr(client, method)(path, b"", content_type="application/cms", **unknown)
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        401,
        "0x402",
        "CLIENT_NOT_ONBOARDED",
    )
    assert not TrustedReference.objects.exists()


# --- the list and its filters ---------------------------------------------------------------------------


@pytest.fixture
def three(client, xa, xb) -> dict[str, str]:
    """XA: a DCC reference (domain DCC, CMS) and a FHIR one (domain DDCC, JWS); XB: a DCC one
    (domain DDCC, NONE). By name."""
    return {
        "xa-dcc": uploaded(client, xa, reference(domain="DCC")),
        "xa-fhir": uploaded(client, xa, reference(type="FHIR", signatureType="JWS", url="https://fhir.xa.example/")),
        "xb-dcc": uploaded(client, xb, reference("XB", signatureType="NONE")),
    }


FILTERS = [
    # (query, the references it selects, by name)
    ("", ["xa-dcc", "xa-fhir", "xb-dcc"]),
    ("?country=XA", ["xa-dcc", "xa-fhir"]),
    ("?country=XB", ["xb-dcc"]),
    ("?country=XA&country=XB", ["xa-dcc", "xa-fhir", "xb-dcc"]),
    ("?country=XA,XB", ["xa-dcc", "xa-fhir", "xb-dcc"]),
    ("?country=XC", []),
    ("?country=xa", []),  # compared as TNG compares: exactly
    ("?domain=DCC", ["xa-dcc"]),
    ("?domain=DDCC", ["xa-fhir", "xb-dcc"]),
    ("?domain=DCC,DDCC", ["xa-dcc", "xa-fhir", "xb-dcc"]),
    ("?referenceType=FHIR", ["xa-fhir"]),
    ("?referenceType=DCC", ["xa-dcc", "xb-dcc"]),
    ("?referenceType=FOO", []),  # TNG: an unknown type is dropped, and no type left means no filter
    ("?referenceType=FOO,FHIR", ["xa-fhir"]),
    ("?signatureType=NONE", ["xb-dcc"]),
    ("?signatureType=CMS&signatureType=JWS", ["xa-dcc", "xa-fhir"]),
    ("?signatureType=X509", []),
    ("?country=XA&domain=DDCC", ["xa-fhir"]),
    ("?country=XB&referenceType=FHIR", []),
    ("?country=XA&referenceType=DCC&signatureType=CMS&domain=DCC", ["xa-dcc"]),
    ("?withFederation=true", ["xa-dcc", "xa-fhir", "xb-dcc"]),  # no reference here is federated
    ("?withFederation=FALSE&country=XB", ["xb-dcc"]),
    ("?country=&domain=", ["xa-dcc", "xa-fhir", "xb-dcc"]),  # blanks are no filter
]


@pytest.mark.parametrize(("query", "names"), FILTERS, ids=[query or "all" for query, _ in FILTERS])
def test_the_list_filters(client, xa, three, query, names):
    found = listed(client, xa, query)
    assert [entry["uuid"] for entry in found] == [three[name] for name in names]  # in upload order
    for entry in found:
        assert set(entry) == DTO_FIELDS


def test_tngs_swapped_filters_are_not_ours(client, xa, three):
    """TNG's controller passes domain to the service as country and country as domain: asked
    for XA's references of domain DCC, it answers those of country "DCC" in domain "XA" (none)."""
    ours = [entry["uuid"] for entry in listed(client, xa, "?country=XA&domain=DCC")]
    swapped = list(
        TrustedReference.objects.matching(
            countries=["DCC"], domains=["XA"], reference_types=[], signature_types=[]
        ).values_list("uuid", flat=True)
    )
    assert ours == [three["xa-dcc"]]
    assert swapped == []
    assert ours != swapped
    # A country alone: TNG filters the domain by it (no domain is called XA) and answers nothing.
    assert [entry["uuid"] for entry in listed(client, xa, "?country=XB")] == [three["xb-dcc"]]


@pytest.mark.parametrize(
    ("query", "reason"),
    [("?withFederation=yes", "INVALID_PARAMETER"), ("?country=X%00A", "INVALID_PARAMETER")],
)
def test_a_bad_filter_is_refused(client, xa, query, reason):
    response = client.get(f"/trustList/references{query}", **xa.headers())
    refused(response, 400, "0x001", reason, Action.REQUEST)


def test_the_list_is_empty_before_any_upload(client, xa):
    assert listed(client, xa) == []


# --- hostile uploads ------------------------------------------------------------------------------------


def _tampered(country) -> bytes:
    der = bytearray(country.cms(raw(reference())))
    der[-3] ^= 1  # a bit of the signature
    return base64.b64encode(bytes(der))


UPDATE = Action.REFERENCE_UPDATE
HOSTILE = [
    # (label, the reference or its raw payload, status, code, reason, action)
    ("not JSON", b"{not json", 400, "0x000", "REFERENCE_NOT_JSON", None),
    ("trailing tokens", raw(reference()) + b" {}", 400, "0x000", "REFERENCE_NOT_JSON", None),
    ("a JSON array", b"[]", 400, "0x000", "REFERENCE_NOT_JSON", None),
    ("NaN", raw(reference(version=float("nan"))), 400, "0x000", "REFERENCE_NOT_JSON", None),
    ("deep JSON", b"[" * 20_000 + b"]" * 20_000, 400, "0x000", "REFERENCE_NOT_JSON", None),
    ("not UTF-8", b'{"name": "\xff"}', 400, "0x000", "REFERENCE_NOT_JSON", None),
    (
        "a key twice",
        raw(reference())[:-1] + b', "url": "javascript:alert(1)"}',
        400,
        "0x000",
        "REFERENCE_NOT_JSON",
        None,
    ),
    ("another country", reference(country="XB"), 403, "0x000", "REFERENCE_COUNTRY", None),
    ("a country in lower case", reference(country="xa"), 403, "0x000", "REFERENCE_COUNTRY", None),
    ("no country", reference(country=None), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("no url", reference(url=None), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("a url that is a number", reference(url=1), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("a null name", reference(name=None) | {"name": None}, 400, "0x000", "REFERENCE_SCHEMA", None),
    ("no referenceVersion", reference(referenceVersion=None), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("a type in lower case", reference(type="dcc"), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("no type", reference(type=None), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("an unknown signatureType", reference(signatureType="X509"), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("a domain that is a number", reference(domain=7), 400, "0x000", "REFERENCE_SCHEMA", None),
    ("a url of 101", reference(url="https://h.example/" + "a" * 83), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("an empty url", reference(url=""), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("a service of 1,025", reference(service="s" * 1025), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("a thumbprint of 65", reference(thumbprint="a" * 65), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("a name of 513", reference(name="n" * 513), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("a name of 257 emoji", reference(name="\U0001f600" * 257), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("an empty name", reference(name=""), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("an sslPublicKey of 2,049", reference(sslPublicKey="k" * 2049), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("a contentType of 513", reference(contentType="c" * 513), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("a referenceVersion of 65", reference(referenceVersion="v" * 65), 400, "0x000", "REFERENCE_FIELD_LENGTH", None),
    ("a NUL in the name", reference(name="a\u0000b"), 400, "0x000", "REFERENCE_FIELD_CHARACTERS", None),
    ("a line break in the name", reference(name="a\nb"), 400, "0x000", "REFERENCE_FIELD_CHARACTERS", None),
    ("a lone surrogate in the name", reference(name="a\ud800b"), 400, "0x000", "REFERENCE_FIELD_CHARACTERS", None),
    (
        "a bidi override in the name",
        reference(name="abc\u202egpj.exe"),
        400,
        "0x000",
        "REFERENCE_FIELD_CHARACTERS",
        None,
    ),
    ("a NUL in the key", reference(sslPublicKey="k\u0000"), 400, "0x000", "REFERENCE_FIELD_CHARACTERS", None),
    ("a javascript: URL", reference(url="javascript:alert(1)"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a JavaScript: URL", reference(url="JaVaScRiPt:alert(1)//https://x"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a data: URL", reference(url="data:text/html;base64,PHNjcmlwdD4="), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a file: URL", reference(url="file:///etc/passwd"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("an ftp: URL", reference(url="ftp://files.xa.example/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a relative URL", reference(url="/verify"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a scheme-relative URL", reference(url="//dcc.xa.example/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("no host", reference(url="https:///verify"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    (
        "credentials",
        reference(url="https://dcc.xb.example@dcc.xa.example/"),
        400,
        "0x000",
        "REFERENCE_URL_INVALID",
        None,
    ),
    (
        "a backslash",
        reference(url="https://evil.example\\@dcc.xa.example/"),
        400,
        "0x000",
        "REFERENCE_URL_INVALID",
        None,
    ),
    ("a space", reference(url="https://dcc.xa.example/a b"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a leading space", reference(url=" https://dcc.xa.example/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a line break", reference(url="https://dcc.xa.example/\n"), 400, "0x000", "REFERENCE_FIELD_CHARACTERS", None),
    ("markup", reference(url='https://x.example/"><script>'), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a bad escape", reference(url="https://x.example/%zz"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a port too large", reference(url="https://x.example:99999/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("port 0", reference(url="https://x.example:0/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a port not a number", reference(url="https://x.example:https/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("an unclosed IPv6 host", reference(url="https://[::1/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a host with an underscore", reference(url="https://a_b.example/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a non-ASCII host", reference(url="https://bücher.example/"), 400, "0x000", "REFERENCE_URL_INVALID", None),
    ("a thumbprint not hex", reference(thumbprint="zz"), 400, "0x000", "REFERENCE_THUMBPRINT_INVALID", None),
    ("a domain of 33", reference(domain="D" * 33), 400, "0x000", "REFERENCE_DOMAIN_INVALID", None),
    ("an empty domain", reference(domain=""), 400, "0x000", "REFERENCE_DOMAIN_INVALID", None),
    ("a domain with a space", reference(domain="D CC"), 400, "0x000", "REFERENCE_DOMAIN_INVALID", None),
    (
        "a uuid in upper case",
        reference(uuid=str(uuid.UUID(int=0xABCDEF)).upper()),
        400,
        "0x000",
        "REFERENCE_UUID_INVALID",
        UPDATE,
    ),
    ("an empty uuid", reference(uuid=""), 400, "0x000", "REFERENCE_UUID_INVALID", UPDATE),
    ("a uuid that is a number", reference(uuid=5), 400, "0x000", "REFERENCE_UUID_INVALID", UPDATE),
    ("an unknown uuid", reference(uuid=str(uuid.UUID(int=5))), 404, "0x000", "REFERENCE_NOT_FOUND", UPDATE),
]


@pytest.mark.parametrize(("label", "value", "status", "code", "reason", "action"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_reference_is_refused_by_name_storing_nothing(
    client, xa, no_outbox, label, value, status, code, reason, action
):
    before = AuditEvent.objects.count()
    refused(post_reference(client, xa, value), status, code, reason, action or Action.REFERENCE_UPLOAD)
    assert AuditEvent.objects.count() == before + 1
    assert not TrustedReference.objects.exists()


def test_a_refused_update_names_its_uuid(client, xa):
    unknown = str(uuid.UUID(int=5))
    body = refused(post_reference(client, xa, reference(uuid=unknown)), 404, "0x000", "REFERENCE_NOT_FOUND", UPDATE)
    assert body["problem"] == "Trusted Reference does not exists."  # TNG's words
    event = AuditEvent.objects.order_by("-leaf_index").first()
    assert (event.details["uuid"], event.country, event.uploader_thumbprint) == (
        unknown,
        "XA",
        thumbprint(xa.upload.der),
    )


def test_another_countrys_reference_cannot_be_updated(client, xa, xb):
    of_xa = uploaded(client, xa)
    before = stored()
    hijack = reference("XB", uuid=of_xa, url="https://evil.example/")
    body = refused(post_reference(client, xb, hijack), 403, "0x000", "REFERENCE_OTHER_COUNTRY", UPDATE)
    assert body["problem"] == "Invalid Country sent"
    assert stored() == before  # TNG takes it: the reference would become XB's, pointing elsewhere
    event = AuditEvent.objects.order_by("-leaf_index").first()
    assert (event.country, event.details["uuid"]) == ("XB", of_xa)
    # Nor by naming XA as the country: that is XB claiming to be XA.
    refused(post_reference(client, xb, reference("XA", uuid=of_xa)), 403, "0x000", "REFERENCE_COUNTRY", UPDATE)
    assert stored() == before


SIGNERS = [
    # (label, how the body is made, status, code, reason, action)
    (
        "another country's upload key",
        lambda xa, xb: xa.cms_b64(raw(reference()), signer=xb.upload),
        403,
        "0x000",
        "UPLOAD_CERT_UNKNOWN",
        Action.REFERENCE_UPLOAD,
    ),
    (
        "the authentication key",
        lambda xa, xb: xa.cms_b64(raw(reference()), signer=xa.auth),
        403,
        "0x000",
        "UPLOAD_CERT_UNKNOWN",
        Action.REFERENCE_UPLOAD,
    ),
    ("a signature that does not verify", lambda xa, xb: _tampered(xa), 400, "0x260", None, Action.REFERENCE_UPLOAD),
    ("not base64", lambda xa, xb: b"not base64!", 400, "0x402", "INVALID_BASE64", Action.REFERENCE_UPLOAD),
    (
        "base64 with a line break",
        lambda xa, xb: xa.cms_b64(raw(reference()))[:40] + b"\n" + xa.cms_b64(raw(reference()))[40:],
        400,
        "0x402",
        "INVALID_BASE64",
        Action.REFERENCE_UPLOAD,
    ),
    ("not a CMS", lambda xa, xb: base64.b64encode(b"not a cms"), 400, "0x402", "CMS_PARSE", Action.REFERENCE_UPLOAD),
    ("an empty body", lambda xa, xb: b"", 400, "0x402", "INVALID_BASE64", Action.REFERENCE_UPLOAD),
    ("oversize", lambda xa, xb: b"A" * (70 * 1024), 413, "0x001", "BODY_TOO_LARGE", Action.REQUEST),
]


@pytest.mark.parametrize(("label", "body", "status", "code", "reason", "action"), SIGNERS, ids=[s[0] for s in SIGNERS])
@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_wrong_signer_or_not_a_cms_is_refused(client, xa, xb, method, label, body, status, code, reason, action):
    if method == "delete":
        of_xa = uploaded(client, xa)
        action = Action.REFERENCE_DELETE if action == Action.REFERENCE_UPLOAD else action
    before, rows = AuditEvent.objects.count(), stored()
    # CONTENT_TYPE too: Django's test client sends none with an empty body.
    headers = xa.headers(CONTENT_TYPE="application/cms")
    response = getattr(client, method)("/trust/reference", body(xa, xb), content_type="application/cms", **headers)
    refused(response, status, code, reason, action)
    assert AuditEvent.objects.count() == before + 1
    assert stored() == rows
    if method == "delete":
        assert TrustedReference.objects.filter(uuid=of_xa).exists()
    if status == 403:
        assert response.json()["problem"] == "Invalid Upload Certificate"


@pytest.mark.parametrize(
    ("not_before", "not_after", "reason"),
    [
        (NOW - dt.timedelta(days=10), NOW - dt.timedelta(days=1), "UPLOAD_CERT_EXPIRED"),
        (NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=30), "UPLOAD_CERT_NOT_YET_VALID"),
    ],
)
def test_an_upload_certificate_outside_its_validity_signs_nothing(client, pki, xa, not_before, not_after, reason):
    """Onboarded, but not valid now: 403 "Invalid Upload Certificate" as for an unknown signer."""
    key = issuance.issue(issuance.name("XA upload 2", "XA"), at=NOW, not_before=not_before, not_after=not_after)
    pki.onboard("XA", "UPLOAD", key)
    body = refused(post_reference(client, xa, reference(), signer=key), 403, "0x000", reason)
    assert body["problem"] == "Invalid Upload Certificate"
    of_xa = uploaded(client, xa)  # the country's valid UPLOAD key
    refused(delete_reference(client, xa, of_xa, signer=key), 403, "0x000", reason, Action.REFERENCE_DELETE)
    assert list(TrustedReference.objects.values_list("uuid", flat=True)) == [of_xa]


def test_a_body_of_another_media_type_is_refused(client, xa):
    response = client.post("/trust/reference", raw(reference()), content_type="application/json", **xa.headers())
    refused(response, 415, "0x001", "UNSUPPORTED_MEDIA_TYPE", Action.REQUEST)
    assert not TrustedReference.objects.exists()


def test_a_chunked_oversize_body_is_refused_too(client, xa):
    """Bounded without a Content-Length as well (gateway.middleware reads at most the limit)."""
    from io import BytesIO

    body = b"A" * (70 * 1024)
    response = client.generic(
        "POST",
        "/trust/reference",
        content_type="application/cms",
        **xa.headers(),
        **{"wsgi.input": BytesIO(body), "wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert (response.status_code, response.json()["reason"]) == (413, "BODY_TOO_LARGE")
    assert not TrustedReference.objects.exists()


# --- deletion -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/cms", "application/cms-text"])
def test_a_country_deletes_its_reference(client, xa, content_type, no_outbox):
    reference_uuid = uploaded(client, xa)
    other = uploaded(client, xa, reference(name="another"))
    assert delete_reference(client, xa, reference_uuid, content_type=content_type).status_code == 204
    assert list(TrustedReference.objects.values_list("uuid", flat=True)) == [other]
    event = AuditEvent.objects.filter(action=Action.REFERENCE_DELETE).get()
    assert (event.outcome, event.country, event.details["uuid"], event.authentication_thumbprint) == (
        Outcome.SUCCESS,
        "XA",
        reference_uuid,
        xa.auth_thumbprint,
    )
    response = client.get(f"/trust/reference/{reference_uuid}", **xa.headers())
    assert (response.status_code, response.json()["reason"]) == (400, "REFERENCE_NOT_FOUND")
    assert [entry["uuid"] for entry in listed(client, xa)] == [other]


DELETE = Action.REFERENCE_DELETE


def test_deletion_refusals(client, xa, xb):
    of_xb = uploaded(client, xb)
    before = stored()
    body = refused(delete_reference(client, xa, of_xb), 403, "0x000", "REFERENCE_OTHER_COUNTRY", DELETE)
    assert body["problem"] == "Invalid Country sent"
    refused(delete_reference(client, xa, str(uuid.uuid4())), 404, "0x000", "REFERENCE_NOT_FOUND", DELETE)
    refused(delete_reference(client, xa, of_xb.upper()), 400, "0x000", "REFERENCE_UUID_INVALID", DELETE)
    refused(delete_reference(client, xa, b'{"uuid": null}'), 400, "0x000", "REFERENCE_UUID_INVALID", DELETE)
    refused(delete_reference(client, xa, b"{}"), 400, "0x000", "REFERENCE_UUID_INVALID", DELETE)
    refused(delete_reference(client, xa, b"{"), 400, "0x000", "REFERENCE_NOT_JSON", DELETE)
    refused(delete_reference(client, xa, b'"' + of_xb.encode() + b'"'), 400, "0x000", "REFERENCE_NOT_JSON", DELETE)
    refused(delete_reference(client, xa, of_xb, signer=xb.upload), 403, "0x000", "UPLOAD_CERT_UNKNOWN", DELETE)
    # XB's own key, over XA's connection: the signer must be the caller's country's.
    assert stored() == before
    assert AuditEvent.objects.filter(action=DELETE, outcome=Outcome.REJECTED).count() == 8
    other_country = AuditEvent.objects.filter(action=DELETE, reason="REFERENCE_OTHER_COUNTRY").get()
    assert (other_country.country, other_country.details["uuid"]) == ("XA", of_xb)
    assert delete_reference(client, xb, of_xb).status_code == 204
    refused(delete_reference(client, xb, of_xb), 404, "0x000", "REFERENCE_NOT_FOUND", DELETE)


def test_a_replayed_upload_cms_deletes_nothing(client, xa):
    """The served CMS (a reference, not a deletion) sent as a deletion names no uuid."""
    reference_uuid = uploaded(client, xa)
    served = client.get(f"/trust/reference/{reference_uuid}", **xa.headers()).json()["signature"]
    response = client.delete("/trust/reference", served, content_type="application/cms", **xa.headers())
    refused(response, 400, "0x000", "REFERENCE_UUID_INVALID", DELETE)
    assert TrustedReference.objects.filter(uuid=reference_uuid).exists()


# --- documentation --------------------------------------------------------------------------------------


def test_the_schema_documents_the_four_routes(client):
    schema = client.get("/api/schema?format=json").json()
    paths = schema["paths"]
    assert set(paths["/trust/reference"]) >= {"post", "delete"}
    assert "get" in paths["/trust/reference/{uuid}"]
    listing = paths["/trustList/references"]["get"]
    assert {parameter["name"] for parameter in listing["parameters"]} >= {
        "country",
        "domain",
        "referenceType",
        "signatureType",
        "withFederation",
    }
    assert set(paths["/trust/reference"]["delete"]["requestBody"]["content"]) == {
        "application/cms",
        "application/cms-text",
    }
