"""Identity of country backends from the TLS terminator's headers (DGCG 0x400-0x403)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from django.test import RequestFactory
from django.urls import path
from rest_framework.views import APIView

from countries.identity import authenticate, dn_countries, normalise_thumbprint
from countries.models import Role, Status, TrustedParty
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki import issuance
from gateway.pki.certs import thumbprint
from tests.factory import NOW
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db


def _get(client, **headers):
    return client.get("/trustList", **headers)


def test_authenticated_request_succeeds(client, xa):
    assert _get(client, **xa.headers()).status_code == 200


@pytest.mark.parametrize("encoding", ["hex-lower", "hex-upper", "base64", "base64-urlencoded"])
def test_thumbprint_header_encodings(client, xa, encoding):
    digest = bytes.fromhex(xa.auth_thumbprint)
    value = {
        "hex-lower": digest.hex(),
        "hex-upper": digest.hex().upper(),
        "base64": base64.b64encode(digest).decode(),
        "base64-urlencoded": quote(base64.b64encode(digest).decode(), safe=""),
    }[encoding]
    response = _get(client, HTTP_X_SSL_CLIENT_SHA256=value, HTTP_X_SSL_CLIENT_DN="CN=x,C=XA")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "dn",
    [
        "C=XA",
        "CN=XA TLS,O=Ministry,C=XA",
        "/C=XA/O=Ministry/CN=XA TLS",
        quote("CN=XA TLS,C=XA"),
        "emailAddress=ops@xa.example,CN=XA,C=XA",
    ],
)
def test_dn_forms(client, xa, dn):
    assert _get(client, HTTP_X_SSL_CLIENT_SHA256=xa.auth_thumbprint, HTTP_X_SSL_CLIENT_DN=dn).status_code == 200


def test_client_certificate_header_as_urlencoded_pem(client, xa):
    pem = quote(xa.auth.cert_pem.decode(), safe="")
    assert _get(client, HTTP_X_SSL_CLIENT_CERT=pem).status_code == 200


def test_missing_headers_are_0x400(client, xa):
    assert_problem(_get(client), 401, "0x400", "MISSING_CLIENT_IDENTITY")
    event = AuditEvent.objects.get(action=Action.AUTHENTICATE)
    assert (event.action, event.outcome) == (Action.AUTHENTICATE, Outcome.REJECTED)


def test_undecodable_thumbprint_counts_as_missing(client, xa):
    response = _get(client, HTTP_X_SSL_CLIENT_SHA256="zz-not-a-hash", HTTP_X_SSL_CLIENT_DN="C=XA")
    assert_problem(response, 401, "0x400")


def test_dn_without_country_is_0x401(client, xa):
    response = _get(client, HTTP_X_SSL_CLIENT_SHA256=xa.auth_thumbprint, HTTP_X_SSL_CLIENT_DN="CN=XA TLS")
    body = assert_problem(response, 400, "0x401", "CLIENT_COUNTRY_MISSING")
    assert body["sendValue"] == "CN=XA TLS"


def test_country_hidden_in_escaped_common_name_is_not_a_country(client, xa):
    response = _get(client, HTTP_X_SSL_CLIENT_SHA256=xa.auth_thumbprint, HTTP_X_SSL_CLIENT_DN=r"CN=x\,C=XA")
    assert_problem(response, 400, "0x401")


def test_unknown_certificate_is_0x402(client, xa):
    stranger = issuance.issue(issuance.name("stranger", "XA"), at=NOW)
    response = _get(client, HTTP_X_SSL_CLIENT_SHA256=thumbprint(stranger.der), HTTP_X_SSL_CLIENT_DN="C=XA")
    assert_problem(response, 401, "0x402", "CLIENT_NOT_ONBOARDED")


def test_certificate_of_other_country_in_dn_is_0x402(client, xa, xb):
    response = _get(client, HTTP_X_SSL_CLIENT_SHA256=xa.auth_thumbprint, HTTP_X_SSL_CLIENT_DN="C=XB")
    assert_problem(response, 401, "0x402")


def test_upload_certificate_cannot_authenticate(client, xa):
    response = _get(client, HTTP_X_SSL_CLIENT_SHA256=thumbprint(xa.upload.der), HTTP_X_SSL_CLIENT_DN="C=XA")
    assert_problem(response, 401, "0x402")


@pytest.mark.parametrize("status", [Status.SUSPENDED, Status.REMOVED])
def test_suspended_or_removed_certificate_is_0x402(client, xa, status):
    TrustedParty.objects.filter(thumbprint=xa.auth_thumbprint).update(status=status)
    assert_problem(_get(client, **xa.headers()), 401, "0x402", f"CLIENT_{status}")


def test_federated_certificate_is_0x402(client, xa):
    TrustedParty.objects.filter(thumbprint=xa.auth_thumbprint).update(source_gateway="peer-gateway")
    body = assert_problem(_get(client, **xa.headers()), 401, "0x402", "CLIENT_FEDERATED")
    assert "federated" in body["details"]


def test_row_with_broken_trust_anchor_signature_is_0x402(client, xa, pki):
    other_ta = issuance.issue(issuance.name("Test Trust Anchor"), at=NOW, ca=True)  # same name, other key
    from gateway.pki import onboarding

    forged = onboarding.sign_onboarding(xa.auth.der, other_ta.der, other_ta.key)
    TrustedParty.objects.filter(thumbprint=xa.auth_thumbprint).update(signature=forged)
    assert_problem(_get(client, **xa.headers()), 401, "0x402", "CLIENT_NOT_ONBOARDED")


def test_forged_headers_from_non_proxy_address_are_ignored(client, xa):
    response = _get(client, REMOTE_ADDR="203.0.113.7", **xa.headers())
    assert_problem(response, 401, "0x400", "MISSING_CLIENT_IDENTITY")


def test_forged_certificate_header_from_non_proxy_address_is_ignored(client, xa):
    pem = quote(xa.auth.cert_pem.decode(), safe="")
    response = _get(client, REMOTE_ADDR="203.0.113.7", HTTP_X_SSL_CLIENT_CERT=pem)
    assert_problem(response, 401, "0x400")


def test_no_proxy_configured_trusts_no_headers(client, xa, settings):
    settings.GATEWAY_TRUSTED_PROXIES = []
    assert_problem(_get(client, **xa.headers()), 401, "0x400")


class _RoleView(APIView):
    """A view that declares a role, as DGCG's revocation endpoints do."""

    def get(self, request):
        from django.http import HttpResponse
        from django.utils import timezone

        authenticate(request._request, at=timezone.now(), roles=[Role.REVOCATION_LIST_READER])
        return HttpResponse("ok")


