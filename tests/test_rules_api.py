"""Business rules through DGCG's API (issue 18): upload with every DGCG check in its order and code,
then ours; every real rule countries uploaded to the EU gateway accepted once re-dated; a table of
hostile uploads refused by name, storing nothing, audited; deletion; DGCG's version selection."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki import cms
from rules.models import ValidationRule
from tests.factory import NOW

pytestmark = pytest.mark.django_db
RULES = Path(__file__).parent / "data" / "rules" / "business-rules"
REAL_RULES = sorted(RULES.glob("*/*/rule.json"))


def real_rule(path: str = "AT/VR-AT-0000") -> dict:
    return json.loads((RULES / path / "rule.json").read_text())


def rule_for(country: str, *, path: str = "AT/VR-AT-0000", days: int = 3, **changes) -> dict:
    """A real rule, as ``country``'s, valid from ``days`` ahead for 30 days (DGCG's window)."""
    rule = copy.deepcopy(real_rule(path))
    prefix, _, number = rule["Identifier"].split("-")
    rule["Identifier"] = f"{prefix}-{country}-{number}"
    rule["Country"] = country
    rule["ValidFrom"] = _time(NOW + dt.timedelta(days=days))
    rule["ValidTo"] = _time(NOW + dt.timedelta(days=days + 30))
    rule.update(changes)
    return rule


def _time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def post_rule(client, country, rule: dict | bytes, *, signer=None):
    raw = rule if isinstance(rule, bytes) else json.dumps(rule).encode()
    body = country.cms_b64(raw, signer=signer)
    return client.post("/rules", body, content_type="application/cms-text", **country.headers())


def delete_rule(client, country, identifier: str, *, alias: bool = False):
    body = country.cms_b64(identifier.encode())
    if alias:
        return client.post("/rules/delete", body, content_type="application/cms", **country.headers())
    return client.delete("/rules", body, content_type="application/cms", **country.headers())


def refused(response, status: int, code: str, reason: str, action: str = Action.RULE_UPLOAD) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["code"], body["reason"]) == (code, reason), body
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.outcome, event.reason) == (action, Outcome.REJECTED, reason)


# --- upload ---------------------------------------------------------------------------------------------


def test_a_rule_is_stored_as_signed_and_served_by_country(client, xa, xb):
    rule = rule_for("XA")
    raw = json.dumps(rule).encode()
    assert post_rule(client, xa, raw).status_code == 201
    row = ValidationRule.objects.get()
    assert (row.identifier, row.version, row.rule_type, row.certificate_type) == (
        "VR-XA-0000",
        "1.0.0",
        "Acceptance",
        "Vaccination",
    )
    assert bytes(row.raw) == raw
    # The uploader's detached CMS verifies over the bytes as signed: anyone can check who signed.
    assert cms.verify_detached(base64.b64decode(row.signature), raw).payload == raw
    served = client.get("/rules/XA", **xb.headers()).json()  # any country reads any country's rules
    (version,) = served["VR-XA-0000"]
    assert version["version"] == "1.0.0"
    assert version["validFrom"] == rule["ValidFrom"]
    assert cms.parse_attached(base64.b64decode(version["cms"])).payload == raw
    event = AuditEvent.objects.filter(action=Action.RULE_UPLOAD, outcome=Outcome.SUCCESS).get()
    assert event.details["identifier"] == "VR-XA-0000"


@pytest.mark.parametrize("path", [str(p.parent.relative_to(RULES)) for p in REAL_RULES])
def test_every_real_rule_passes_upload_validation_when_re_dated(client, pki, frozen, settings, path):
    # The EU's template rules are the EU's: a deployment that carries them onboards "EU" as a
    # virtual country, as DGCG does.
    settings.GATEWAY_VIRTUAL_COUNTRIES = [*settings.GATEWAY_VIRTUAL_COUNTRIES, "EU"]
    rule = real_rule(path)
    country = pki.country(rule["Country"])
    invalidation = rule["Type"] == "Invalidation"
    rule["ValidFrom"] = _time(NOW + dt.timedelta(days=1 if invalidation else 3))
    rule["ValidTo"] = _time(NOW + dt.timedelta(days=40))
    response = post_rule(client, country, rule)
    assert response.status_code == 201, response.content


def test_the_real_rules_are_all_there():
    assert len(REAL_RULES) == 118  # a rule that goes missing from the copy fails here, not silently


def _deep_logic(depth: int) -> dict:
    logic: dict = {"var": "payload.v.0"}
    for _ in range(depth):
        logic = {"!": [logic]}
    return logic


HOSTILE = [
    # (label, what the rule becomes, status, code, reason)
    ("not JSON", b"{not json", 400, "0x200", "RULE_NOT_JSON"),
    ("a JSON array", b"[1, 2]", 400, "0x200", "RULE_NOT_JSON"),
    ("deep JSON", b"[" * 20_000 + b"]" * 20_000, 400, "0x200", "RULE_NOT_JSON"),
    ("no Logic", {"Logic": None}, 400, "0x200", "RULE_SCHEMA"),
    ("an unknown field", {"Extra": 1}, 400, "0x200", "RULE_SCHEMA"),
    ("a bad Identifier", {"Identifier": "VR-XA-12"}, 400, "0x200", "RULE_SCHEMA"),
    ("a markup description", {"Description": [{"lang": "english", "desc": "<b>"}]}, 400, "0x200", "RULE_SCHEMA"),
    ("a bad semver", {"Version": "1.0"}, 400, "0x200", "RULE_SCHEMA"),
    ("Logic too deep", {"Logic": _deep_logic(60)}, 400, "0x200", "RULE_TOO_COMPLEX"),
    ("a test prefix for a vaccination", {"Identifier": "TR-XA-0000"}, 400, "0x250", "RULE_ID_TYPE_MISMATCH"),
    ("an IR acceptance rule", {"Identifier": "IR-XA-0000"}, 400, "0x250", "RULE_ID_TYPE_MISMATCH"),
    ("an invalidation without IR", {"Type": "Invalidation"}, 400, "0x250", "RULE_ID_INVALIDATION"),
    ("another Country", {"Country": "XB"}, 403, "0x210", "RULE_COUNTRY"),
    ("another country's Identifier", {"Identifier": "VR-XB-0000"}, 403, "0x210", "RULE_ID_COUNTRY"),
    ("ValidTo before ValidFrom", {"ValidTo": _time(NOW + dt.timedelta(days=2))}, 400, "0x240", "RULE_VALIDITY_ORDER"),
    ("ValidFrom in 3 weeks", {"ValidFrom": _time(NOW + dt.timedelta(weeks=3))}, 400, "0x240", "RULE_STARTS_TOO_LATE"),
    ("ValidFrom in 24 h", {"ValidFrom": _time(NOW + dt.timedelta(hours=24))}, 400, "0x240", "RULE_STARTS_TOO_SOON"),
    (
        "valid for 48 h",
        {"ValidTo": _time(NOW + dt.timedelta(days=5))},
        400,
        "0x240",
        "RULE_VALIDITY_TOO_SHORT",
    ),
    ("another engine", {"Engine": "JSONLOGIC"}, 400, "0x200", "RULE_ENGINE"),
    ("a future engine version", {"EngineVersion": "2.0.0"}, 400, "0x200", "RULE_ENGINE"),
    ("an unknown operation", {"Logic": {"all": [{"var": "payload.v.1"}]}}, 400, "0x200", "RULE_LOGIC_INVALID"),
    ("a float", {"Logic": {">": [{"var": "payload.v.1"}, 1.5]}}, 400, "0x200", "RULE_LOGIC_INVALID"),
    (
        "data outside the context",
        {"Logic": {"!": [{"var": "payload.v.1"}, {"var": "secrets.x"}]}},
        400,
        "0x200",
        "RULE_LOGIC_INVALID",
    ),
    ("AffectedFields that are not read", {"AffectedFields": ["v.1", "dob"]}, 400, "0x200", "RULE_AFFECTED_FIELDS"),
]


@pytest.mark.parametrize(("label", "change", "status", "code", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_rule_is_refused_by_name_and_nothing_is_stored(client, xa, label, change, status, code, reason):
    if isinstance(change, bytes):
        rule: dict | bytes = change
    else:
        rule = rule_for("XA")
        for key, value in change.items():
            if value is None:
                rule.pop(key)
            else:
                rule[key] = value
    refused(post_rule(client, xa, rule), status, code, reason)
    assert ValidationRule.objects.count() == 0


def test_an_invalidation_rule_may_not_start_in_the_past(client, xa):
    rule = rule_for("XA", Type="Invalidation", Identifier="IR-XA-0000", ValidFrom=_time(NOW - dt.timedelta(hours=1)))
    refused(post_rule(client, xa, rule), 400, "0x240", "RULE_STARTS_TOO_SOON")
    rule["ValidFrom"] = _time(NOW + dt.timedelta(hours=1))
    assert post_rule(client, xa, rule).status_code == 201


def test_versions_go_up_and_never_start_before_the_previous(client, xa):
    assert post_rule(client, xa, rule_for("XA", days=5)).status_code == 201
    refused(post_rule(client, xa, rule_for("XA", days=6)), 400, "0x220", "RULE_VERSION")
    refused(post_rule(client, xa, rule_for("XA", days=6, Version="0.9.9")), 400, "0x220", "RULE_VERSION")
    refused(post_rule(client, xa, rule_for("XA", days=4, Version="1.0.1")), 400, "0x240", "RULE_STARTS_BEFORE_PREVIOUS")
    assert post_rule(client, xa, rule_for("XA", days=6, Version="1.1.0")).status_code == 201
    assert post_rule(client, xa, rule_for("XA", days=7, Version="1.10.0")).status_code == 201  # semver, not text
    assert ValidationRule.objects.count() == 3


def test_the_signer_must_be_the_countrys_upload_key(client, xa, xb):
    refused(post_rule(client, xa, rule_for("XA"), signer=xb.upload), 400, "0x230", "UPLOAD_CERT_UNKNOWN")
    body = b"not base64!"
    response = client.post("/rules", body, content_type="application/cms-text", **xa.headers())
    refused(response, 400, "0x260", "INVALID_BASE64")
    tampered = bytearray(xa.cms(json.dumps(rule_for("XA")).encode()))
    tampered[-3] ^= 1
    response = client.post("/rules", base64.b64encode(bytes(tampered)), content_type="application/cms", **xa.headers())
    assert response.status_code == 400
    assert response.json()["code"] == "0x260"
    assert ValidationRule.objects.count() == 0


def test_an_anonymous_client_reads_nothing(client, xa):
    response = client.get("/rules/XA")
    assert response.status_code == 401


# --- deletion -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", [False, True])
def test_deleting_a_rule_deletes_every_version(client, xa, alias):
    assert post_rule(client, xa, rule_for("XA", days=3)).status_code == 201
    assert post_rule(client, xa, rule_for("XA", days=4, Version="1.0.1")).status_code == 201
    assert delete_rule(client, xa, "VR-XA-0000", alias=alias).status_code == 204
    assert ValidationRule.objects.count() == 0
    assert client.get("/rules/XA", **xa.headers()).json() == {}
    event = AuditEvent.objects.filter(action=Action.RULE_DELETE, outcome=Outcome.SUCCESS).get()
    assert event.details["versions"] == ["1.0.0", "1.0.1"]


def test_deletion_refusals(client, xa, xb):
    assert post_rule(client, xb, rule_for("XB")).status_code == 201
    refused(delete_rule(client, xa, "VR-XB-0000"), 403, "0x210", "RULE_ID_COUNTRY", Action.RULE_DELETE)
    refused(delete_rule(client, xa, "VR-XA-0404"), 404, "0x270", "RULE_NOT_FOUND", Action.RULE_DELETE)
    refused(delete_rule(client, xa, "not a rule"), 400, "0x250", "RULE_ID_INVALID", Action.RULE_DELETE)
    assert ValidationRule.objects.count() == 1


# --- DGCG's selection of versions -----------------------------------------------------------------------


def test_the_download_serves_the_current_version_and_those_to_come(client, xa, frozen):
    assert post_rule(client, xa, rule_for("XA", days=3)).status_code == 201
    assert post_rule(client, xa, rule_for("XA", days=10, Version="2.0.0")).status_code == 201
    assert client.get("/rules/XA", **xa.headers()).json()["VR-XA-0000"][0]["version"] == "2.0.0"
    frozen.move_to(NOW + dt.timedelta(days=5))  # 1.0.0 valid now, 2.0.0 to come: both, newest first
    served = client.get("/rules/XA", **xa.headers()).json()["VR-XA-0000"]
    assert [version["version"] for version in served] == ["2.0.0", "1.0.0"]
    frozen.move_to(NOW + dt.timedelta(days=11))  # 2.0.0 valid: it alone
    served = client.get("/rules/XA", **xa.headers()).json()["VR-XA-0000"]
    assert [version["version"] for version in served] == ["2.0.0"]
    frozen.move_to(NOW + dt.timedelta(days=41))  # every window closed: nothing in force to serve
    assert client.get("/rules/XA", **xa.headers()).json() == {}
