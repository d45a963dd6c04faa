"""A bounded CertLogic evaluator: the JsonLogic subset EU DCC business rules are written in
(CertLogic specification 1.3.3, tests/data/rules/certlogic/specification/README.md).

``compile_expression`` checks an expression once, as the spec asks ("The CertLogic evaluator
function checks the validity of the expression first, before evaluating any of its operands"),
and turns it into nested closures; ``Program.evaluate`` runs them on a data context. Every
failure is a ``CertLogicError`` with a ``RuleReason``, never another exception:

- nesting deeper than ``MAX_DEPTH`` or more than ``MAX_NODES`` nodes: CERTLOGIC_TOO_DEEP,
  CERTLOGIC_TOO_LARGE; an operator the spec does not name: CERTLOGIC_UNKNOWN_OPERATION; all found
  by one iterative walk before anything recurses (the closures are as deep as the expression, so
  evaluation is bounded too);
- anything else that is not of CertLogic's form (``verifier.certlogic_form``, the one definition
  the gateway checks uploads against too: a ``null`` or non-integer literal, an object that is not
  one operation, operands that are not an array, their number, a ``var`` path, a ``plusTime``
  amount or unit): CERTLOGIC_INVALID;
- a type mismatch found while evaluating ("Type mismatches can only be detected after evaluation
  of operands"): CERTLOGIC_EVALUATION_ERROR; more ``reduce`` steps in one evaluation than
  ``MAX_REDUCE_STEPS``: CERTLOGIC_BUDGET_EXCEEDED (nested reductions would otherwise multiply).

Values are JSON values as Python's ``json`` gives them, plus ``DateTime`` (verifier.certlogic_dates).
JSON has one number type: a float with an integral value is an integer here, as it is for the
spec's reference implementation in JavaScript. Written from the specification; no code of other
implementations.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from verifier.certlogic_dates import DateTime, date_of_birth, parse_date_time, plus_time
from verifier.certlogic_form import ARITY, VARIADIC_AT_LEAST, issues
from verifier.reasons import CertLogicError, RuleReason

MAX_DEPTH = 64  # an operation's operands one level below it; the EU rules (tests/data/rules) reach 8
MAX_NODES = 10_000  # the largest EU rule has 86
MAX_REDUCE_STEPS = 100_000  # lambda applications per evaluation

_INVALID = RuleReason.CERTLOGIC_INVALID
_EVAL = RuleReason.CERTLOGIC_EVALUATION_ERROR
# "Extract data from an UCI": fragments are separated by "/", "#" and ":".
_UCI_SEPARATORS = re.compile(r"[/#:]")
_UCI_PREFIX = "URN:UVCI:"

# (data context, remaining reduce steps) -> value
Run = Callable[[Any, list[int]], Any]


class Program:
    """A checked CertLogic expression, ready to evaluate any number of times (thread-safe: it
    holds no state between evaluations)."""

    __slots__ = ("_run", "expression")

    def __init__(self, expression: Any, run: Run) -> None:
        self.expression = expression
        self._run = run

    def evaluate(self, data: Any) -> Any:
        """The expression's value on ``data``. Raises CertLogicError."""
        return self._run(data, [MAX_REDUCE_STEPS])


def evaluate(expression: Any, data: Any) -> Any:
    """Check and evaluate in one go (tests, one-off use). Raises CertLogicError."""
    return compile_expression(expression).evaluate(data)


def compile_expression(expression: Any) -> Program:
    """Check ``expression`` against the bounds and CertLogic's form, and compile it. Raises
    CertLogicError."""
    _check_bounds(expression)
    problems = issues(expression)
    if problems:
        raise CertLogicError(_INVALID, problems[0])
    return Program(expression, _compile(expression))


# --- values ------------------------------------------------------------------------------------


