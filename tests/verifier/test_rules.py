"""Business rules (verifier.rules, verifier.rule_check, verifier.rule_sources): which rules apply
(version in force, country, type), what they see (external), how each comes out (a rule that is
not CertLogic, or for another engine, fails by name), where they come from (the published
artifacts, files, a synced state), and the RULES step of a verification."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.verifier.test_hcert import VACCINATION, make_dsc
from verifier.hcert import verify_hc1
from verifier.reasons import Reason, RuleReason, Status, Step
from verifier.rule_check import RuleStatus, apply_rules, evaluate_rules, external_parameters
from verifier.rule_sources import (
    rule_set_from_artifacts,
    rules_from_artifact,
    rules_from_path,
    value_sets_from_file,
)
from verifier.rules import RuleSet, parse_rule
from verifier.sources import from_state
from verifier.sync import SyncState
from verifier.trust import TrustStore

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

RULES_DATA = Path(__file__).resolve().parents[1] / "data" / "rules" / "business-rules"
AT = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
PASS = {"===": [1, 1]}
FAIL = {"===": [1, 2]}
PAYLOAD: dict[str, Any] = {**VACCINATION, "v": [{**VACCINATION["v"][0], "dn": 2, "sd": 2, "co": "XB"}]}


def rule(identifier: str = "VR-XA-0001", **fields: Any) -> dict[str, Any]:
    """A rule object as uploaded (the EU schema's fields), in force all of 2026 by default."""
    prefix = identifier[:2]
    body = {
        "Identifier": identifier,
        "Type": "Invalidation" if prefix == "IR" else "Acceptance",
        "Country": identifier[3:5],
        "Version": "1.0.0",
        "SchemaVersion": "1.0.0",
        "Engine": "CERTLOGIC",
        "EngineVersion": "0.7.5",
        "CertificateType": {"GR": "General", "VR": "Vaccination", "TR": "Test", "RR": "Recovery", "IR": "General"}[
            prefix
        ],
        "Description": [
            {"lang": "en", "desc": f"{identifier} in English"},
            {"lang": "de", "desc": f"{identifier} auf Deutsch"},
        ],
        "ValidFrom": "2026-01-01T00:00:00Z",
        "ValidTo": "2027-01-01T00:00:00Z",
        "AffectedFields": ["v.0"],
        "Logic": PASS,
    }
    body.update(fields)
    return body


def rule_set(*bodies: dict[str, Any], value_sets: dict[str, list[str]] | None = None) -> RuleSet:
    return RuleSet([parse_rule(body) for body in bodies], value_sets or {})


def outcomes(result) -> dict[str, tuple[str, str]]:
    return {o.rule.identifier: (o.status.value, o.reason.value) for o in result.outcomes}


def run(rules: RuleSet, payload: dict[str, Any] = PAYLOAD, kind: str = "v", at: dt.datetime = AT, **options: Any):
    options.setdefault("arrival", "XA")
    options.setdefault("issuing", "XB")
    return evaluate_rules(rules, payload, kind, at=at, **options)


# --- selection --------------------------------------------------------------------------------------


def test_the_highest_version_in_force_at_the_clock_is_taken():
    versions = rule_set(
        rule(Version="1.0.0", Logic=FAIL),
        rule(Version="1.9.0", ValidFrom="2026-03-01T00:00:00Z", ValidTo="2026-04-01T00:00:00Z", Logic=FAIL),
        rule(Version="1.10.0", ValidFrom="2026-05-01T00:00:00Z", Logic=PASS),  # semantic: 1.10 > 1.9
        rule(Version="2.0.0", ValidFrom="2026-09-01T00:00:00Z", Logic=FAIL),
    )

    def chosen(at: dt.datetime) -> list[str]:
        return [r.version for r in versions.select("XA", "XB", "v", at)]

    assert chosen(dt.datetime(2026, 2, 1, tzinfo=dt.UTC)) == ["1.0.0"]
    assert chosen(dt.datetime(2026, 3, 15, tzinfo=dt.UTC)) == ["1.9.0"]
    assert chosen(dt.datetime(2026, 4, 15, tzinfo=dt.UTC)) == ["1.0.0"], "1.9.0 has expired: the older one is in force"
    assert chosen(AT) == ["1.10.0"]
    assert chosen(dt.datetime(2026, 9, 1, tzinfo=dt.UTC)) == ["2.0.0"], "ValidFrom is inclusive"
    assert chosen(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == [], "ValidTo is exclusive"
    assert chosen(dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC)) == []
    assert run(versions).passed


def test_versions_are_ordered_as_semver_orders_them():
    versions = rule_set(rule(Version="1.0.0-rc.1"), rule(Version="1.0.0"), rule(Version="1.0.0-beta"))
    assert [r.version for r in versions.select("XA", "XB", "v", AT)] == ["1.0.0"]
    assert [
        r.version for r in rule_set(rule(Version="2.0.0-rc.2"), rule(Version="1.9.9")).select("XA", None, "v", AT)
    ] == ["2.0.0-rc.2"]


def test_acceptance_of_the_arrival_country_and_invalidation_of_the_issuing_one():
    rules = rule_set(
        rule("GR-XA-0001"),
        rule("VR-XA-0001"),
        rule("TR-XA-0001"),  # another certificate type
        rule("RR-XA-0001"),
        rule("VR-XB-0001"),  # the issuing country's acceptance: not for arrivals in XA
        rule("IR-XB-0001"),  # the issuing country's invalidation: always
        rule("IR-XA-0001"),  # the arrival country's invalidation: only for its own codes
        rule("VR-XC-0001"),
    )
    assert [r.identifier for r in rules.select("XA", "XB", "v", AT)] == ["GR-XA-0001", "VR-XA-0001", "IR-XB-0001"]
    assert [r.identifier for r in rules.select("XA", "XB", "t", AT)] == ["GR-XA-0001", "TR-XA-0001", "IR-XB-0001"]
    assert [r.identifier for r in rules.select("XA", "XA", "r", AT)] == ["GR-XA-0001", "RR-XA-0001", "IR-XA-0001"]
    assert rules.select("XD", None, "v", AT) == []
    assert rules.countries() == {"XA": 5, "XB": 2, "XC": 1}


def test_no_rule_that_applies_passes_and_says_so():
    result = run(rule_set(rule("TR-XA-0001", Logic=FAIL)))
    assert result.outcomes == ()
    assert result.passed
    assert result.to_dict()["outcome"] == "PASSED"


# --- outcomes ---------------------------------------------------------------------------------------


def _deep(levels: int) -> Any:
    expression: Any = True
    for _ in range(levels):
        expression = {"!": [expression]}
    return expression


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"Logic": PASS}, "PASSED", "RULE_PASSED"),
        ({"Logic": FAIL}, "FAILED", "RULE_NOT_SATISFIED"),
        ({"Logic": {"var": "payload.nothing"}}, "FAILED", "RULE_NOT_SATISFIED"),  # null is not truthy
        ({"Logic": {"plusTime": ["2026-01-01", 0, "day"]}}, "FAILED", "RULE_NOT_SATISFIED"),  # neither
        ({"Logic": {"map": [[1], True]}}, "ERROR", "CERTLOGIC_UNKNOWN_OPERATION"),
        ({"Logic": {"if": [True, 1]}}, "ERROR", "CERTLOGIC_INVALID"),
        ({"Logic": 3.5}, "ERROR", "CERTLOGIC_INVALID"),
        ({"Logic": _deep(10_000)}, "ERROR", "CERTLOGIC_TOO_DEEP"),
        ({"Logic": {"and": [True] * 20_000}}, "ERROR", "CERTLOGIC_TOO_LARGE"),
        ({"Logic": {"in": ["x", {"var": "payload.nam"}]}}, "ERROR", "CERTLOGIC_EVALUATION_ERROR"),
        ({"Engine": "JSONLOGIC"}, "ERROR", "ENGINE_UNSUPPORTED"),
        ({"EngineVersion": "2.0.0"}, "ERROR", "ENGINE_UNSUPPORTED"),
        ({"EngineVersion": "latest"}, "ERROR", "ENGINE_UNSUPPORTED"),
        ({"EngineVersion": "1.9.9"}, "PASSED", "RULE_PASSED"),
        ({"SchemaVersion": "1.3.1"}, "ERROR", "SCHEMA_VERSION_UNSUPPORTED"),  # the DCC is 1.3.0
        ({"SchemaVersion": "2.0.0"}, "ERROR", "SCHEMA_VERSION_UNSUPPORTED"),
        ({"SchemaVersion": "1.3.0"}, "PASSED", "RULE_PASSED"),
    ],
)
def test_each_rule_passes_fails_or_fails_by_name(fields, status, reason):
    result = run(rule_set(rule(**fields)))
    ((outcome,),) = [result.outcomes]
    assert (outcome.status.value, outcome.reason.value) == (status, reason)
    assert result.passed is (status == "PASSED")
    if status == "ERROR":
        assert outcome.detail


