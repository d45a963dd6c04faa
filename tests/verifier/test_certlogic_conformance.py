"""verifier.certlogic against the CertLogic specification's own test suites and every EU
business rule's tests (tests/data/rules, README there): each case is one test, and a count test
makes sure none can silently disappear.

- Evaluation suite (testSuite/*.json): the value must equal ``expected`` as JSON (no coercion:
  ``true`` is not ``1``). Assertions the suite itself marks ``"directive": "skip"`` (on the suite,
  the case or the assertion) are set aside when the tests are collected, as the spec's own
  runners do; the count test holds their number.
- Validation suite (validation-testSuite/*.json): an expression with issues must be refused by
  ``compile_expression`` (CERTLOGIC_INVALID or CERTLOGIC_UNKNOWN_OPERATION), one without accepted.
- Rule tests (business-rules/<COUNTRY>/<RULE>/tests/*.json): the rule's Logic on ``{payload,
  external}``, compared with ``expected`` by truthiness; a test whose ``external.validationClock``
  is outside the rule's [ValidFrom, ValidTo) is set aside at collection, as the upstream runner
  does (the count test holds how many: none in this data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.certlogic import compile_expression, evaluate, is_truthy
from verifier.encoding import parse_time
from verifier.reasons import CertLogicError, RuleReason

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

DATA = Path(__file__).resolve().parents[1] / "data" / "rules"
SPEC = DATA / "certlogic" / "specification"
RULES = DATA / "business-rules"
SKIP = "skip"

# What the data holds (tests/data/rules, copied unchanged): a case that goes missing fails here.
EVALUATION_ASSERTIONS = 232  # in 14 files
EVALUATION_SKIPPED = 14  # by the suite's own directives: ins-with-nulls (4), patched-reduce (10)
VALIDATION_CASES = 23
RULE_FILES = 118
RULE_TESTS = 814
RULE_TESTS_OUTSIDE_VALIDITY = 0


def _evaluation_cases() -> list[tuple[str, Any, Any, Any, bool]]:
    cases = []
    for path in sorted((SPEC / "testSuite").glob("*.json")):
        suite = json.loads(path.read_text())
        for case in suite["cases"]:
            for number, assertion in enumerate(case["assertions"]):
                expression = assertion.get("certLogicExpression", case.get("certLogicExpression"))
                skipped = SKIP in (suite.get("directive"), case.get("directive"), assertion.get("directive"))
                name = f"{path.stem}: {case['name']} #{number}"
                cases.append((name, expression, assertion["data"], assertion["expected"], skipped))
    return cases


def _validation_cases() -> list[tuple[str, Any, bool]]:
    cases = []
    for path in sorted((SPEC / "validation-testSuite").glob("*.json")):
        for number, case in enumerate(json.loads(path.read_text())["cases"]):
            cases.append((f"{path.stem} #{number}", case["certLogicExpression"], bool(case["issues"])))
    return cases


def _rule_tests() -> list[tuple[str, Path, Path]]:
    return [
        (f"{test.parent.parent.parent.name}/{test.parent.parent.name}/{test.name}", rule, test)
        for rule in sorted(RULES.glob("*/*/rule.json"))
        for test in sorted((rule.parent / "tests").glob("*.json"))
    ]


def _same_json(actual: Any, expected: Any) -> bool:
    """JSON equality without JavaScript's or Python's coercions (True is not 1)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(_same_json, actual, expected))
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(_same_json(actual[key], expected[key]) for key in expected)
        )
    return (
        type(actual) in (int, float, str, type(None)) and actual == expected and (actual is None) == (expected is None)
    )


def _outside_validity(rule: dict[str, Any], external: dict[str, Any]) -> bool:
    clock = external.get("validationClock")
    if not clock:
        return False
    return not parse_time(rule["ValidFrom"]) <= parse_time(clock) < parse_time(rule["ValidTo"])


EVALUATION = _evaluation_cases()
VALIDATION = _validation_cases()
RULE_TESTS_FOUND = _rule_tests()
EVALUATED = [case for case in EVALUATION if not case[4]]


def _in_validity(case: tuple[str, Path, Path]) -> bool:
    return not _outside_validity(json.loads(case[1].read_text()), json.loads(case[2].read_text())["external"])


RULE_TESTS_RUN = [case for case in RULE_TESTS_FOUND if _in_validity(case)]


@pytest.mark.parametrize(
    ("expression", "data", "expected"), [case[1:4] for case in EVALUATED], ids=[case[0] for case in EVALUATED]
)
def test_evaluation_suite(expression, data, expected):
    assert _same_json(evaluate(expression, data), expected)


@pytest.mark.parametrize(("expression", "invalid"), [case[1:] for case in VALIDATION], ids=[c[0] for c in VALIDATION])
def test_validation_suite(expression, invalid):
    if not invalid:
        compile_expression(expression)
        return
    with pytest.raises(CertLogicError) as refused:
        compile_expression(expression)
    assert refused.value.reason in (RuleReason.CERTLOGIC_INVALID, RuleReason.CERTLOGIC_UNKNOWN_OPERATION)


@pytest.mark.parametrize(
    ("rule_path", "test_path"), [case[1:] for case in RULE_TESTS_RUN], ids=[c[0] for c in RULE_TESTS_RUN]
)
def test_business_rule(rule_path, test_path):
    rule, test = json.loads(rule_path.read_text()), json.loads(test_path.read_text())
    value = compile_expression(rule["Logic"]).evaluate({"payload": test["payload"], "external": test["external"]})
    assert is_truthy(value) is test["expected"], test.get("name")


def test_no_case_disappears():
    assert len(list((SPEC / "testSuite").glob("*.json"))) == 14
    assert len(EVALUATION) == EVALUATION_ASSERTIONS
    assert sum(case[4] for case in EVALUATION) == EVALUATION_SKIPPED
    assert len(VALIDATION) == VALIDATION_CASES
    assert len(list(RULES.glob("*/*/rule.json"))) == RULE_FILES
    assert len(RULE_TESTS_FOUND) == RULE_TESTS
    assert len(RULE_TESTS_FOUND) - len(RULE_TESTS_RUN) == RULE_TESTS_OUTSIDE_VALIDITY
    # Every file of the data is read by one of the lists above: nothing lies there unread.
    tests_on_disk = {path for path in RULES.glob("*/*/tests/*") if path.is_file()}
    assert tests_on_disk == {case[2] for case in RULE_TESTS_FOUND}
