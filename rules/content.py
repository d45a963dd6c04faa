"""Rules and value sets as publication content: two named artifacts (publication.providers), read
again when an outbox change of their kind is published.

- ``rules``: every stored version of every country's rules, each with the rule's bytes as the
  country signed them and the uploader's detached CMS over them, so anyone can check who signed
  a rule; verifiers pick the version valid at their clock (docs/publication-format.md).
- ``valuesets``: ``{valueSetId: [codes]}``, what rules see as ``external.valueSets``.
"""

from __future__ import annotations

import base64
from typing import Any

from rules.models import ValidationRule, ValueSet
from rules.services import RULE_CHANGE, VALUESET_CHANGE
from verifier.encoding import format_time


class RulesContent:
    name = "rules"
    change_kinds = frozenset({RULE_CHANGE})

    def full(self) -> dict[str, Any]:
        rows = ValidationRule.objects.order_by("country", "identifier", "valid_from", "id")
        return {
            "rules": [
                {
                    "country": row.country,
                    "identifier": row.identifier,
                    "version": row.version,
                    "type": row.rule_type,
                    "certificateType": row.certificate_type,
                    "validFrom": format_time(row.valid_from),
                    "validTo": format_time(row.valid_to),
                    "raw": base64.b64encode(bytes(row.raw)).decode("ascii"),
                    "signature": row.signature,
                }
                for row in rows
            ]
        }


class ValueSetsContent:
    name = "valuesets"
    change_kinds = frozenset({VALUESET_CHANGE})

    def full(self) -> dict[str, list[str]]:
        return {row.value_set_id: list(row.codes) for row in ValueSet.objects.order_by("value_set_id")}
