"""Where business rules and value sets come from: the two named artifacts a gateway publishes
(docs/publication-format.md, "Named artifacts"; held by ``verifier.sync`` as
``SyncState.artifacts[name]["content"]``), or files (offline, tests).

- ``rules``: ``{"rules": [{"country", "identifier", "version", "type", "validFrom", "validTo",
  "raw": <base64 of the rule JSON exactly as uploaded>, "signature": <the uploader's detached
  CMS over raw>}, ...]}``. The rule is read from ``raw``; the CMS is not checked again here: the
  signed index binds the artifact, and the gateway checked the CMS at upload.
- ``valuesets``: ``{"<valueSetId>": ["code", ...], ...}`` (the EU business-rules valueSets.json).

Nothing read here ever stops the rest: an entry that cannot be taken is reported as a
``RuleIssue``. An entry whose body cannot be read, or says otherwise than its entry, but whose
entry is readable, becomes a rule that fails whenever it is selected (fail closed).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verifier.encoding import parse_time
from verifier.reasons import RuleReason
from verifier.rules import Rule, RuleError, RuleIssue, RuleSet, parse_rule, read_rules, unreadable_rule, version_key

RULES_ARTIFACT = "rules"
VALUE_SETS_ARTIFACT = "valuesets"
RULE_FILE = "rule.json"
# What an entry says of its rule, and the Rule attribute each must equal.
_ENTRY_FIELDS = {
    "identifier": "identifier",
    "country": "country",
    "type": "type",
    "version": "version",
    "validFrom": "valid_from",
    "validTo": "valid_to",
}
CERTIFICATE_TYPE = "certificateType"  # said by the gateway's entries; compared where given


def rule_set_from_artifacts(artifacts: Mapping[str, Mapping[str, Any]]) -> RuleSet:
    """The rules and value sets of a synced state's named artifacts (empty where there are none)."""
    rules: list[Rule] = []
    issues: list[RuleIssue] = []
    value_sets: dict[str, list[str]] = {}
    if RULES_ARTIFACT in artifacts:
        rules, issues = rules_from_artifact(_content(artifacts[RULES_ARTIFACT]))
    if VALUE_SETS_ARTIFACT in artifacts:
        value_sets, more = read_value_sets(_content(artifacts[VALUE_SETS_ARTIFACT]), VALUE_SETS_ARTIFACT)
        issues += more
    return RuleSet(rules, value_sets, issues)


def _content(held: Any) -> Any:
    return held.get("content") if isinstance(held, dict) else None


def _entry(entry: Any) -> dict[str, Any] | None:
    """What a published entry says of its rule (times parsed), or None if it cannot be read."""
    if not isinstance(entry, dict) or not all(isinstance(entry.get(name), str) for name in _ENTRY_FIELDS):
        return None
    if version_key(entry["version"]) is None:
        return None
    try:
        said = {name: entry[name] for name in _ENTRY_FIELDS}
        said["validFrom"], said["validTo"] = parse_time(said["validFrom"]), parse_time(said["validTo"])
    except ValueError:
        return None
    said[CERTIFICATE_TYPE] = entry.get(CERTIFICATE_TYPE) if isinstance(entry.get(CERTIFICATE_TYPE), str) else None
    return said


def _rule_of(entry: Any) -> Rule:
    try:
        body = json.loads(base64.b64decode(entry["raw"], validate=True))
    except (KeyError, TypeError, ValueError, binascii.Error, RecursionError):
        raise RuleError(RuleReason.RULE_UNREADABLE, "raw is not the base64 of a JSON rule") from None
    return parse_rule(body)


def rules_from_artifact(content: Any) -> tuple[list[Rule], list[RuleIssue]]:
    """The rules of a ``rules`` artifact's content, and the entries not taken as they are."""
    entries = content.get("rules") if isinstance(content, dict) else None
    if not isinstance(entries, list):
        return [], [RuleIssue(RULES_ARTIFACT, RuleReason.RULE_UNREADABLE, "the content holds no list of rules")]
    rules: list[Rule] = []
    issues: list[RuleIssue] = []
    for position, entry in enumerate(entries):
        said = _entry(entry)
        label = f"{RULES_ARTIFACT}[{position}]" + (f" {said['identifier']} {said['version']}" if said else "")
        try:
            rule = _rule_of(entry)
        except RuleError as exc:
            issues.append(RuleIssue(label, exc.reason, exc.detail))
            if said is not None:
                rules.append(
                    unreadable_rule(
                        said["identifier"],
                        said["country"],
                        said["type"],
                        said["version"],
                        said["validFrom"],
                        said["validTo"],
                        exc,
                        said[CERTIFICATE_TYPE],
                    )
                )
            continue
        differing = (
            sorted(_ENTRY_FIELDS)
            if said is None
            else [name for name, attribute in _ENTRY_FIELDS.items() if said[name] != getattr(rule, attribute)]
            + ([CERTIFICATE_TYPE] if said[CERTIFICATE_TYPE] not in (None, rule.certificate_type) else [])
        )
        if differing:
            mismatch = RuleError(RuleReason.RULE_MISMATCH, f"the entry's {', '.join(differing)} differ from the rule's")
            issues.append(RuleIssue(label, mismatch.reason, mismatch.detail))
            rule = dataclasses.replace(rule, program=None, error=mismatch)
        rules.append(rule)
    return rules, issues


def read_value_sets(content: Any, source: str) -> tuple[dict[str, list[str]], list[RuleIssue]]:
    """``{valueSetId: [code, ...]}``: the value sets that are lists of codes, and those that are not."""
    if not isinstance(content, dict):
        return {}, [RuleIssue(source, RuleReason.VALUE_SET_UNREADABLE, "not an object of value sets")]
    value_sets: dict[str, list[str]] = {}
    issues: list[RuleIssue] = []
    for identifier, codes in content.items():
        if isinstance(codes, list) and all(isinstance(code, str) for code in codes):
            value_sets[identifier] = codes
        else:
            issues.append(
                RuleIssue(f"{source} {identifier[:40]}", RuleReason.VALUE_SET_UNREADABLE, "not a list of codes")
            )
    return value_sets, issues


def rules_from_path(path: Path) -> tuple[list[Rule], list[RuleIssue]]:
    """A rule file (one rule object, or a list of them), or a folder: every ``rule.json`` below
    it (the layout of the EU business-rules repository). Raises OSError for a path that cannot be
    read; a file that is not a rule is reported."""
    files = sorted(path.rglob(RULE_FILE)) if path.is_dir() else [path]
    items: list[tuple[str, Any]] = []
    issues: list[RuleIssue] = []
    for file in files:
        try:
            body = json.loads(file.read_bytes())
        except (ValueError, RecursionError):
            issues.append(RuleIssue(str(file), RuleReason.RULE_UNREADABLE, "not JSON"))
            continue
        if isinstance(body, list):
            items += [(f"{file}[{position}]", item) for position, item in enumerate(body)]
        else:
            items.append((str(file), body))
    rules, more = read_rules(items)
    return rules, issues + more


def value_sets_from_file(path: Path) -> tuple[dict[str, list[str]], list[RuleIssue]]:
    """A valueSets.json. Raises OSError if it cannot be read; what is not value sets is reported."""
    try:
        content = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        return {}, [RuleIssue(str(path), RuleReason.VALUE_SET_UNREADABLE, "not JSON")]
    return read_value_sets(content, str(path))
