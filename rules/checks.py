"""The checks of an uploaded business rule, in DGCG's order (its ValidationRuleService, as the EU
business-rules tooling documents it in Gateway-constraints.adoc), then ours. The first failure
wins, with its named reason. Pure: the clock, the country and the latest stored version are given.

DGCG: the JSON parses and fits the rule schema; the Identifier's prefix is the CertificateType's;
IR- if and only if Invalidation; Country and the Identifier's country are the uploader's; the
Version is above the latest stored; the validity window (ValidFrom before ValidTo, at most two
weeks ahead, an Acceptance rule at least 48 h ahead and an Invalidation rule not in the past,
valid for 72 h at least, not starting before the previous version).
Ours (what the EU tooling checks and every verifier needs): bounded size and nesting, the engine
and its version, the Logic being CertLogic, and AffectedFields being the fields it reads.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from gateway.pki.errors import Reason, Rejected
from verifier.rule_check import SUPPORTED_ENGINE_MAJOR
from verifier.rules import ENGINE
from verifier.semver import semver_key

# What a verifier will evaluate: deeper or larger logic is refused at upload (ours).
MAX_DEPTH = 40
MAX_NODES = 5000

PREFIX_OF_TYPE = {"General": "GR", "Test": "TR", "Vaccination": "VR", "Recovery": "RR"}
_SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"

# The rule's shape (the EU rule format: Identifier, Type, Country, Version, SchemaVersion, Engine,
# EngineVersion, CertificateType, Description, ValidFrom, ValidTo, AffectedFields, Logic).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "AffectedFields",
        "Country",
        "CertificateType",
        "Description",
        "Engine",
        "EngineVersion",
        "Identifier",
        "Logic",
        "SchemaVersion",
        "Type",
        "ValidFrom",
        "ValidTo",
        "Version",
    ],
    "properties": {
        "Identifier": {"type": "string", "pattern": r"^(GR|VR|TR|RR|IR)-[A-Z]{2}-\d{4}$"},
        "Type": {"enum": ["Acceptance", "Invalidation"]},
        "Country": {"type": "string", "pattern": r"^[A-Z]{2}$"},
        "Version": {"type": "string", "pattern": _SEMVER},
        "SchemaVersion": {"type": "string", "pattern": _SEMVER},
        "Engine": {"type": "string", "minLength": 1, "maxLength": 32},
        "EngineVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"},
        "CertificateType": {"enum": ["General", "Test", "Vaccination", "Recovery"]},
        "Description": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["lang", "desc"],
                "additionalProperties": False,
                "properties": {
                    "lang": {"type": "string", "pattern": r"^[a-z]{2}$"},
                    "desc": {"type": "string", "minLength": 1, "maxLength": 1024},
                },
            },
        },
        "ValidFrom": {"type": "string", "pattern": _TIME},
        "ValidTo": {"type": "string", "pattern": _TIME},
        "AffectedFields": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        "Logic": {"type": "object", "minProperties": 1},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class CheckedRule:
    rule: dict[str, Any]
    identifier: str
    version: str
    valid_from: dt.datetime
    valid_to: dt.datetime


@dataclass(frozen=True)
class Previous:
    """The latest version stored of the same identifier."""

    version: str
    valid_from: dt.datetime


def parse(raw: bytes) -> dict[str, Any]:
    """The rule JSON (0x200). Deep nesting is refused by the parser's recursion limit."""
    try:
        rule = json.loads(raw)
    except (ValueError, RecursionError):
        raise Rejected(Reason.RULE_NOT_JSON, "JSON could not be parsed") from None
    if not isinstance(rule, dict):
        raise Rejected(Reason.RULE_NOT_JSON, "the rule is not a JSON object")
    return rule