def truthiness(value: Any) -> bool | None:
    """Spec, "Truthy and falsy values": True if truthy, False if falsy, None if neither (a
    date-time, a non-integer number). Falsy: false, null, "", 0, [], {}."""
    kind = type(value)
    if kind is bool:
        return value
    if value is None:
        return False
    if kind is str or kind is list or kind is dict:
        return len(value) > 0
    if kind is int:
        return value != 0
    if kind is float and value.is_integer():
        return value != 0
    return None


def is_truthy(value: Any) -> bool:
    return truthiness(value) is True


def _integer(value: Any, operation: str) -> int:
    kind = type(value)
    if kind is int:
        return value
    if kind is float and value.is_integer():
        return int(value)
    raise CertLogicError(_EVAL, f'"{operation}" takes integers, not {_kind(value)}')


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", list: "an array", dict: "an object", DateTime: "a date-time"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


_NUMBERS = (int, float)  # types, compared by identity: bool is not among them


def strict_equal(left: Any, right: Any) -> bool:
    """``===``: JavaScript's strict equality, the spec's reference ("checks equality without type
    coercion"): numbers, strings and booleans by type and value, anything else (null, arrays,
    objects, date-times) only as the very same value, which a date-time never is."""
    left_kind, right_kind = type(left), type(right)
    if left_kind in _NUMBERS and right_kind in _NUMBERS:
        return left == right
    if left_kind is right_kind and (left_kind is str or left_kind is bool):
        return left == right
    if left_kind is DateTime or right_kind is DateTime:
        return False  # every plusTime and dccDateOfBirth makes a new Date: never the same one
    return left is right


def _member(item: Any, items: list[Any]) -> bool:
    kind = type(item)
    if kind is str or item is None:  # only an equal string, or null itself, is === to these
        return item in items
    return any(strict_equal(item, candidate) for candidate in items)


# --- checking and compiling --------------------------------------------------------------------


def _check_bounds(expression: Any) -> None:
    """Depth, size and operators, in one iterative walk (no recursion a hostile depth could
    exhaust): an operation's operands and an array's items are one level below it. What is not of
    CertLogic's form is not descended into; ``issues`` names it next."""
    pending = [(expression, 1)]
    nodes = 0
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise CertLogicError(RuleReason.CERTLOGIC_TOO_DEEP, f"nested deeper than {MAX_DEPTH}")
        nodes += 1
        if nodes > MAX_NODES:
            raise CertLogicError(RuleReason.CERTLOGIC_TOO_LARGE, f"more than {MAX_NODES} nodes")
        if type(node) is list:
            pending.extend((item, depth + 1) for item in node)
        elif type(node) is dict and len(node) == 1:
            ((name, operands),) = node.items()
            if name == "var" or type(operands) is not list:
                continue
            if name not in ARITY and name not in VARIADIC_AT_LEAST:
                raise CertLogicError(RuleReason.CERTLOGIC_UNKNOWN_OPERATION, f'unknown operation "{str(name)[:40]}"')
            pending.extend((operand, depth + 1) for operand in operands)


def _constant(value: Any) -> Run:
    return lambda data, budget: value


def _compile(node: Any) -> Run:
    """The closures of an expression known to be of CertLogic's form and within the bounds."""
    # "Literal values": arrays, booleans, integers and strings; not objects, null, date-times.
    if type(node) is list:
        # "A JSON array evaluates to an array with every item evaluated separately."
        items = [_compile(item) for item in node]
        return lambda data, budget: [item(data, budget) for item in items]
    if type(node) is not dict:
        return _constant(node)
    ((name, operands),) = node.items()
    if name == "var":
        return _var(operands)
    return _OPERATIONS[name](name, operands)


def _operands(operands: list[Any]) -> list[Run]:
    return [_compile(operand) for operand in operands]


