"""Evaluate the business rules that apply to a verified certificate (docs/verifier.md,
"Business rules").

Each rule ``verifier.rules.RuleSet.select`` chose is evaluated on ``{"payload": <the DCC>,
"external": {validationClock, valueSets, countryCode, exp, iat}}`` and passes when its value is
truthy; a rule that cannot be evaluated (not CertLogic, too deep, an unknown operation, another
engine, a DCC schema it was not written for) fails by name. ``apply_rules`` adds the outcome to a
verification ``Result`` as its RULES step. Nothing here reads the clock, and nothing raises on a
bad rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from verifier.certlogic import is_truthy
from verifier.decode import json_safe
from verifier.encoding import format_posix
from verifier.hcert import Result, StepOutcome
from verifier.reasons import CertLogicError, Reason, RuleReason, Status, Step
from verifier.rules import ENGINE, Rule, RuleError, RuleIssue, RuleSet, version_key

# The CertLogic specification this evaluator implements is 1.3.3. The EU rules say EngineVersion
# 0.7.5 (certlogic-js's); a major version above 1 may need what this evaluator does not know.
SUPPORTED_ENGINE_MAJOR = 1


class RuleStatus(StrEnum):
    PASSED = "PASSED"  # the logic evaluated truthy
    FAILED = "FAILED"  # the logic evaluated to something not truthy
    ERROR = "ERROR"  # the rule could not be evaluated (reason says why): it fails too


class RuleOutcome(NamedTuple):
    rule: Rule
    status: RuleStatus
    reason: RuleReason
    detail: str
    description: str  # in the language asked for, else English

    @property
    def passed(self) -> bool:
        return self.status is RuleStatus.PASSED

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.rule.identifier,
            "version": self.rule.version,
            "type": self.rule.type,
            "country": self.rule.country,
            "certificateType": self.rule.certificate_type,
            "status": self.status.value,
            "reason": self.reason.value,
            "detail": self.detail,
            "description": self.description,
            "affectedFields": list(self.rule.affected_fields),
        }


@dataclass(frozen=True)
class RulesResult:
    """Every rule evaluated for one certificate, in selection order. ``passed`` when each did (so
    also when none applied: the country sets no condition on this certificate at this time);
    never when the rules were not ``evaluated`` (the code itself is not valid)."""

    country: str  # of arrival
    issuing_country: str | None
    validation_clock: str
    outcomes: tuple[RuleOutcome, ...]
    issues: tuple[RuleIssue, ...] = ()  # rules and value sets of the source that were not taken
    evaluated: bool = True

    @property
    def passed(self) -> bool:
        return self.evaluated and all(outcome.passed for outcome in self.outcomes)

    @property
    def outcome(self) -> str:
        return "NOT_EVALUATED" if not self.evaluated else "PASSED" if self.passed else "FAILED"

    @property
    def failures(self) -> list[RuleOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "issuingCountry": self.issuing_country,
            "validationClock": self.validation_clock,
            "outcome": self.outcome,
            "passed": self.passed,
            "failed": [f"{outcome.rule.identifier} {outcome.rule.version}" for outcome in self.failures],
            "results": [outcome.to_dict() for outcome in self.outcomes],
            "skipped": [issue.to_dict() for issue in self.issues],
        }


def external_parameters(
    at: dt.datetime,
    value_sets: Mapping[str, list[str]],
    country: str,
    issued_at: float | None = None,
    expires_at: float | None = None,
) -> dict[str, Any]:
    """The ``external`` part of a rule's data: the clock (ISO 8601 with its offset, as the EU
    apps send a ZonedDateTime), the value sets, the country of arrival, and the CWT's iat and exp."""
    return {
        "validationClock": at.isoformat(timespec="milliseconds"),
        "valueSets": dict(value_sets),
        "countryCode": country,
        "exp": format_posix(expires_at),
        "iat": format_posix(issued_at),
    }


def _unsupported(rule: Rule, payload: Any) -> tuple[RuleReason, str] | None:
    """Why this evaluator must not judge ``rule``, as the EU engines decide it: another engine, a
    newer CertLogic major, or a DCC whose schema version (``ver``) is of another major than the
    rule's SchemaVersion or older than it."""
    if rule.engine != ENGINE:
        return RuleReason.ENGINE_UNSUPPORTED, f"Engine {rule.engine[:20]!r} is not {ENGINE}"
    engine_version = version_key(rule.engine_version)
    if engine_version is None or engine_version[0] > SUPPORTED_ENGINE_MAJOR:
        return RuleReason.ENGINE_UNSUPPORTED, f"EngineVersion {rule.engine_version[:20]!r} is not {ENGINE} 1.x or older"
    given = payload.get("ver") if isinstance(payload, Mapping) else None
    schema, ver = version_key(rule.schema_version), version_key(given)
    if schema is None or ver is None or ver[0] != schema[0] or ver < schema:
        return RuleReason.SCHEMA_VERSION_UNSUPPORTED, (
            f"the DCC's ver {str(given)[:20]!r} does not meet SchemaVersion {rule.schema_version[:20]!r}"
        )
    return None


