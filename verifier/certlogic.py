"""A bounded CertLogic evaluator: the JsonLogic subset EU DCC business rules are written in
(CertLogic specification 1.3.3, tests/data/rules/certlogic/specification/README.md).

``compile_expression`` checks an expression once, as the spec asks ("The CertLogic evaluator
function checks the validity of the expression first, before evaluating any of its operands"),
and turns it into nested closures; ``Program.evaluate`` runs them on a data context. Every
failure is a ``CertLogicError`` with a ``RuleReason``, never another exception:

- an invalid expression (a ``null`` or non-integer literal, an object that is not one operation,
  operands that are not an array, the wrong number of operands, a malformed ``var`` path or
  ``plusTime`` unit): CERTLOGIC_INVALID; an operator the spec does not name:
  CERTLOGIC_UNKNOWN_OPERATION;
- nesting deeper than ``MAX_DEPTH`` or more than ``MAX_NODES`` nodes: CERTLOGIC_TOO_DEEP,
  CERTLOGIC_TOO_LARGE, found before anything recurses further (the closures are as deep as the
  expression, so evaluation is bounded too);
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

from verifier.certlogic_dates import UNITS, DateTime, date_of_birth, parse_date_time, plus_time
from verifier.reasons import CertLogicError, RuleReason

MAX_DEPTH = 64  # the EU rules nest 15 deep at most (tests/data/rules/business-rules)
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
    """Check ``expression`` against the spec and the bounds. Raises CertLogicError."""
    return Program(expression, _Compiler().compile(expression, 1))


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


def _literal_integer(value: Any) -> int | None:
    kind = type(value)
    if kind is int:
        return value
    if kind is float and value.is_integer():
        return int(value)
    return None


def _constant(value: Any) -> Run:
    return lambda data, budget: value


class _Compiler:
    """One pass over an expression: checks it and builds its closures, counting nodes."""

    def __init__(self) -> None:
        self.nodes = 0

    def compile(self, node: Any, depth: int) -> Run:
        if depth > MAX_DEPTH:
            raise CertLogicError(RuleReason.CERTLOGIC_TOO_DEEP, f"nested deeper than {MAX_DEPTH}")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise CertLogicError(RuleReason.CERTLOGIC_TOO_LARGE, f"more than {MAX_NODES} nodes")
        kind = type(node)
        # "Literal values": arrays, booleans, integers and strings; not objects, null, date-times.
        if kind is bool or kind is str or kind is int:
            return _constant(node)
        if kind is float:
            integer = _literal_integer(node)
            if integer is None:
                raise CertLogicError(_INVALID, f"{node!r} is a non-integer number")
            return _constant(integer)
        if kind is list:
            # "A JSON array evaluates to an array with every item evaluated separately."
            items = [self.compile(item, depth + 1) for item in node]
            return lambda data, budget: [item(data, budget) for item in items]
        if kind is not dict:
            raise CertLogicError(_INVALID, f"{_kind(node)} is no CertLogic expression")
        if len(node) != 1:
            raise CertLogicError(_INVALID, f"an expression object must have exactly one key, not {len(node)}")
        ((name, operands),) = node.items()
        if name == "var":
            return _var(operands)
        if type(operands) is not list:
            raise CertLogicError(_INVALID, f'"{str(name)[:40]}" is not of the form {{"<operator>": [<operands>]}}')
        build = _OPERATIONS.get(name)
        if build is None:
            raise CertLogicError(RuleReason.CERTLOGIC_UNKNOWN_OPERATION, f'unknown operation "{str(name)[:40]}"')
        return build(self, name, operands, depth + 1)

    def operands(self, name: str, operands: list[Any], depth: int, *counts: int, at_least: int = 0) -> list[Run]:
        """The operands compiled, if there are as many as the operation takes."""
        if len(operands) not in counts and not (at_least and len(operands) >= at_least):
            expected = f"at least {at_least}" if at_least else " or ".join(map(str, counts))
            raise CertLogicError(_INVALID, f'"{name}" takes {expected} operands, not {len(operands)}')
        return [self.compile(operand, depth) for operand in operands]


def _var(path: Any) -> Run:
    """Spec, "Data access (var)": ``{"var": "<path>"}``, period-separated fragments, an integer
    fragment indexing an array; a missing or null value on the way gives null; "" is the whole
    context. No default value, no integer form."""
    if type(path) is not str:
        raise CertLogicError(_INVALID, 'not of the form {"var": "<path>"}')
    if path == "":
        return lambda data, budget: data
    fragments = path.split(".")
    if "" in fragments:
        raise CertLogicError(_INVALID, f"data access path doesn't have a valid format: {path[:80]}")
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


def _if(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "If-then-else": the guard, then only the branch it chooses."""
    guard, then, otherwise = compiler.operands(name, operands, depth, 3)

    def run(data: Any, budget: list[int]) -> Any:
        value = guard(data, budget)
        truth = value if type(value) is bool else truthiness(value)
        if truth is None:
            raise CertLogicError(_EVAL, f'the guard of "if" is {_kind(value)}: neither truthy nor falsy')
        return then(data, budget) if truth else otherwise(data, budget)

    return run


