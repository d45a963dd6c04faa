"""One rule for which DSCs are trusted: the DGCG and TNG downloads and the published lists agree
when a CSCA is suspended, reactivated or removed (trustlist.trust)."""

from __future__ import annotations

import base64

import pytest
from django.core.management import call_command

from gateway.pki.certs import thumbprint
from tests.factory import NOW
from tests.helpers import upload
from tests.publishing import anchors, install_publisher, publish_root, served_trust_list

# Real commits, so that on-commit publication runs as in production (eagerly here).
pytestmark = pytest.mark.django_db(transaction=True)

WHERE = ("/trustList", "/trustList/DSC", "/trustList/DSC/XC", "/trustList/certificate", "published")


def found_in(client, reader, pki, dsc_thumbprint: str) -> dict[str, bool]:
    """Whether each download of the API, and the published lists, holds the DSC."""
    headers = reader.headers()
    tng = client.get("/trustList/certificate", **headers).json()
    held = {
        "/trustList": {e["thumbprint"] for e in client.get("/trustList", **headers).json()},
        "/trustList/DSC": {e["thumbprint"] for e in client.get("/trustList/DSC", **headers).json()},
        "/trustList/DSC/XC": {e["thumbprint"] for e in client.get("/trustList/DSC/XC", **headers).json()},
        "/trustList/certificate": {thumbprint(base64.b64decode(e["certificate"])) for e in tng},
        "published": set(served_trust_list(publish_root(), anchors(pki), NOW)),
    }
    return {where: dsc_thumbprint in held[where] for where in WHERE}


def test_a_cscas_status_decides_for_its_dscs_everywhere_at_once(client, pki, frozen):
    install_publisher(pki)
    xa, xc = pki.country("XA"), pki.country("XC")
    dsc = xc.dsc()
    assert upload(client, xc, xc.cms_b64(dsc.der)).status_code == 201
    dsc_thumbprint, csca_thumbprint = thumbprint(dsc.der), thumbprint(xc.csca.der)

    def status(action: str) -> dict[str, bool]:
        if action:
            call_command("set_onboarded_status", action, csca_thumbprint, "--reason", "test")
        return found_in(client, xa, pki, dsc_thumbprint)

    assert status("") == dict.fromkeys(WHERE, True)
    assert status("suspend") == dict.fromkeys(WHERE, False)
    assert status("reactivate") == dict.fromkeys(WHERE, True)
    assert status("remove") == dict.fromkeys(WHERE, False)


def test_a_delta_tells_clients_that_a_cscas_dscs_are_withdrawn(client, pki, frozen):
    install_publisher(pki)
    xa, xc = pki.country("XA"), pki.country("XC")
    dsc = xc.dsc()
    assert upload(client, xc, xc.cms_b64(dsc.der)).status_code == 201
    since = {"HTTP_IF_MODIFIED_SINCE": "2000-01-01T00:00:00Z"}

    def delta_entry() -> dict:
        entries = client.get("/trustList/DSC", **xa.headers(**since)).json()
        (entry,) = [e for e in entries if e["thumbprint"] == thumbprint(dsc.der)]
        return entry

    assert delta_entry()["rawData"] is not None
    call_command("set_onboarded_status", "suspend", thumbprint(xc.csca.der), "--reason", "test")
    assert (delta_entry()["rawData"], delta_entry()["signature"]) == (None, None)
    call_command("set_onboarded_status", "reactivate", thumbprint(xc.csca.der))
    assert delta_entry()["rawData"] is not None


def test_a_desc_is_trusted_while_its_deca_is(client, pki, frozen):
    from gateway.pki import issuance

    xa = pki.country("XA")
    deca = issuance.issue(issuance.name("XA DECA", "XA"), at=NOW, days=1460, ca=True)
    pki.onboard("XA", "DECA", deca)
    desc = issuance.issue(issuance.name("XA DESC", "XA"), at=NOW, days=365, issuer=deca)
    body = {"cms": xa.cms_b64(desc.der).decode(), "group": "DESC"}
    response = client.post("/trustedCertificate", body, content_type="application/json", **xa.headers())
    assert response.status_code == 201, response.content

    def served() -> bool:
        entries = client.get("/trustList/certificate?group=DESC", **xa.headers()).json()
        return thumbprint(desc.der) in {thumbprint(base64.b64decode(e["certificate"])) for e in entries}

    assert served()
    call_command("set_onboarded_status", "suspend", thumbprint(deca.der), "--reason", "test")
    assert not served()
