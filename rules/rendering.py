"""What the rules API serves: DGCG's selection of a country's rule versions, value-set ids and
documents."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from rules.models import RuleState, ValidationRule, ValueSet
from verifier.encoding import format_time
from verifier.semver import semver_key


def rules_of(country: str, at: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """``{identifier: [{version, validFrom, validTo, cms}]}``, newest first: per identifier, the
    version in force and those still to come (DGCG's ValidationRuleService), so a verifier can
    switch at the right moment. "In force" is ``ValidationRuleQuerySet.with_state``'s, the
    admin's too: a version whose window has closed is no longer served."""
    versions: dict[str, list[ValidationRule]] = defaultdict(list)
    served = (RuleState.UPCOMING, RuleState.CURRENT)
    for row in ValidationRule.objects.of_country(country).with_state(at).filter(state__in=served):
        versions[row.identifier].append(row)
    return {
        identifier: [
            {
                "version": row.version,
                "validFrom": format_time(row.valid_from),
                "validTo": format_time(row.valid_to),
                "cms": row.cms,
            }
            for row in sorted(versions[identifier], key=lambda row: semver_key(row.version), reverse=True)
        ]
        for identifier in sorted(versions)
    }


def value_set_ids() -> list[str]:
    return list(ValueSet.objects.order_by("value_set_id").values_list("value_set_id", flat=True))


def value_set(value_set_id: str) -> str | None:
    return ValueSet.objects.filter(value_set_id=value_set_id).values_list("document", flat=True).first()