def _var(path: Any) -> Run:
    """Spec, "Data access (var)": ``{"var": "<path>"}``, period-separated fragments, an integer
    fragment indexing an array; a missing or null value on the way gives null; "" is the whole
    context. No default value, no integer form (the form has checked the path)."""
    if path == "":
        return lambda data, budget: data
    fragments = path.split(".")
    steps = tuple(
        (fragment, int(fragment) if fragment.isascii() and fragment.isdigit() else -1) for fragment in fragments
    )

    def run(data: Any, budget: list[int]) -> Any:
        value = data
        for key, index in steps:
            if isinstance(value, dict):
                value = value.get(key)
            elif isinstance(value, list):
                if not 0 <= index < len(value):
                    return None
                value = value[index]
            else:
                return None
        return value

    return run


def _if(name: str, operands: list[Any]) -> Run:
    """Spec, "If-then-else": the guard, then only the branch it chooses."""
    guard, then, otherwise = _operands(operands)

    def run(data: Any, budget: list[int]) -> Any:
        value = guard(data, budget)
        truth = value if type(value) is bool else truthiness(value)
        if truth is None:
            raise CertLogicError(_EVAL, f'the guard of "if" is {_kind(value)}: neither truthy nor falsy')
        return then(data, budget) if truth else otherwise(data, budget)

    return run


def _and(name: str, operands: list[Any]) -> Run:
    """Spec, "and": variadic (at least 2), lazy, in order; the first falsy operand's value or the
    last one's; an operand neither truthy nor falsy is an error."""
    parts = _operands(operands)

    def run(data: Any, budget: list[int]) -> Any:
        value = None
        for part in parts:
            value = part(data, budget)
            truth = value if type(value) is bool else truthiness(value)
            if truth is None:
                raise CertLogicError(_EVAL, f'an operand of "and" is {_kind(value)}: neither truthy nor falsy')
            if not truth:
                return value
        return value

    return run


def _not(name: str, operands: list[Any]) -> Run:
    """Spec, "Negation (!)": true for a falsy operand, false for a truthy one, else an error."""
    (operand,) = _operands(operands)

    def run(data: Any, budget: list[int]) -> bool:
        value = operand(data, budget)
        truth = value if type(value) is bool else truthiness(value)
        if truth is None:
            raise CertLogicError(_EVAL, f'the operand of "!" is {_kind(value)}: neither truthy nor falsy')
        return not truth

    return run


def _equal(name: str, operands: list[Any]) -> Run:
    left, right = _operands(operands)
    return lambda data, budget: strict_equal(left(data, budget), right(data, budget))


def _in(name: str, operands: list[Any]) -> Run:
    """Spec, "in": whether operand 1 is a member of operand 2, "which must be an array"."""
    item, collection = _operands(operands)

    def run(data: Any, budget: list[int]) -> bool:
        needle, items = item(data, budget), collection(data, budget)
        if type(items) is not list:
            raise CertLogicError(_EVAL, f'the second operand of "in" is {_kind(items)}, not an array')
        return _member(needle, items)

    return run


def _plus(name: str, operands: list[Any]) -> Run:
    """``+`` of two integers (the spec's operators are on integers; no string concatenation)."""
    left, right = _operands(operands)
    return lambda data, budget: _integer(left(data, budget), "+") + _integer(right(data, budget), "+")


_COMPARE = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
# "The after, before, not-after, and not-before operators are the date-time-specific equivalents
# of the >, <, <=, and >= (respectively) operators for integers."
_COMPARE_TIMES = {"after": operator.gt, "before": operator.lt, "not-after": operator.le, "not-before": operator.ge}


def _comparison(name: str, operands: list[Any]) -> Run:
    """Spec, "Operations with infix operators": two operands, or three meaning
    ``(a op b) and (b op c)``; integers for <, >, <=, >=; date-times for the other four."""
    parts = _operands(operands)
    on_times = name in _COMPARE_TIMES
    compare = _COMPARE_TIMES[name] if on_times else _COMPARE[name]

    def value_of(value: Any) -> int:
        if on_times:
            if type(value) is not DateTime:
                raise CertLogicError(_EVAL, f'"{name}" compares date-times, not {_kind(value)}')
            return value.ms
        return _integer(value, name)

    if len(parts) == 2:
        first, second = parts
        return lambda data, budget: compare(value_of(first(data, budget)), value_of(second(data, budget)))
    first, second, third = parts

    def between(data: Any, budget: list[int]) -> bool:
        a, b, c = value_of(first(data, budget)), value_of(second(data, budget)), value_of(third(data, budget))
        return compare(a, b) and compare(b, c)

    return between


