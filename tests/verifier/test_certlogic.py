"""verifier.certlogic beyond the spec's test suites: its bounds (depth, size, reduce steps, unknown
operations: a named CertLogicError, never another exception nor unbounded recursion), the
date-time arithmetic the spec fixes by ECMAScript's Date, and hostile input of any shape."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import certlogic
from verifier.certlogic import compile_expression, evaluate, is_truthy, strict_equal, truthiness
from verifier.certlogic_dates import DateTime, civil_from_days, days_from_civil, parse_date_time, plus_time
from verifier.reasons import CertLogicError, RuleReason

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run


def _refused(expression, data=None) -> RuleReason:
    with pytest.raises(CertLogicError) as refused:
        evaluate(expression, data)
    return refused.value.reason


# --- bounds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [certlogic.MAX_DEPTH + 1, 1_000, 200_000])
def test_deep_nesting_is_refused_by_name_not_by_recursion(depth):
    expression: object = True
    for _ in range(depth):
        expression = {"!": [expression]}
    assert _refused(expression) is RuleReason.CERTLOGIC_TOO_DEEP


def test_deep_arrays_count_as_nesting_too():
    expression: object = 1
    for _ in range(5_000):
        expression = [expression]
    assert _refused(expression) is RuleReason.CERTLOGIC_TOO_DEEP


def test_the_deepest_allowed_expression_evaluates_and_one_more_level_does_not():
    expression: object = True  # level MAX_DEPTH under MAX_DEPTH - 1 operations
    for _ in range(certlogic.MAX_DEPTH - 1):
        expression = {"!": [expression]}
    assert evaluate(expression, None) is (certlogic.MAX_DEPTH % 2 == 1)
    assert _refused({"!": [expression]}) is RuleReason.CERTLOGIC_TOO_DEEP


def test_a_wide_expression_is_refused_by_size():
    assert _refused({"and": [True] * certlogic.MAX_NODES}) is RuleReason.CERTLOGIC_TOO_LARGE
    assert evaluate({"and": [True] * 100}, None) is True


def test_nested_reductions_are_bounded_by_a_step_budget():
    """Each reduce over 1,000 items inside another: 10^9 steps if nothing stopped it."""
    items = list(range(1_000))
    inner = {"reduce": [{"var": "current"}, {"+": [{"var": "accumulator"}, 1]}, 0]}
    middle = {"reduce": [{"var": "current"}, inner, 0]}
    outer = {"reduce": [{"var": "x"}, middle, 0]}
    data = {"x": [[items] * 1_000] * 1_000}
    assert _refused(outer, data) is RuleReason.CERTLOGIC_BUDGET_EXCEEDED
    assert evaluate({"reduce": [{"var": "x"}, {"+": [{"var": "accumulator"}, 1]}, 0]}, {"x": items}) == 1_000


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ({"all": [[1], True]}, RuleReason.CERTLOGIC_UNKNOWN_OPERATION),
        ({"==": [1, 1]}, RuleReason.CERTLOGIC_UNKNOWN_OPERATION),  # JsonLogic's, not CertLogic's
        ({"var": ["x", 1]}, RuleReason.CERTLOGIC_INVALID),  # no default value
        ({"var": "a..b"}, RuleReason.CERTLOGIC_INVALID),
        ({"if": [True, 1]}, RuleReason.CERTLOGIC_INVALID),
        ({"and": [True]}, RuleReason.CERTLOGIC_INVALID),
        ({"===": [1, 2, 3]}, RuleReason.CERTLOGIC_INVALID),
        ({"<": [1]}, RuleReason.CERTLOGIC_INVALID),
        ({"<": [1, 2, 3, 4]}, RuleReason.CERTLOGIC_INVALID),
        ({"plusTime": ["2021-01-01", 1, "week"]}, RuleReason.CERTLOGIC_INVALID),
        ({"plusTime": ["2021-01-01", 1.5, "day"]}, RuleReason.CERTLOGIC_INVALID),
        ({"plusTime": ["2021-01-01", {"var": "n"}, "day"]}, RuleReason.CERTLOGIC_INVALID),
        ({"plusTime": ["2021-01-01", 1, ["day"]]}, RuleReason.CERTLOGIC_INVALID),  # no unit, and unhashable
        ({"extractFromUVCI": [{"var": "ci"}, "1"]}, RuleReason.CERTLOGIC_INVALID),
        ({"reduce": [[], 0]}, RuleReason.CERTLOGIC_INVALID),
        ({"!": True}, RuleReason.CERTLOGIC_INVALID),
        ({"!": [{"x": [1]}]}, RuleReason.CERTLOGIC_UNKNOWN_OPERATION),  # found before anything runs
        (3.5, RuleReason.CERTLOGIC_INVALID),
        (None, RuleReason.CERTLOGIC_INVALID),
        ({"if": [True, 1, {"nope": []}]}, RuleReason.CERTLOGIC_UNKNOWN_OPERATION),  # in a branch never taken
    ],
)
def test_invalid_expressions_are_refused_before_evaluation(expression, reason):
    with pytest.raises(CertLogicError) as refused:
        compile_expression(expression)
    assert refused.value.reason is reason
    assert refused.value.detail


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ({"in": ["a", {"var": "x"}]}, {"x": "abc"}),  # "which must be an array"
        ({"in": ["a", {"var": "x"}]}, {}),
        ({"<": [{"var": "x"}, 2]}, {"x": "1"}),  # integers only
        ({"<": [{"var": "x"}, 2]}, {}),
        ({"+": [1, {"var": "x"}]}, {"x": True}),
        ({"after": [{"var": "x"}, {"plusTime": ["2021-01-01", 0, "day"]}]}, {"x": "2021-01-02"}),  # a string
        ({"before": [1, 2]}, {}),
        ({"plusTime": [{"var": "x"}, 0, "day"]}, {}),  # null
        ({"plusTime": [{"var": "x"}, 0, "day"]}, {"x": "2021-02-30"}),  # no such day
        ({"plusTime": [{"var": "x"}, 0, "day"]}, {"x": "2021-13"}),
        ({"plusTime": [{"var": "x"}, 0, "day"]}, {"x": "01.02.2021"}),
        ({"plusTime": [{"var": "x"}, 0, "day"]}, {"x": "\uff12\uff10\uff12\uff11-01-01"}),  # not ASCII digits
        ({"plusTime": [{"var": "x"}, 10**20, "year"]}, {"x": "2021-01-01"}),  # beyond any Date
        ({"dccDateOfBirth": [{"var": "x"}]}, {"x": "1990-02-30"}),
        ({"dccDateOfBirth": [{"var": "x"}]}, {"x": 1990}),
        ({"extractFromUVCI": [{"var": "x"}, 0]}, {"x": 17}),
        ({"reduce": [{"var": "x"}, 0, 0]}, {"x": "abc"}),
        ({"!": [{"plusTime": ["2021-01-01", 0, "day"]}]}, {}),  # a date-time is neither truthy nor falsy
        ({"if": [{"var": "x"}, 1, 2]}, {"x": 0.5}),
        ({"and": [True, {"var": "x"}]}, {"x": 1.5}),
    ],
)
def test_type_mismatches_fail_by_name(expression, data):
    assert _refused(expression, data) is RuleReason.CERTLOGIC_EVALUATION_ERROR


# Any JSON value, as an expression or as data: a value or a CertLogicError, nothing else.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=25,
)
_operation = st.sampled_from([*certlogic._OPERATIONS, "var", "map", ""])
_expression = st.recursive(
    _json,
    lambda children: st.builds(lambda op, args: {op: args}, _operation, st.lists(children, max_size=4) | children),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(expression=_expression, data=_json)
def test_any_json_gives_a_value_or_a_named_error(expression, data):
    try:
        evaluate(expression, data)
    except CertLogicError as exc:
        reason = exc.reason
    else:
        reason = RuleReason.RULE_PASSED
    assert isinstance(reason, RuleReason)


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (False, False),
        (None, False),
        ("", False),
        (0, False),
        ([], False),
        ({}, False),
        (True, True),
        ("0", True),
        (-1, True),
        ([0], True),
        ({"a": None}, True),
        (2.0, True),  # JSON has one number type: an integral float is an integer
        (0.0, False),
        (0.5, None),  # neither: the spec knows integers only
        (DateTime(0), None),
    ],
)
def test_truthiness_is_the_specs(value, truth):
    assert truthiness(value) is truth
    assert is_truthy(value) is (truth is True)


def test_strict_equality_never_coerces():
    assert strict_equal(1, 1.0)
    assert not strict_equal(1, True)
    assert not strict_equal(0, False)
    assert not strict_equal("1", 1)
    assert not strict_equal(None, False)
    assert strict_equal(None, None)
    items = [1]
    assert strict_equal(items, items)
    assert not strict_equal([1], [1])  # objects are equal only to themselves, as in JavaScript
    assert not strict_equal(DateTime(5), DateTime(5))
    assert evaluate({"in": [1, {"var": "x"}]}, {"x": [True, "1", 1.0]}) is True
    assert evaluate({"in": [True, {"var": "x"}]}, {"x": [1]}) is False


# --- date-times ---------------------------------------------------------------------------------


def _at(text: str) -> int:
    """Milliseconds since the epoch, exactly (no float on the way)."""
    return (dt.datetime.fromisoformat(text) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2021", "2021-12-31T00:00:00+00:00"),  # a partial date: as dccDateOfBirth reads it
        ("2020-02", "2020-02-29T00:00:00+00:00"),
        ("2021-06-01", "2021-06-01T00:00:00+00:00"),
        ("2021-06-01T12:00:00", "2021-06-01T12:00:00+00:00"),  # no offset: Z
        ("2021-06-01T12:00:00Z", "2021-06-01T12:00:00+00:00"),
        ("2021-06-01T12:00:00+2", "2021-06-01T12:00:00+02:00"),
        ("2021-06-01T12:00:00-02", "2021-06-01T12:00:00-02:00"),
        ("2021-06-01T12:00:00+130", "2021-06-01T12:00:00+01:30"),
        ("2021-06-01T12:00:00+0130", "2021-06-01T12:00:00+01:30"),
        ("2021-06-01T12:00:00+1:30", "2021-06-01T12:00:00+01:30"),
        ("2021-06-01T12:00:00-01:30", "2021-06-01T12:00:00-01:30"),
        ("2021-06-01T12:00:00.5Z", "2021-06-01T12:00:00.500+00:00"),
        ("2021-06-01T12:00:00.123999+01:00", "2021-06-01T12:00:00.123+01:00"),  # decimals cut, not rounded
    ],
)
def test_every_format_the_spec_allows(text, iso):
    assert parse_date_time(text).ms == _at(iso)


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        # The spec's table "Leap days".
        ("2020-02-29", 1, "day", "2020-03-01"),
        ("2020-02-29", 1, "month", "2020-03-29"),
        ("2020-02-29", 1, "year", "2021-03-01"),
        # setUTCMonth lets a day past the month's end run on, as ECMAScript does.
        ("2021-01-31", 1, "month", "2021-03-03"),
        ("2021-03-31", -1, "month", "2021-03-03"),
        ("2021-01-15", -13, "month", "2019-12-15"),
        ("2021-06-01T23:00:00Z", 2, "hour", "2021-06-02T01:00:00Z"),
        ("2020-12-25", 180, "day", "2021-06-23"),  # no DST: days are 24 hours
        ("2004-01", 18, "year", "2022-01-31"),
    ],
)
def test_plus_time_is_ecmascripts_arithmetic(start, amount, unit, expected):
    assert plus_time(parse_date_time(start), amount, unit).ms == parse_date_time(expected).ms


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_the_calendar_is_the_proleptic_gregorian_one(day):
    days = (day - dt.date(1970, 1, 1)).days
    assert days_from_civil(day.year, day.month, day.day) == days
    assert civil_from_days(days) == (day.year, day.month, day.day)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    amount=st.integers(-50_000, 50_000),
)
def test_hours_and_days_are_fixed_lengths(moment, amount):
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=dt.UTC)
    start = parse_date_time(moment.isoformat(timespec="milliseconds"))
    assert plus_time(start, amount, "hour").ms == _at((moment + dt.timedelta(hours=amount)).isoformat())
    assert plus_time(start, amount, "day").ms == _at((moment + dt.timedelta(days=amount)).isoformat())


def test_date_time_text_and_json_values_round_trip():
    assert parse_date_time("2021-06-01T12:00:00.042+02:00").text() == "2021-06-01T10:00:00.042Z"
    assert json.loads(json.dumps({"a": 1.0}))["a"] == 1  # the reason integral floats are integers
