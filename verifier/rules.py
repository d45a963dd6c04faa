"""Business rules: what a rule is, and which rules apply to a certificate (docs/verifier.md,
"Business rules"); ``verifier.rule_check`` evaluates them.

A rule is the JSON object a country uploads to the gateway (Identifier, Type, Country, Version,
SchemaVersion, Engine, EngineVersion, CertificateType, Description, ValidFrom, ValidTo,
AffectedFields, Logic). ``parse_rule`` reads one and compiles its Logic once
(``verifier.certlogic``); a Logic that does not compile does not stop the rule from being selected:
it fails when evaluated, by name, so the code is not valid for that country.

Selection, as the EU verifier apps do it (``RuleSet.select``): of each Identifier, the highest
Version in force at the clock (ValidFrom <= clock < ValidTo); of those, the Acceptance rules of the
country of arrival and the Invalidation rules of the issuing country, for the certificate's type or
General. Nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from verifier.certlogic import Program, compile_expression
from verifier.encoding import parse_time
from verifier.reasons import CertLogicError, RuleReason
from verifier.semver import Key, semver_key

ENGINE = "CERTLOGIC"
ACCEPTANCE, INVALIDATION = "Acceptance", "Invalidation"
GENERAL = "General"
# The DCC's certificate type (v, t, r) as a rule's CertificateType names it.
CERTIFICATE_TYPES = {"v": "Vaccination", "t": "Test", "r": "Recovery"}
# The first part of an Identifier names the certificate type (tooling's Gateway constraints,
# INVALID_RULE_ID); an Invalidation rule's (IR) applies to every type.
_IDENTIFIER_TYPES = {"GR": GENERAL, "VR": "Vaccination", "TR": "Test", "RR": "Recovery", "IR": GENERAL}


class RuleIssue(NamedTuple):
    """A rule or value set that was not taken: where it was, and why."""

    source: str
    reason: RuleReason
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason.value, "detail": self.detail}


class RuleError(Exception):
    """A rule that cannot be read, or cannot be evaluated: ``reason`` names why."""

    def __init__(self, reason: RuleReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def version_key(text: Any) -> Key | None:
    """A semantic version's precedence (``verifier.semver``, as the gateway orders versions), or
    None for anything that is not one."""
    if not isinstance(text, str):
        return None
    try:
        return semver_key(text)
    except ValueError:
        return None


@dataclass(frozen=True, eq=False)
class Rule:
    identifier: str
    type: str  # Acceptance or Invalidation
    country: str
    version: str
    valid_from: dt.datetime
    valid_to: dt.datetime
    certificate_type: str  # General, Test, Vaccination or Recovery
    engine: str = ENGINE
    engine_version: str = ""
    schema_version: str = ""
    descriptions: tuple[tuple[str, str], ...] = ()  # (lang, desc)
    affected_fields: tuple[str, ...] = ()
    logic: Any = None
    program: Program | None = None  # the compiled Logic, or None with ``error`` saying why
    error: RuleError | None = None  # set: the rule fails with its reason whenever it is selected

    @property
    def version_order(self) -> Key:
        return semver_key(self.version)  # parse_rule and the published entries took only semver

    def in_force(self, at: dt.datetime) -> bool:
        return self.valid_from <= at < self.valid_to

    def description(self, lang: str = "en") -> str:
        """The description in ``lang``, else in English, else the first there is."""
        texts = dict(self.descriptions)
        return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


def _text(rule: Mapping[str, Any], name: str) -> str:
    value = rule.get(name)
    if not isinstance(value, str) or not value:
        raise RuleError(RuleReason.RULE_UNREADABLE, f"{name} is missing or not text")
    return value


def _time(rule: Mapping[str, Any], name: str) -> dt.datetime:
    try:
        return parse_time(_text(rule, name))
    except ValueError:
        raise RuleError(RuleReason.RULE_UNREADABLE, f"{name} is not an ISO 8601 time") from None


def _descriptions(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise RuleError(RuleReason.RULE_UNREADABLE, "Description is not a list")
    pairs = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("lang"), str) or not isinstance(item.get("desc"), str):
            raise RuleError(RuleReason.RULE_UNREADABLE, "a Description is not {lang, desc}")
        pairs.append((item["lang"], item["desc"]))
    return tuple(pairs)


def parse_rule(rule: Any) -> Rule:
    """A rule object as uploaded. Raises RuleError (RULE_UNREADABLE) when it lacks what
    selection needs; a Logic that is not valid CertLogic is kept as ``error``."""
    if not isinstance(rule, dict):
        raise RuleError(RuleReason.RULE_UNREADABLE, "a rule is a JSON object")
    version = _text(rule, "Version")
    if version_key(version) is None:
        raise RuleError(RuleReason.RULE_UNREADABLE, f"Version {version[:20]!r} is not a semantic version")
    kind, certificate_type = _text(rule, "Type"), _text(rule, "CertificateType")
    if kind not in (ACCEPTANCE, INVALIDATION):
        raise RuleError(RuleReason.RULE_UNREADABLE, f"Type {kind[:20]!r} is neither {ACCEPTANCE} nor {INVALIDATION}")
    if certificate_type not in (GENERAL, *CERTIFICATE_TYPES.values()):
        raise RuleError(RuleReason.RULE_UNREADABLE, f"CertificateType {certificate_type[:20]!r} is unknown")
    fields = rule.get("AffectedFields", [])
    if not isinstance(fields, list) or not all(isinstance(item, str) for item in fields):
        raise RuleError(RuleReason.RULE_UNREADABLE, "AffectedFields is not a list of texts")
    if "Logic" not in rule:
        raise RuleError(RuleReason.RULE_UNREADABLE, "Logic is missing")
    engine = _text(rule, "Engine")
    program, error = None, None
    if engine == ENGINE:  # another engine's logic is not CertLogic: the rule fails as unsupported
        try:
            program = compile_expression(rule["Logic"])
        except CertLogicError as exc:
            error = RuleError(exc.reason, exc.detail)
    return Rule(
        identifier=_text(rule, "Identifier"),
        type=kind,
        country=_text(rule, "Country"),
        version=version,
        valid_from=_time(rule, "ValidFrom"),
        valid_to=_time(rule, "ValidTo"),
        certificate_type=certificate_type,
        engine=engine,
        engine_version=_text(rule, "EngineVersion"),
        schema_version=_text(rule, "SchemaVersion"),
        descriptions=_descriptions(rule.get("Description")),
        affected_fields=tuple(fields),
        logic=rule["Logic"],
        program=program,
        error=error,
    )


def unreadable_rule(
    identifier: str,
    country: str,
    kind: str,
    version: str,
    valid_from: dt.datetime,
    valid_to: dt.datetime,
    error: RuleError,
    certificate_type: str | None = None,
) -> Rule:
    """A rule known only by what its published entry says of it (its body cannot be read):
    selected like any other, it fails with ``error``'s reason, so a code is never valid for a
    country whose rules in force could not all be read. Its certificate type is the entry's, else
    the one its Identifier names."""
    return Rule(
        identifier=identifier,
        type=kind,
        country=country,
        version=version,
        valid_from=valid_from,
        valid_to=valid_to,
        certificate_type=certificate_type or _IDENTIFIER_TYPES.get(identifier[:2], GENERAL),
        error=error,
    )


# --- selection ---------------------------------------------------------------------------------


@dataclass
class RuleSet:
    """Rules and value sets, indexed for selection. Build it once per sync; it is only read."""

    rules: Sequence[Rule] = ()
    value_sets: Mapping[str, list[str]] = field(default_factory=dict)
    issues: Sequence[RuleIssue] = ()

    def __post_init__(self) -> None:
        # (country, Type) -> Identifier -> its versions, highest first
        self._index: dict[tuple[str, str], dict[str, list[Rule]]] = {}
        for rule in self.rules:
            self._index.setdefault((rule.country, rule.type), {}).setdefault(rule.identifier, []).append(rule)
        for by_identifier in self._index.values():
            for versions in by_identifier.values():
                versions.sort(key=lambda rule: rule.version_order, reverse=True)

    def __len__(self) -> int:
        return len(self.rules)

    def countries(self) -> dict[str, int]:
        """The number of rules (all versions) of each country."""
        counts: dict[str, int] = {}
        for rule in self.rules:
            counts[rule.country] = counts.get(rule.country, 0) + 1
        return dict(sorted(counts.items()))

    def select(self, arrival: str, issuing: str | None, payload_type: str, at: dt.datetime) -> list[Rule]:
        """The rules that apply: per Identifier the highest Version in force at ``at``; the
        Acceptance rules of ``arrival`` and the Invalidation rules of ``issuing``, each for the
        certificate's type or General. Acceptance first, each kind by Identifier."""
        wanted = (GENERAL, CERTIFICATE_TYPES.get(payload_type))
        chosen = []
        for country, kind in ((arrival, ACCEPTANCE), (issuing, INVALIDATION)):
            by_identifier = self._index.get((country or "", kind), {})
            for identifier in sorted(by_identifier):
                current = next((rule for rule in by_identifier[identifier] if rule.in_force(at)), None)
                if current is not None and current.certificate_type in wanted:
                    chosen.append(current)
        return chosen


def read_rules(items: Iterable[tuple[str, Any]]) -> tuple[list[Rule], list[RuleIssue]]:
    """Rule objects as uploaded, each with a label for the report: the rules, and those not taken."""
    rules, issues = [], []
    for label, item in items:
        try:
            rules.append(parse_rule(item))
        except RuleError as exc:
            issues.append(RuleIssue(label, exc.reason, exc.detail))
    return rules, issues