urlpatterns = [path("needs-role", _RoleView.as_view())]


@pytest.mark.urls("tests.test_identity")
def test_missing_role_is_0x403_and_granted_role_passes(client, xa):
    from countries import services

    assert_problem(client.get("/needs-role", **xa.headers()), 403, "0x403", "ROLE_MISSING")
    party = TrustedParty.objects.get(thumbprint=xa.auth_thumbprint)
    services.grant_role(party_id=party.pk, role=Role.REVOCATION_LIST_READER, actor="test", at=NOW)
    assert client.get("/needs-role", **xa.headers()).status_code == 200


def test_normalise_thumbprint_rejects_wrong_lengths():
    assert normalise_thumbprint(base64.b64encode(b"short").decode()) is None
    assert normalise_thumbprint("ab" * 31) is None
    assert normalise_thumbprint(None) is None


def test_dn_countries_parses_rdns_only():
    assert dn_countries("CN=a,C=XA") == ("XA",)
    assert sorted(dn_countries("C=XA,C=XB")) == ["XA", "XB"]
    assert dn_countries(r"CN=a\,C=FR") == ()
    assert dn_countries("not a dn") == ()


def test_authenticate_is_usable_without_drf(xa):
    request = RequestFactory().get("/", **xa.headers())
    assert authenticate(request, at=NOW).country == "XA"


def test_proxy_secret_is_required_when_configured(client, xa, settings):
    settings.GATEWAY_PROXY_SECRET = "s3cret-from-nginx"
    assert_problem(_get(client, **xa.headers()), 401, "0x400")
    assert _get(client, HTTP_X_GATEWAY_PROXY_SECRET="s3cret-from-nginx", **xa.headers()).status_code == 200
    assert_problem(_get(client, HTTP_X_GATEWAY_PROXY_SECRET="guess", **xa.headers()), 401, "0x400")


def test_unix_socket_proxy(client, xa, settings):
    settings.GATEWAY_TRUSTED_PROXIES = ["unix"]
    assert _get(client, REMOTE_ADDR="", **xa.headers()).status_code == 200
    assert_problem(_get(client, **xa.headers()), 401, "0x400")  # 127.0.0.1 is no longer a proxy


def test_expired_client_certificate_is_refused(client, pki, xa, frozen):
    import datetime as dt

    frozen.shift(dt.timedelta(days=400))  # the TLS certificate was issued for 365 days
    pem = quote(xa.auth.cert_pem.decode(), safe="")
    assert_problem(_get(client, HTTP_X_SSL_CLIENT_CERT=pem), 401, "0x402", "CLIENT_CERT_EXPIRED")
