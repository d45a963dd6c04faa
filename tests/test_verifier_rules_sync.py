"""Business rules from a gateway to the verifier's decision: named content ``rules`` and
``valuesets`` in the published form (docs/publication-format.md, "Named artifacts"; the gateway's
rules app publishes them so), signed and bound by the index, synced, then read by
``verifier.sources.from_state`` and applied by ``dcc-verifier verify --country``."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from publication.providers import named_contents, register_named_content, unregister_named_content
from publication.service import publish
from tests.factory import NOW
from tests.publishing import anchors, install_publisher, publish_root
from tests.test_verifier_e2e import DCC
from verifier.__main__ import main as cli
from verifier.issue import issue_hc1
from verifier.sync import Response, sync

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "https://mirror.example/publication/"


def _rule(identifier: str, logic: dict, version: str = "1.0.0") -> dict:
    return {
        "Identifier": identifier,
        "Type": "Acceptance",
        "Country": identifier[3:5],
        "Version": version,
        "SchemaVersion": "1.0.0",
        "Engine": "CERTLOGIC",
        "EngineVersion": "0.7.5",
        "CertificateType": "Vaccination",
        "Description": [{"lang": "en", "desc": f"{identifier}: the doses must be complete"}],
        "ValidFrom": "2026-05-01T00:00:00Z",
        "ValidTo": "2027-05-01T00:00:00Z",
        "AffectedFields": ["v.0.dn", "v.0.sd", "v.0.mp"],
        "Logic": logic,
    }


COMPLETE = {"if": [{"var": "payload.v.0"}, {">=": [{"var": "payload.v.0.dn"}, {"var": "payload.v.0.sd"}]}, True]}
KNOWN_VACCINE = {"in": [{"var": "payload.v.0.mp"}, {"var": "external.valueSets.vaccines-covid-19-names"}]}


class _Published:
    """A named content as the gateway's rules app publishes it."""

    def __init__(self, name: str, value: object) -> None:
        self.name, self.value, self.change_kinds = name, value, frozenset({f"TEST_{name.upper()}"})

    def full(self) -> object:
        return self.value


def _entry(rule: dict) -> dict:
    return {
        "country": rule["Country"],
        "identifier": rule["Identifier"],
        "version": rule["Version"],
        "type": rule["Type"],
        "validFrom": rule["ValidFrom"],
        "validTo": rule["ValidTo"],
        "raw": base64.b64encode(json.dumps(rule).encode()).decode(),
        "signature": base64.b64encode(b"detached CMS").decode(),
    }


@pytest.fixture
def published_rules(pki, frozen):
    """``rules`` and ``valuesets`` registered for this test (any provider of those names set aside)."""
    held = {provider.name: provider for provider in named_contents() if provider.name in ("rules", "valuesets")}
    for name in held:
        unregister_named_content(name)
    rules = _Published(
        "rules",
        {"rules": [_entry(_rule("VR-XA-0001", COMPLETE)), _entry(_rule("VR-XA-0002", KNOWN_VACCINE))]},
    )
    value_sets = _Published("valuesets", {"vaccines-covid-19-names": ["EU/1/20/1528"]})
    register_named_content(rules)
    register_named_content(value_sets)
    install_publisher(pki)
    yield rules
    unregister_named_content("rules")
    unregister_named_content("valuesets")
    for provider in held.values():
        register_named_content(provider)


def _fetch(url, headers, cap, progress):
    try:
        return Response(200, {}, (publish_root() / url.removeprefix(BASE)).read_bytes())
    except FileNotFoundError:
        return Response(404, {}, b"")


def test_rules_published_by_the_gateway_decide_the_verifiers_verdict(
    client, published_rules, pki, xa, tmp_path, capsys
):
    from tests.helpers import upload

    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    publish(at=NOW, force=True)
    state = tmp_path / "state"
    sync(BASE, state, anchors(pki), NOW, fetch=_fetch)
    expires = NOW + dt.timedelta(days=30)
    complete = issue_hc1(DCC, dsc.certificate, dsc.key, iat=NOW, exp=expires, issuer="XA")
    incomplete_dcc = {**DCC, "v": [{**DCC["v"][0], "dn": 1}]}
    incomplete = issue_hc1(incomplete_dcc, dsc.certificate, dsc.key, iat=NOW, exp=expires, issuer="XA")
    arguments = ["verify", "--state", str(state), "--at", NOW.isoformat(), "--country", "XA", "--json"]

    assert cli([*arguments, complete]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["rules"]["outcome"] == "PASSED"
    assert [rule["identifier"] for rule in result["rules"]["results"]] == ["VR-XA-0001", "VR-XA-0002"]

    assert cli([*arguments, incomplete]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["reason"] == "RULES_FAILED"
    assert result["rules"]["failed"] == ["VR-XA-0001 1.0.0"]

    assert cli(["inspect", "--state", str(state), "--at", NOW.isoformat()]) == 0
    assert "rules:     XA 2; value sets 1" in capsys.readouterr().out

    # A new version from the gateway replaces the old one at the next sync.
    published_rules.value = {"rules": [_entry(_rule("VR-XA-0001", {"===": [1, 2]}, version="1.0.1"))]}
    from gateway.outbox.services import record_change

    record_change(kind="TEST_RULES", at=NOW)
    publish(at=NOW, force=True)
    sync(BASE, state, anchors(pki), NOW, fetch=_fetch)
    assert cli([*arguments, complete]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["rules"]["failed"] == ["VR-XA-0001 1.0.1"]