@pytest.mark.parametrize("payload", [{k: v for k, v in PAYLOAD.items() if k != "ver"}, {**PAYLOAD, "ver": 1.3}, []])
def test_a_dcc_without_a_readable_ver_fails_every_rule_by_name(payload):
    (outcome,) = run(rule_set(rule()), payload).outcomes
    assert outcome.reason is RuleReason.SCHEMA_VERSION_UNSUPPORTED


def test_a_rule_the_evaluator_cannot_run_fails_only_its_country():
    rules = rule_set(rule("VR-XA-0001", Logic={"map": []}), rule("VR-XC-0001"))
    assert not run(rules).passed
    assert run(rules, arrival="XC").passed


def test_external_is_what_the_eu_apps_give_a_rule():
    external = external_parameters(
        dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        {"vaccines-covid-19-names": ["EU/1/20/1528"]},
        "XA",
        issued_at=AT.timestamp() - 86400,
        expires_at=AT.timestamp() + 86400,
    )
    assert external == {
        "validationClock": "2026-06-01T14:00:00.000+02:00",
        "valueSets": {"vaccines-covid-19-names": ["EU/1/20/1528"]},
        "countryCode": "XA",
        "exp": "2026-06-02T12:00:00Z",
        "iat": "2026-05-31T12:00:00Z",
    }
    logic = {
        "and": [
            {"===": [{"var": "external.countryCode"}, "XA"]},
            {"in": [{"var": "payload.v.0.mp"}, {"var": "external.valueSets.vaccines-covid-19-names"}]},
            {
                "before": [
                    {"plusTime": [{"var": "external.iat"}, 0, "day"]},
                    {"plusTime": [{"var": "external.exp"}, 0, "day"]},
                ]
            },
            {
                "not-before": [
                    {"plusTime": [{"var": "external.validationClock"}, 0, "hour"]},
                    {"plusTime": ["2026-06-01T12:00:00Z", 0, "hour"]},
                ]
            },
        ]
    }
    rules = rule_set(rule(Logic=logic), value_sets={"vaccines-covid-19-names": ["EU/1/20/1528"]})
    assert run(rules, issued_at=AT.timestamp() - 60, expires_at=AT.timestamp() + 60).passed
    assert not run(rules, arrival="XA", issued_at=AT.timestamp() + 60, expires_at=AT.timestamp()).passed
    with pytest.raises(ValueError, match="timezone-aware"):
        run(rules, at=dt.datetime(2026, 6, 1))