def check_rule(rule: dict[str, Any], *, country: str, at: dt.datetime, previous: Previous | None) -> CheckedRule:
    _check_size(rule.get("Logic"))
    errors = sorted(_VALIDATOR.iter_errors(rule), key=lambda error: list(error.path))
    if errors:
        messages = ", ".join(f"{'/'.join(map(str, e.path)) or 'rule'}: {e.message[:200]}" for e in errors[:5])
        raise Rejected(Reason.RULE_SCHEMA, f"JSON does not align to Validation Rule Schema: {messages}")
    identifier, certificate_type, rule_type = rule["Identifier"], rule["CertificateType"], rule["Type"]
    prefix, id_country, _ = identifier.split("-")
    if rule_type == "Acceptance" and prefix != PREFIX_OF_TYPE[certificate_type]:
        raise Rejected(
            Reason.RULE_ID_TYPE_MISMATCH,
            f"ID must start with {PREFIX_OF_TYPE[certificate_type]} for {certificate_type} Rules",
        )
    if (prefix == "IR") != (rule_type == "Invalidation"):
        detail = (
            "Invalidation Rule Rule-ID requires IR prefix."
            if rule_type == "Invalidation"
            else ("Acceptance Rule Rule-ID requires prefix other than IR.")
        )
        raise Rejected(Reason.RULE_ID_INVALIDATION, detail)
    if rule["Country"] != country:
        raise Rejected(Reason.RULE_COUNTRY, "Country does not match your authentication.")
    if id_country != country:
        raise Rejected(Reason.RULE_ID_COUNTRY, "Country Code in Identifier does not match country.")
    if previous is not None and semver_key(rule["Version"]) <= semver_key(previous.version):
        raise Rejected(
            Reason.RULE_VERSION,
            f"Version of new rule ({rule['Version']}) needs to be greater then old version ({previous.version})",
        )
    valid_from, valid_to = _time(rule["ValidFrom"]), _time(rule["ValidTo"])
    _check_window(rule_type, valid_from, valid_to, at, previous)
    _check_engine(rule["Engine"], rule["EngineVersion"])
    return CheckedRule(rule, identifier, rule["Version"], valid_from, valid_to)


def _check_window(
    rule_type: str, valid_from: dt.datetime, valid_to: dt.datetime, at: dt.datetime, previous: Previous | None
) -> None:
    if valid_from >= valid_to:
        raise Rejected(Reason.RULE_VALIDITY_ORDER, f"ValidFrom ({valid_from}) needs to be before ValidTo ({valid_to}).")
    if valid_from > at + dt.timedelta(weeks=2):
        raise Rejected(Reason.RULE_STARTS_TOO_LATE, f"ValidFrom ({valid_from}) cannot be more than 2 weeks in future.")
    if rule_type == "Acceptance" and valid_from < at + dt.timedelta(hours=48):
        raise Rejected(
            Reason.RULE_STARTS_TOO_SOON,
            f"ValidFrom ({valid_from}) needs to be at least 48h in future for Acceptance Validation Rules",
        )
    if rule_type == "Invalidation" and valid_from < at:
        raise Rejected(
            Reason.RULE_STARTS_TOO_SOON, f"ValidFrom ({valid_from}) needs to be in future for Invalidation Rules"
        )
    hours = (valid_to - valid_from) / dt.timedelta(hours=1)
    if hours < 72:
        raise Rejected(Reason.RULE_VALIDITY_TOO_SHORT, f"Rule Validity must be at least 72h but is {int(hours)}h")
    if previous is not None and valid_from < previous.valid_from:
        raise Rejected(
            Reason.RULE_STARTS_BEFORE_PREVIOUS,
            f"ValidFrom ({valid_from}) needs to be after or equal to ValidFrom ({previous.valid_from}) of the"
            " previous version of the rule.",
        )


def _check_engine(engine: str, version: str) -> None:
    # What verifiers evaluate is theirs to say (verifier.rule_check): a rule they would fail is refused here.
    if engine != ENGINE:
        raise Rejected(Reason.RULE_ENGINE, f"engine {engine[:32]!r} is not {ENGINE}")
    if int(version.split(".")[0]) > SUPPORTED_ENGINE_MAJOR:
        raise Rejected(Reason.RULE_ENGINE, f"CertLogic {version} is newer than verifiers evaluate")


def _check_size(logic: Any) -> None:
    """Walk the logic iteratively (a recursive walk is what a hostile rule would exhaust)."""
    pending = [(logic, 1)]
    nodes = 0
    while pending:
        node, depth = pending.pop()
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            raise Rejected(Reason.RULE_TOO_COMPLEX, f"Logic deeper than {MAX_DEPTH} or larger than {MAX_NODES} nodes")
        if isinstance(node, dict):
            pending.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            pending.extend((value, depth + 1) for value in node)


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
