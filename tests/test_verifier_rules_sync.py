"""Business rules from the gateway to the verifier's verdict: a country uploads real EU rules
(``POST /rules``), the operator imports the EU value sets, the gateway publishes both as named
artifacts, a verifier syncs, and ``dcc-verifier verify --country`` decides with them, taking each
rule's version in force at its clock."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from publication.service import publish
from tests.factory import NOW
from tests.helpers import upload
from tests.publishing import anchors, install_publisher, publish_root
from tests.test_rules_api import post_rule, rule_for
from tests.test_verifier_e2e import DCC
from verifier.__main__ import main as cli
from verifier.issue import issue_hc1
from verifier.sync import Response, sync

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "https://mirror.example/publication/"
VALUE_SETS = Path(__file__).parent / "data" / "rules" / "business-rules" / "valuesets" / "valueSets.json"


def _fetch(url, headers, cap, progress):
    try:
        return Response(200, {}, (publish_root() / url.removeprefix(BASE)).read_bytes())
    except FileNotFoundError:
        return Response(404, {}, b"")


def _synced(state: Path, pki, at: dt.datetime) -> None:
    publish(at=at, force=True)
    sync(BASE, state, anchors(pki), at, fetch=_fetch)


def _verify(capsys, state: Path, at: dt.datetime, code: str) -> tuple[int, dict]:
    exit_code = cli(["verify", "--state", str(state), "--at", at.isoformat(), "--country", "XA", "--json", code])
    (result,) = json.loads(capsys.readouterr().out)
    return exit_code, result


def test_rules_uploaded_to_the_gateway_decide_the_verifiers_verdict(client, pki, xa, frozen, tmp_path, capsys):
    install_publisher(pki)
    call_command("import_valuesets", str(VALUE_SETS))
    # DE's "complete schedule" and "accepted vaccines" (a value set), as XA's, in force in 3 days;
    # a second version of the first, in force in 5 days, that no certificate meets.
    assert post_rule(client, xa, rule_for("XA", path="DE/VR-DE-0001")).status_code == 201
    assert post_rule(client, xa, rule_for("XA", path="AT/VR-AT-0000")).status_code == 201
    never = {
        "if": [{"var": "payload.v.0"}, {">": [{"var": "payload.v.0.dn"}, {"+": [{"var": "payload.v.0.sd"}, 9]}]}, True]
    }
    second = rule_for("XA", path="DE/VR-DE-0001", days=5, Version="1.0.1", Logic=never)
    answer = post_rule(client, xa, second)
    assert answer.status_code == 201, answer.json()
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201

    expires = NOW + dt.timedelta(days=30)
    complete = issue_hc1(DCC, dsc.certificate, dsc.key, iat=NOW, exp=expires, issuer="XA")
    incomplete_dcc = {**DCC, "v": [{**DCC["v"][0], "dn": 1}]}
    incomplete = issue_hc1(incomplete_dcc, dsc.certificate, dsc.key, iat=NOW, exp=expires, issuer="XA")
    state = tmp_path / "state"

    day4 = NOW + dt.timedelta(days=4)
    frozen.move_to(day4)
    _synced(state, pki, day4)
    assert cli(["inspect", "--state", str(state), "--at", day4.isoformat()]) == 0
    assert "rules:     XA 3; value sets 9" in capsys.readouterr().out
    exit_code, result = _verify(capsys, state, day4, complete)
    assert (exit_code, result["rules"]["outcome"]) == (0, "PASSED"), result["rules"]
    assert [(rule["identifier"], rule["version"]) for rule in result["rules"]["results"]] == [
        ("VR-XA-0000", "1.0.0"),
        ("VR-XA-0001", "1.0.0"),
    ]
    exit_code, result = _verify(capsys, state, day4, incomplete)
    assert (exit_code, result["reason"]) == (1, "RULES_FAILED")
    assert result["rules"]["failed"] == ["VR-XA-0001 1.0.0"]
    assert result["rules"]["skipped"] == []

    day6 = NOW + dt.timedelta(days=6)  # the second version is in force
    frozen.move_to(day6)
    _synced(state, pki, day6)
    exit_code, result = _verify(capsys, state, day6, complete)
    assert (exit_code, result["rules"]["failed"]) == (1, ["VR-XA-0001 1.0.1"])