def test_descriptions_in_the_language_asked_else_english_else_the_first():
    rules = rule_set(
        rule("VR-XA-0001", Logic=FAIL),
        rule("VR-XA-0002", Logic=FAIL, Description=[{"lang": "fr", "desc": "seulement"}]),
    )
    assert [o.description for o in run(rules, lang="de").outcomes] == ["VR-XA-0001 auf Deutsch", "seulement"]
    assert [o.description for o in run(rules, lang="it").outcomes] == ["VR-XA-0001 in English", "seulement"]


def test_the_eu_rules_of_a_country_on_a_real_looking_certificate():
    rules, issues = rules_from_path(RULES_DATA / "DE")
    value_sets, more = value_sets_from_file(RULES_DATA / "valuesets" / "valueSets.json")
    assert not issues
    assert not more
    german = RuleSet(rules, value_sets)
    at = dt.datetime(2022, 1, 15, 9, 0, tzinfo=dt.UTC)
    complete = {**PAYLOAD, "v": [{**PAYLOAD["v"][0], "dt": "2021-12-01"}]}
    result = run(german, complete, at=at, arrival="DE", issuing="AT")
    assert outcomes(result) == {
        name: ("PASSED", "RULE_PASSED") for name in ("VR-DE-0001", "VR-DE-0002", "VR-DE-0003", "VR-DE-0004")
    }
    incomplete = {**complete, "v": [{**complete["v"][0], "dn": 1}]}
    result = run(german, incomplete, at=at, arrival="DE", issuing="AT", lang="de")
    assert [(o.rule.identifier, o.reason.value) for o in result.failures] == [("VR-DE-0001", "RULE_NOT_SATISFIED")]
    assert result.failures[0].description == "Die Impfreihe muss vollständig sein (z.B. 1/1, 2/2)."
    test = {
        **PAYLOAD,
        "t": [
            {
                "tg": "840539006",
                "tt": "LP217198-3",
                "ma": "1232",
                "sc": "2022-01-14T09:00:00Z",
                "tr": "260415000",
                "co": "DE",
                "is": "RKI",
                "ci": "URN:UVCI:01DE/X#1",
            }
        ],
    }
    del test["v"]
    assert run(german, test, "t", at=at, arrival="DE", issuing="DE").passed
    assert not run(german, test, "t", at=at + dt.timedelta(hours=25), arrival="DE", issuing="DE").passed  # 48 h