def evaluate_rule(rule: Rule, data: Mapping[str, Any], lang: str = "en") -> RuleOutcome:
    """One rule on ``{"payload": ..., "external": ...}``. Never raises."""
    description = rule.description(lang)
    unsupported = _unsupported(rule, data["payload"]) if rule.error is None else None
    if unsupported is not None:
        return RuleOutcome(rule, RuleStatus.ERROR, unsupported[0], unsupported[1], description)
    if rule.program is None:
        error = rule.error or RuleError(RuleReason.RULE_UNREADABLE, "no logic")
        return RuleOutcome(rule, RuleStatus.ERROR, error.reason, error.detail, description)
    try:
        value = rule.program.evaluate(data)
    except CertLogicError as exc:
        return RuleOutcome(rule, RuleStatus.ERROR, exc.reason, exc.detail, description)
    if is_truthy(value):
        return RuleOutcome(rule, RuleStatus.PASSED, RuleReason.RULE_PASSED, "", description)
    return RuleOutcome(rule, RuleStatus.FAILED, RuleReason.RULE_NOT_SATISFIED, "", description)


def evaluate_rules(
    rule_set: RuleSet,
    payload: Mapping[str, Any],
    payload_type: str,
    *,
    arrival: str,
    issuing: str | None,
    at: dt.datetime,
    issued_at: float | None = None,
    expires_at: float | None = None,
    lang: str = "en",
) -> RulesResult:
    """Select and evaluate the rules for a verified DCC ``payload`` (JSON values) of type
    ``payload_type`` (v, t, r), issued by ``issuing``, presented in ``arrival`` at ``at``
    (timezone-aware). Never raises on bad rules: each fails by name."""
    if at.tzinfo is None:
        raise ValueError("the validation clock must be timezone-aware")
    external = external_parameters(at, rule_set.value_sets, arrival, issued_at, expires_at)
    data = {"payload": payload, "external": external}
    outcomes = tuple(evaluate_rule(rule, data, lang) for rule in rule_set.select(arrival, issuing, payload_type, at))
    return RulesResult(arrival, issuing, external["validationClock"], outcomes, tuple(rule_set.issues))


def apply_rules(result: Result, rule_set: RuleSet, arrival: str, at: dt.datetime, *, lang: str = "en") -> Result:
    """``result`` with a RULES step and its ``rules``: the rules of the country of arrival
    ``arrival`` (and the issuing country's invalidation rules) on its verified DCC. A code that is
    not valid gets no rules evaluated (its payload is not to be trusted): RULES is SKIPPED. The
    issuing country is the signing DSC's, which the CLAIMS step matched to ``iss``."""
    issuing = result.dsc_country or result.issuer_country
    if not result.valid or result.payload is None or result.payload_type is None:
        rules = RulesResult(arrival, issuing, at.isoformat(timespec="milliseconds"), (), tuple(rule_set.issues), False)
        step = StepOutcome(Step.RULES, Status.SKIPPED, Reason.NOT_REACHED, "the code is not valid: no rule evaluated")
    else:
        rules = evaluate_rules(
            rule_set,
            json_safe(result.payload),
            result.payload_type,
            arrival=arrival,
            issuing=issuing,
            at=at,
            issued_at=result.issued_at,
            expires_at=result.expires_at,
            lang=lang,
        )
        step = _rules_step(rules)
    checked = result.with_steps([*result.steps, step])
    checked.rules = rules
    return checked


def _rules_step(rules: RulesResult) -> StepOutcome:
    if not rules.outcomes:
        return StepOutcome(Step.RULES, Status.PASSED, Reason.OK, f"no rule of {rules.country} applies")
    failures = rules.failures
    if not failures:
        return StepOutcome(
            Step.RULES, Status.PASSED, Reason.OK, f"{len(rules.outcomes)} rules of {rules.country} passed"
        )
    named = ", ".join(f"{outcome.rule.identifier} {outcome.reason.value}" for outcome in failures[:5])
    more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
    return StepOutcome(
        Step.RULES, Status.FAILED, Reason.RULES_FAILED, f"{len(failures)} of {len(rules.outcomes)}: {named}{more}"
    )
