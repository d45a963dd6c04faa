"""``dcc-verifier verify --country XX``: the business rules of the country of arrival decide with
the signature (VALID only if every rule passes), each failed rule is named with its description in
the language asked (else English), --json carries them, and a country with no rules is a usage
error. Offline: a DSC file, the EU rules and value sets of tests/data/rules."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tests.verifier.test_hcert import VACCINATION, make_dsc
from verifier.__main__ import main as cli

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "tests" / "data" / "rules" / "business-rules"
VALUE_SETS = RULES / "valuesets" / "valueSets.json"
AT = dt.datetime(2022, 1, 15, 9, 0, tzinfo=dt.UTC)
COMPLETE = {**VACCINATION, "v": [{**VACCINATION["v"][0], "dn": 2, "sd": 2, "dt": "2021-12-01"}]}
INCOMPLETE = {**VACCINATION, "v": [{**VACCINATION["v"][0], "dn": 1, "sd": 2, "dt": "2021-12-01"}]}


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    dsc = make_dsc(not_before=dt.datetime(2021, 6, 1, tzinfo=dt.UTC), not_after=dt.datetime(2023, 6, 1, tzinfo=dt.UTC))
    folder = tmp_path_factory.mktemp("rules-cli")
    (folder / "dsc.pem").write_bytes(dsc.cert.public_bytes(Encoding.PEM))
    return dsc, folder / "dsc.pem"


def _code(signer, payload) -> str:
    dsc, _ = signer
    return dsc.issue(payload, iat=AT - dt.timedelta(days=1), exp=AT + dt.timedelta(days=90), issuer="AT")


def _verify(signer, *arguments: str) -> list[str]:
    return ["verify", "--dsc", str(signer[1]), "--at", AT.isoformat(), *arguments]


def _with_rules(signer, *arguments: str) -> list[str]:
    return _verify(signer, "--country", "de", "--rules", str(RULES / "DE"), "--valuesets", str(VALUE_SETS), *arguments)


def test_a_code_that_meets_every_rule_is_valid(signer, capsys):
    assert cli(_with_rules(signer, _code(signer, COMPLETE))) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID")
    assert "PASSED   RULES: OK (4 rules of DE passed)" in out
    assert "holder: Gabriele Musterfrau-Gößinger" in out


def test_a_failed_rule_makes_the_code_invalid_and_is_named_in_the_language_asked(signer, capsys):
    code = _code(signer, INCOMPLETE)
    assert cli(_with_rules(signer, "--lang", "de", code)) == 1
    out = capsys.readouterr().out
    assert out.startswith("INVALID")
    assert "FAILED   RULES: RULES_FAILED (1 of 4: VR-DE-0001 RULE_NOT_SATISFIED)" in out
    assert "rule VR-DE-0001 1.0.0 of DE FAILED: RULE_NOT_SATISFIED: Die Impfreihe muss vollständig sein" in out
    assert "holder" not in out, "the holder of a code that is not valid is not shown"
    assert cli(_with_rules(signer, "--lang", "xx", code)) == 1
    assert "The vaccination schedule must be complete (e.g., 1/1, 2/2)." in capsys.readouterr().out


def test_json_carries_the_rules_of_each_result(signer, capsys):
    codes = [_code(signer, COMPLETE), _code(signer, INCOMPLETE), "HC1:NOT-A-CODE!"]
    assert cli(_with_rules(signer, "--json", *codes)) == 1
    results = json.loads(capsys.readouterr().out)
    assert [result["valid"] for result in results] == [True, False, False]
    assert [result["reason"] for result in results] == ["OK", "RULES_FAILED", "BASE45_INVALID_CHARACTER"]
    assert [result["rules"]["outcome"] for result in results] == ["PASSED", "FAILED", "NOT_EVALUATED"]
    assert results[1]["rules"]["failed"] == ["VR-DE-0001 1.0.0"]
    (failed,) = [rule for rule in results[1]["rules"]["results"] if rule["status"] != "PASSED"]
    assert failed["description"] == "The vaccination schedule must be complete (e.g., 1/1, 2/2)."
    assert failed["affectedFields"] == ["v.0", "v.0.dn", "v.0.sd"]
    assert results[1]["rules"]["validationClock"] == "2022-01-15T09:00:00.000+00:00"
    assert results[1]["payload"] is None


def test_without_a_country_nothing_changes(signer, capsys):
    assert cli(_verify(signer, "--json", _code(signer, INCOMPLETE))) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["valid"] is True
    assert "rules" not in result
    assert [step["step"] for step in result["steps"]][-1] == "REVOCATION"


def test_the_rules_of_every_country_from_one_folder(signer, capsys):
    code = _code(signer, COMPLETE)
    arguments = _verify(signer, "--rules", str(RULES), "--valuesets", str(VALUE_SETS), "--json", code)
    assert cli([*arguments, "--country", "AT"]) in (0, 1)
    (result,) = json.loads(capsys.readouterr().out)
    assert result["rules"]["country"] == "AT"
    assert {rule["country"] for rule in result["rules"]["results"]} == {"AT"}
    assert result["rules"]["issuingCountry"] == "AT"


def test_a_rule_that_is_not_certlogic_fails_the_code_by_name(signer, tmp_path, capsys):
    rule = json.loads((RULES / "DE" / "VR-DE-0001" / "rule.json").read_text())
    rule["Logic"] = {"all": [{"var": "payload.v"}, {"var": "dn"}]}
    (tmp_path / "rule.json").write_text(json.dumps(rule))
    assert cli(_verify(signer, "--country", "DE", "--rules", str(tmp_path), _code(signer, COMPLETE))) == 1
    out = capsys.readouterr().out
    assert 'rule VR-DE-0001 1.0.0 of DE ERROR: CERTLOGIC_UNKNOWN_OPERATION (unknown operation "all")' in out


def _run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "verifier", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--country", "ZZ", "--rules", str(RULES)], "NO_RULES"),  # a typo must not pass every code
        (["--country", "DE"], "NO_RULES"),  # DSC files carry no rules
        (["--rules", str(RULES)], "USAGE"),
        (["--country", "Deutschland", "--rules", str(RULES)], "USAGE"),
        (["--country", "DE", "--rules", "/nonexistent/rules"], "FILE_UNREADABLE"),
        (["--country", "DE", "--rules", str(RULES), "--valuesets", "/nonexistent.json"], "FILE_UNREADABLE"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(signer, extra, reason):
    completed = _run(*_verify(signer, *extra, _code(signer, COMPLETE)))
    assert completed.returncode == 2, completed
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(f"error: {reason}: ")
    assert completed.stdout == ""
