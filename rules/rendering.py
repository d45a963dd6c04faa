"""What the rules API serves: DGCG's selection of a country's rule versions, value-set ids and
documents."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from rules.models import ValidationRule, ValueSet
from verifier.encoding import format_time
from verifier.semver import semver_key


def rules_of(country: str, at: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """``{identifier: [{version, validFrom, validTo, cms}]}``, newest first: per identifier, the
    latest version if it is valid already; if it starts later, every version back to the one
    valid now (DGCG's ValidationRuleService), so a verifier can switch at the right moment."""
    versions: dict[str, list[ValidationRule]] = defaultdict(list)
    for row in ValidationRule.objects.of_country(country):
        versions[row.identifier].append(row)
    selected: dict[str, list[dict[str, Any]]] = {}
    for identifier in sorted(versions):
        rows = sorted(versions[identifier], key=lambda row: semver_key(row.version), reverse=True)
        kept = []
        for row in rows:
            kept.append(row)
            if row.valid_from <= at:
                break
        selected[identifier] = [
            {
                "version": row.version,
                "validFrom": format_time(row.valid_from),
                "validTo": format_time(row.valid_to),
                "cms": row.cms,
            }
            for row in kept
        ]
    return selected


def value_set_ids() -> list[str]:
    return list(ValueSet.objects.order_by("value_set_id").values_list("value_set_id", flat=True))


def value_set(value_set_id: str) -> str | None:
    return ValueSet.objects.filter(value_set_id=value_set_id).values_list("document", flat=True).first()