def _and(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "and": variadic (at least 2), lazy, in order; the first falsy operand's value or the
    last one's; an operand neither truthy nor falsy is an error."""
    parts = compiler.operands(name, operands, depth, at_least=2)

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


def _not(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "Negation (!)": true for a falsy operand, false for a truthy one, else an error."""
    (operand,) = compiler.operands(name, operands, depth, 1)

    def run(data: Any, budget: list[int]) -> bool:
        value = operand(data, budget)
        truth = value if type(value) is bool else truthiness(value)
        if truth is None:
            raise CertLogicError(_EVAL, f'the operand of "!" is {_kind(value)}: neither truthy nor falsy')
        return not truth

    return run


def _equal(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    left, right = compiler.operands(name, operands, depth, 2)
    return lambda data, budget: strict_equal(left(data, budget), right(data, budget))


def _in(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "in": whether operand 1 is a member of operand 2, "which must be an array"."""
    item, collection = compiler.operands(name, operands, depth, 2)

    def run(data: Any, budget: list[int]) -> bool:
        needle, items = item(data, budget), collection(data, budget)
        if type(items) is not list:
            raise CertLogicError(_EVAL, f'the second operand of "in" is {_kind(items)}, not an array')
        return _member(needle, items)

    return run


def _plus(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """``+`` of two integers (the spec's operators are on integers; no string concatenation)."""
    left, right = compiler.operands(name, operands, depth, 2)
    return lambda data, budget: _integer(left(data, budget), "+") + _integer(right(data, budget), "+")


_COMPARE = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
# "The after, before, not-after, and not-before operators are the date-time-specific equivalents
# of the >, <, <=, and >= (respectively) operators for integers."
_COMPARE_TIMES = {"after": operator.gt, "before": operator.lt, "not-after": operator.le, "not-before": operator.ge}


def _comparison(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "Operations with infix operators": two operands, or three meaning
    ``(a op b) and (b op c)``; integers for <, >, <=, >=; date-times for the other four."""
    parts = compiler.operands(name, operands, depth, 2, 3)
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


def _plus_time(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "Offset date-time (plusTime)": a date(-time) string, an integer amount, a unit."""
    if len(operands) != 3:
        raise CertLogicError(_INVALID, f'"plusTime" takes 3 operands, not {len(operands)}')
    (start,) = compiler.operands(name, operands[:1], depth, 1)
    amount, unit = _literal_integer(operands[1]), operands[2]
    if amount is None:
        raise CertLogicError(_INVALID, 'the amount of "plusTime" must be an integer')
    if unit not in UNITS:
        raise CertLogicError(_INVALID, f'the unit of "plusTime" must be one of {", ".join(UNITS)}')

    def run(data: Any, budget: list[int]) -> DateTime:
        text = start(data, budget)
        if type(text) is not str:
            raise CertLogicError(_EVAL, f'"plusTime" takes a date(-time) string, not {_kind(text)}')
        moment = parse_date_time(text)
        return moment if amount == 0 else plus_time(moment, amount, unit)

    return run


def _date_of_birth(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    (operand,) = compiler.operands(name, operands, depth, 1)

    def run(data: Any, budget: list[int]) -> DateTime:
        text = operand(data, budget)
        if type(text) is not str:
            raise CertLogicError(_EVAL, f'"dccDateOfBirth" takes a string, not {_kind(text)}')
        return date_of_birth(text)

    return run


def _extract_from_uvci(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "Extract data from an UCI": the fragment at ``index`` of a UCI split on / # :, an
    optional ``URN:UVCI:`` prefix ignored; null for a null operand or a missing fragment."""
    if len(operands) != 2:
        raise CertLogicError(_INVALID, f'"extractFromUVCI" takes 2 operands, not {len(operands)}')
    (operand,) = compiler.operands(name, operands[:1], depth, 1)
    index = _literal_integer(operands[1])
    if index is None:
        raise CertLogicError(_INVALID, 'the index of "extractFromUVCI" must be an integer')

    def run(data: Any, budget: list[int]) -> str | None:
        text = operand(data, budget)
        if text is None:
            return None
        if type(text) is not str:
            raise CertLogicError(_EVAL, f'"extractFromUVCI" takes a string or null, not {_kind(text)}')
        fragments = _UCI_SEPARATORS.split(text.removeprefix(_UCI_PREFIX))
        return fragments[index] if 0 <= index < len(fragments) else None

    return run


def _reduce(compiler: _Compiler, name: str, operands: list[Any], depth: int) -> Run:
    """Spec, "Reduction (reduce)": a left fold of the operand (an array, or null: the initial
    value) with the lambda evaluated on ``{"current": ..., "accumulator": ...}``."""
    collection, step, initial = compiler.operands(name, operands, depth, 3)

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


Build = Callable[[_Compiler, str, list[Any], int], Run]
# The operations of the spec (1.3.3), "Operations"; any other name is CERTLOGIC_UNKNOWN_OPERATION.
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
