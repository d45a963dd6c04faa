"""End to end: the gateway publishes, the verifier CLI syncs over HTTP from the running server,
verifies a QR code signed by an uploaded DSC, rejects a forged one, and rejects the genuine one
after the DSC is revoked and the next sync."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tests.helpers import revoke, upload
from tests.publishing import install_publisher
from verifier.__main__ import main as cli
from verifier.issue import issue_hc1
from verifier.qr import qr_png

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DCC = {
    "ver": "1.3.0",
    "nam": {"fn": "Musterfrau", "fnt": "MUSTERFRAU", "gn": "Erika", "gnt": "ERIKA"},
    "dob": "1964-08-12",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 2,
            "sd": 2,
            "dt": "2021-05-29",
            "co": "XA",
            "is": "Ministry of Health XA",
            "ci": "URN:UVCI:01:XA:E2E0001#X",
        }
    ],
}


def _verify(capsys, state, *arguments):
    code = cli(["verify", "--state", str(state), "--json", *arguments])
    return code, json.loads(capsys.readouterr().out)


def test_sync_verify_revoke_resync(live_server, client, pki, tmp_path, capsys):
    now = timezone.now()
    install_publisher(pki, at=now)
    xa = pki.country("XA")
    dsc = xa.dsc(at=now)
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201  # published on commit (eager)
    ta = tmp_path / "ta.pem"
    ta.write_bytes(pki.ta.cert_pem)
    state = tmp_path / "verifier"
    url = f"{live_server.url}/publication/"
    assert cli(["sync", "--url", url, "--trust-anchor", str(ta), "--state", str(state), "--quiet"]) == 0
    assert "full" in capsys.readouterr().out

    genuine = issue_hc1(DCC, dsc.certificate, dsc.key, iat=now, exp=now + dt.timedelta(days=30), issuer="XA")
    image = tmp_path / "genuine.png"
    image.write_bytes(qr_png(genuine))
    code, results = _verify(capsys, state, "--image", str(image))
    assert code == 0
    assert results[0]["valid"] is True

    stranger = xa.dsc(at=now)  # issued by XA's CSCA but never uploaded
    forged = issue_hc1(DCC, stranger.certificate, stranger.key, iat=now, exp=now + dt.timedelta(days=30), issuer="XA")
    code, results = _verify(capsys, state, forged)
    assert code == 1
    assert results[0]["valid"] is False
    assert results[0]["reason"] == "KID_UNKNOWN"

    assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204
    code, results = _verify(capsys, state, genuine)
    assert code == 0, "before the next sync the verifier cannot know"
    assert cli(["sync", "--url", url, "--trust-anchor", str(ta), "--state", str(state), "--quiet"]) == 0
    assert "delta" in capsys.readouterr().out
    code, results = _verify(capsys, state, genuine)
    assert code == 1
    assert results[0]["valid"] is False
    assert results[0]["reason"] == "DSC_REVOKED"  # the state knows why: the DSC was revoked