# --- where the rules come from ------------------------------------------------------------------


def entry(body: dict[str, Any], **metadata: str) -> dict[str, Any]:
    """A published entry of the ``rules`` artifact for a rule object."""
    raw = json.dumps(body).encode()
    said = {
        "country": body["Country"],
        "identifier": body["Identifier"],
        "version": body["Version"],
        "type": body["Type"],
        "validFrom": body["ValidFrom"],
        "validTo": body["ValidTo"],
        "raw": base64.b64encode(raw).decode(),
        "signature": base64.b64encode(b"a detached CMS").decode(),
    }
    said.update(metadata)
    return said


def test_the_rules_artifact_is_read_from_raw_and_what_cannot_be_read_fails_closed():
    good = entry(rule("VR-XA-0001"))
    unreadable = entry(rule("VR-XA-0002"), raw="not base64!")
    not_json = entry(rule("VR-XA-0003"), raw=base64.b64encode(b"{").decode())
    lying = entry(rule("VR-XA-0004"), version="1.0.1")  # the entry says 1.0.1, the rule 1.0.0
    hopeless = {"raw": "?"}
    unversioned = entry(rule("VR-XA-0005"), version="one", raw="?")
    typed = entry(rule("VR-XA-0006"), certificateType="Test")  # the gateway's entries say it too
    rules, issues = rules_from_artifact({"rules": [good, unreadable, not_json, lying, hopeless, unversioned, typed]})
    assert [(issue.source, issue.reason) for issue in issues] == [
        ("rules[1] VR-XA-0002 1.0.0", RuleReason.RULE_UNREADABLE),
        ("rules[2] VR-XA-0003 1.0.0", RuleReason.RULE_UNREADABLE),
        ("rules[3] VR-XA-0004 1.0.1", RuleReason.RULE_MISMATCH),
        ("rules[4]", RuleReason.RULE_UNREADABLE),
        ("rules[5]", RuleReason.RULE_UNREADABLE),  # its entry names no version: nothing to select
        ("rules[6] VR-XA-0006 1.0.0", RuleReason.RULE_MISMATCH),
    ]
    result = run(RuleSet(rules, {}, issues))
    assert outcomes(result) == {
        "VR-XA-0001": ("PASSED", "RULE_PASSED"),
        "VR-XA-0002": ("ERROR", "RULE_UNREADABLE"),
        "VR-XA-0003": ("ERROR", "RULE_UNREADABLE"),
        "VR-XA-0004": ("ERROR", "RULE_MISMATCH"),
        "VR-XA-0006": ("ERROR", "RULE_MISMATCH"),
    }
    assert len(result.to_dict()["skipped"]) == 6
    assert rules_from_artifact({"rules": [entry(rule("VR-XA-0001"), certificateType="Vaccination")]})[1] == []
    assert run(RuleSet(rules, {}, issues), arrival="XC").passed, "only the country whose rules could not be read"
    for content in (None, [], {"rules": {}}, "rules"):
        assert rules_from_artifact(content)[1][0].reason is RuleReason.RULE_UNREADABLE


