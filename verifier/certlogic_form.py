"""The form of a CertLogic expression (CertLogic specification 1.3.3, "Values" and "Operations"):
which operations exist with how many operands, what a literal may be, and which data an
expression reads. The gateway refuses a rule whose Logic is not of this form, and checks its
AffectedFields against what it reads; a verifier evaluates only what passes.

Messages follow the specification's validation test suite where it names one."""

from __future__ import annotations

import re
from typing import Any

# Operator -> the operand counts allowed ("Operations": infix ones with 2, comparisons also 3).
ARITY: dict[str, frozenset[int]] = {
    "if": frozenset({3}),
    "===": frozenset({2}),
    "in": frozenset({2}),
    "+": frozenset({2}),
    "!": frozenset({1}),
    ">": frozenset({2, 3}),
    "<": frozenset({2, 3}),
    ">=": frozenset({2, 3}),
    "<=": frozenset({2, 3}),
    "after": frozenset({2, 3}),
    "before": frozenset({2, 3}),
    "not-after": frozenset({2, 3}),
    "not-before": frozenset({2, 3}),
    "plusTime": frozenset({3}),
    "reduce": frozenset({3}),
    "extractFromUVCI": frozenset({2}),
    "dccDateOfBirth": frozenset({1}),
}
VARIADIC_AT_LEAST = {"and": 2}  # `and` takes any number of operands above one
TIME_UNITS = frozenset({"year", "month", "day", "hour"})
_PATH = re.compile(r"[^.]+(\.[^.]+)*")


def issues(expression: Any) -> list[str]:
    """Why ``expression`` is not CertLogic (empty: it is). Iterative: a hostile depth cannot
    exhaust the stack."""
    found: list[str] = []
    pending = [expression]
    while pending:
        node = pending.pop()
        if isinstance(node, bool) or isinstance(node, str):
            continue
        if isinstance(node, int):
            continue
        if isinstance(node, float):
            found.append(f"{node} is a non-integer number")
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            found.extend(_operation_issues(node, pending))
        else:
            found.append("invalid CertLogic expression")
    return found


def _operation_issues(node: dict[str, Any], pending: list[Any]) -> list[str]:
    if len(node) != 1:
        return [f"expression object must have exactly one key, but it has {len(node)}"]
    ((operator, operands),) = node.items()
    if operator == "var":
        if not isinstance(operands, str):
            return ['not of the form { "var": "<path>" }']
        if operands and not _PATH.fullmatch(operands):
            return [f"data access path doesn't have a valid format: {operands}"]
        return []
    if not isinstance(operands, list):
        return ['operation not of the form { "<operator>": [ <values...> ] }']
    if operator in VARIADIC_AT_LEAST:
        if len(operands) < VARIADIC_AT_LEAST[operator]:
            return [f'operation "{operator}" needs at least {VARIADIC_AT_LEAST[operator]} operands']
    elif operator not in ARITY:
        return [f'unrecognised operator: "{operator}"']
    elif len(operands) not in ARITY[operator]:
        counts = " or ".join(str(count) for count in sorted(ARITY[operator]))
        return [f'operation "{operator}" takes {counts} operands, not {len(operands)}']
    problems = []
    if operator == "plusTime" and not (
        isinstance(operands[1], int)
        and not isinstance(operands[1], bool)
        and isinstance(operands[2], str)  # an array or object here is no unit (and not hashable)
        and operands[2] in TIME_UNITS
    ):
        problems.append('"plusTime" takes an integer amount and a unit: year, month, day or hour')
    if operator == "extractFromUVCI" and not (isinstance(operands[1], int) and not isinstance(operands[1], bool)):
        problems.append('"extractFromUVCI" takes an integer index')
    pending.extend(operands)
    return problems


def data_accesses(expression: Any) -> set[str]:
    """The paths of every ``var`` in ``expression``, outside the lambda of a ``reduce`` (whose
    data context is the fold's own: ``current`` and ``accumulator``), where what a rule reads of
    the data is the reduced array itself."""
    paths: set[str] = set()
    pending = [expression]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict) and len(node) == 1:
            ((operator, operands),) = node.items()
            if operator == "var" and isinstance(operands, str):
                paths.add(operands)
            elif operator == "reduce" and isinstance(operands, list) and len(operands) == 3:
                pending.extend((operands[0], operands[2]))
            elif isinstance(operands, list):
                pending.extend(operands)
    return paths
