"""Business rules end to end, with the real parts (issue 18): a country uploads a rule through the
API, a Celery worker publishes it, the verifier CLI syncs over HTTP from the running gateway, and a
code is admitted at one clock and refused by the rule at another, the rule named and described.
(The admin's upload of a rule: tests/test_rules_admin.py.)"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.utils import timezone

from tests import processes
from tests.helpers import upload
from tests.publishing import install_publisher, publish_root
from tests.test_publication_processes import broker
from tests.test_rules_api import post_rule
from tests.test_verifier_e2e import DCC
from verifier.__main__ import main as cli
from verifier.issue import issue_hc1

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _published_rules() -> list[str]:
    try:
        payload = (publish_root() / "index.jws").read_bytes().split(b".")[1]
        index = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        artifact = (publish_root() / index["artifacts"]["rules"]["path"]).read_bytes().split(b".")[1]
        content = json.loads(base64.urlsafe_b64decode(artifact + b"=" * (-len(artifact) % 4)))["content"]
    except (FileNotFoundError, KeyError, IndexError):
        return []
    return [rule["identifier"] for rule in content["rules"]]


def test_a_rule_published_by_the_worker_decides_at_its_clock(live_server, client, pki, tmp_path, capsys):
    now = timezone.now()
    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with processes.redis_server(port), processes.celery("worker", processes.child_env(url), tmp_path / "w.log"):
        with broker(url):
            install_publisher(pki, at=now)
            xa = pki.country("XA")
            dsc = xa.dsc(at=now)
            assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
            # XA invalidates its own single-dose vaccinations from a minute on (an Invalidation rule
            # may start at once; an Acceptance rule only 48 h ahead).
            rule = {
                "Identifier": "IR-XA-0001",
                "Type": "Invalidation",
                "Country": "XA",
                "Version": "1.0.0",
                "SchemaVersion": "1.0.0",
                "Engine": "CERTLOGIC",
                "EngineVersion": "1.0.0",
                "CertificateType": "Vaccination",
                "Description": [
                    {"lang": "en", "desc": "Single-dose vaccinations of XA are no longer valid."},
                    {"lang": "de", "desc": "Einzeldosis-Impfungen aus XA gelten nicht mehr."},
                ],
                "ValidFrom": _stamp(now + dt.timedelta(minutes=1)),
                "ValidTo": _stamp(now + dt.timedelta(days=30)),
                "AffectedFields": ["v.0", "v.0.dn"],
                "Logic": {"if": [{"var": "payload.v.0"}, {">": [{"var": "payload.v.0.dn"}, 1]}, True]},
            }
            assert post_rule(client, xa, rule).status_code == 201
            processes.wait_for(lambda: _published_rules() == ["IR-XA-0001"], timeout=60, what="the worker")
    assert b"publish_changes" in (tmp_path / "w.log").read_bytes()

    ta = tmp_path / "ta.pem"
    ta.write_bytes(pki.ta.cert_pem)
    state = tmp_path / "verifier"
    sync = ["sync", "--url", f"{live_server.url}/publication/", "--trust-anchor", str(ta), "--state", str(state)]
    assert cli([*sync, "--quiet"]) == 0
    capsys.readouterr()
    single = {**DCC, "v": [{**DCC["v"][0], "dn": 1, "sd": 1}]}
    code = issue_hc1(single, dsc.certificate, dsc.key, iat=now, exp=now + dt.timedelta(days=30), issuer="XA")
    verify = ["verify", "--state", str(state), "--country", "XA", code]

    assert cli([*verify, "--at", _stamp(now + dt.timedelta(seconds=30))]) == 0  # the rule is not in force yet
    assert capsys.readouterr().out.startswith("VALID")
    assert cli([*verify, "--at", _stamp(now + dt.timedelta(minutes=5)), "--lang", "de"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("INVALID")
    assert "IR-XA-0001" in out
    assert "Einzeldosis-Impfungen aus XA gelten nicht mehr." in out