@pytest.mark.parametrize(
    "broken",
    [
        {"Version": "1.0"},
        {"Type": "Acceptable"},
        {"CertificateType": "Vaccinations"},
        {"ValidFrom": "yesterday"},
        {"Description": "text"},
        {"AffectedFields": "v.0"},
        {"Identifier": 17},
    ],
)
def test_a_rule_without_what_selection_needs_is_reported_not_selected(broken, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "rule.json").write_text(json.dumps(rule(**broken)))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "rule.json").write_text(json.dumps(rule("VR-XA-0002")))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "rule.json").write_text("{not json")
    rules, issues = rules_from_path(tmp_path)
    assert [r.identifier for r in rules] == ["VR-XA-0002"]
    assert [issue.reason for issue in issues] == [RuleReason.RULE_UNREADABLE] * 2
    assert str(tmp_path / "a" / "rule.json") in {issue.source for issue in issues}


def test_a_rule_file_may_hold_a_list_and_a_missing_path_is_an_os_error(tmp_path):
    (tmp_path / "rules.json").write_text(json.dumps([rule("VR-XA-0001"), rule("GR-XA-0001")]))
    assert [r.identifier for r in rules_from_path(tmp_path / "rules.json")[0]] == ["VR-XA-0001", "GR-XA-0001"]
    with pytest.raises(FileNotFoundError):
        rules_from_path(tmp_path / "missing.json")


def test_value_sets_that_are_not_lists_of_codes_are_reported(tmp_path):
    held = rule_set_from_artifacts({"valuesets": {"content": {"a": ["1", "2"], "b": "1", "c": [1]}}})
    assert held.value_sets == {"a": ["1", "2"]}
    assert [issue.source for issue in held.issues] == ["valuesets b", "valuesets c"]
    held = rule_set_from_artifacts({"valuesets": {"content": {"a": ["1"], "b": "1"}}, "rules": "garbage"})
    assert [issue.reason for issue in held.issues] == [RuleReason.RULE_UNREADABLE, RuleReason.VALUE_SET_UNREADABLE]
    (tmp_path / "v.json").write_text("[")
    assert value_sets_from_file(tmp_path / "v.json")[1][0].reason is RuleReason.VALUE_SET_UNREADABLE


def _state(folder: Path, artifacts: dict[str, Any]) -> None:
    """A synced state as ``sync`` leaves it (its index is only read back for its times)."""
    payload = {"issuedAt": "2026-06-01T11:00:00Z", "expiresAt": "2026-06-03T11:00:00Z"}
    index = b"e30." + base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=") + b".c2ln"
    SyncState(sequence=7, index=index, artifacts=artifacts).save(folder)