def _plus_time(name: str, operands: list[Any]) -> Run:
    """Spec, "Offset date-time (plusTime)": a date(-time) string, an integer amount, a unit."""
    (start,) = _operands(operands[:1])
    amount, unit = operands[1], operands[2]  # a literal integer and unit (the form)

    def run(data: Any, budget: list[int]) -> DateTime:
        text = start(data, budget)
        if type(text) is not str:
            raise CertLogicError(_EVAL, f'"plusTime" takes a date(-time) string, not {_kind(text)}')
        moment = parse_date_time(text)
        return moment if amount == 0 else plus_time(moment, amount, unit)

    return run


def _date_of_birth(name: str, operands: list[Any]) -> Run:
    (operand,) = _operands(operands)

    def run(data: Any, budget: list[int]) -> DateTime:
        text = operand(data, budget)
        if type(text) is not str:
            raise CertLogicError(_EVAL, f'"dccDateOfBirth" takes a string, not {_kind(text)}')
        return date_of_birth(text)

    return run


def _extract_from_uvci(name: str, operands: list[Any]) -> Run:
    """Spec, "Extract data from an UCI": the fragment at ``index`` of a UCI split on / # :, an
    optional ``URN:UVCI:`` prefix ignored; null for a null operand or a missing fragment."""
    (operand,) = _operands(operands[:1])
    index = operands[1]  # a literal integer (the form)

    def run(data: Any, budget: list[int]) -> str | None:
        text = operand(data, budget)
        if text is None:
            return None
        if type(text) is not str:
            raise CertLogicError(_EVAL, f'"extractFromUVCI" takes a string or null, not {_kind(text)}')
        fragments = _UCI_SEPARATORS.split(text.removeprefix(_UCI_PREFIX))
        return fragments[index] if 0 <= index < len(fragments) else None

    return run


def _reduce(name: str, operands: list[Any]) -> Run:
    """Spec, "Reduction (reduce)": a left fold of the operand (an array, or null: the initial
    value) with the lambda evaluated on ``{"current": ..., "accumulator": ...}``."""
    collection, step, initial = _operands(operands)

    def run(data: Any, budget: list[int]) -> Any:
        items = collection(data, budget)
        accumulator = initial(data, budget)
        if items is None:
            return accumulator
        if type(items) is not list:
            raise CertLogicError(_EVAL, f'the operand of "reduce" is {_kind(items)}, not an array')
        budget[0] -= len(items)
        if budget[0] < 0:
            raise CertLogicError(RuleReason.CERTLOGIC_BUDGET_EXCEEDED, f"more than {MAX_REDUCE_STEPS} reduce steps")
        for current in items:
            accumulator = step({"current": current, "accumulator": accumulator}, budget)
        return accumulator

    return run


Build = Callable[[str, list[Any]], Run]
# How each operation of the spec (1.3.3, "Operations") is evaluated; which operations exist, with
# how many operands, is verifier.certlogic_form's (ARITY, VARIADIC_AT_LEAST).
_OPERATIONS: dict[str, Build] = {
    "if": _if,
    "===": _equal,
    "and": _and,
    "in": _in,
    "+": _plus,
    "!": _not,
    "plusTime": _plus_time,
    "dccDateOfBirth": _date_of_birth,
    "extractFromUVCI": _extract_from_uvci,
    "reduce": _reduce,
    **dict.fromkeys(_COMPARE, _comparison),
    **dict.fromkeys(_COMPARE_TIMES, _comparison),
}