def test_a_synced_state_brings_its_rules_and_value_sets(tmp_path):
    artifacts = {
        "rules": {
            "sequence": 7,
            "sha256": "00",
            "length": 1,
            "content": {"rules": [entry(rule("VR-XA-0001", Logic=FAIL))]},
        },
        "valuesets": {"sequence": 5, "sha256": "00", "length": 1, "content": {"country-2-codes": ["XA", "XB"]}},
    }
    _state(tmp_path, artifacts)
    source = from_state(tmp_path)
    assert source.rules.countries() == {"XA": 1}
    assert source.value_sets == {"country-2-codes": ["XA", "XB"]}
    assert not run(source.rules).passed
    summary = source.summary(AT)
    assert (summary["rules"], summary["valueSets"], summary["rulesSkipped"]) == ({"XA": 1}, 1, [])
    _state(tmp_path / "old", {})
    assert len(from_state(tmp_path / "old").rules) == 0
    _state(tmp_path / "odd", {"rules": "not a descriptor", "valuesets": {"content": []}})
    assert [issue.reason for issue in from_state(tmp_path / "odd").rules.issues] == [
        RuleReason.RULE_UNREADABLE,
        RuleReason.VALUE_SET_UNREADABLE,
    ]


# --- the RULES step of a verification ------------------------------------------------------------------


def _verified(payload: dict[str, Any] = PAYLOAD):
    dsc = make_dsc(country="XB", not_before=AT - dt.timedelta(days=30))
    text = dsc.issue(payload, iat=AT - dt.timedelta(days=1), exp=AT + dt.timedelta(days=30), issuer="XB")
    return verify_hc1(text, dsc.store(), AT)


def test_a_valid_code_gets_a_rules_step_and_is_valid_only_if_every_rule_passes():
    verified = _verified()
    assert verified.valid
    passing = apply_rules(verified, rule_set(rule("VR-XA-0001"), rule("IR-XB-0001")), "XA", AT)
    assert passing.valid
    assert passing.steps[-1] == passing.step(Step.RULES)
    assert passing.step(Step.RULES).detail == "2 rules of XA passed"
    assert passing.rules is not None
    assert passing.rules.issuing_country == "XB"
    failing = apply_rules(verified, rule_set(rule("VR-XA-0001"), rule("IR-XB-0001", Logic=FAIL)), "XA", AT, lang="de")
    assert not failing.valid
    assert failing.reason is Reason.RULES_FAILED
    assert failing.step(Step.RULES).detail == "1 of 2: IR-XB-0001 RULE_NOT_SATISFIED"
    summary = failing.to_dict()
    assert summary["valid"] is False
    assert summary["payload"] is None
    assert summary["rules"]["failed"] == ["IR-XB-0001 1.0.0"]
    assert summary["rules"]["results"][1]["description"] == "IR-XB-0001 auf Deutsch"
    assert [o.status for o in failing.rules.outcomes] == [RuleStatus.PASSED, RuleStatus.FAILED]
    assert "rules" not in verified.to_dict(), "without a country, the result is as it was"
    none = apply_rules(verified, rule_set(rule("VR-XC-0001")), "XA", AT)
    assert none.valid
    assert none.step(Step.RULES).detail == "no rule of XA applies"


def test_an_invalid_code_gets_no_rules_evaluated():
    unknown = verify_hc1(make_dsc().issue(), TrustStore(), AT)  # no DSC trusted: KID_UNKNOWN
    checked = apply_rules(unknown, rule_set(rule("VR-XA-0001")), "XA", AT)
    assert not checked.valid
    outcome = checked.step(Step.RULES)
    assert (outcome.status, outcome.reason) == (Status.SKIPPED, Reason.NOT_REACHED)
    assert checked.rules is not None
    assert checked.rules.to_dict()["outcome"] == "NOT_EVALUATED"
    assert not checked.rules.passed
    assert checked.reason is Reason.KID_UNKNOWN
