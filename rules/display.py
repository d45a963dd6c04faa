"""How the admin shows a rule to the people of its country: its descriptions in every language, its
Logic indented, its state, and the validity timeline of its versions."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from gateway.audit.words import actor_in_words
from rules.models import RuleState, ValidationRule
from verifier.semver import semver_key

# A window shorter than this share of the timeline is still drawn wide enough to see and point at.
MIN_BAR_PERCENT = 1.0


def descriptions(rule: dict[str, Any]) -> SafeString:
    """Each ``{lang, desc}`` of the rule, in the order the country gave them."""
    items = [(item.get("lang", ""), item.get("desc", "")) for item in rule.get("Description", [])]
    return format_html(
        '<ul class="descriptions">{}</ul>',
        format_html_join("", '<li lang="{0}"><span class="lang">{0}</span> {1}</li>', items),
    )


def logic(rule: dict[str, Any]) -> SafeString:
    """The Logic as a person reads JSON: indented, keys in the country's order."""
    return format_html('<pre class="logic">{}</pre>', json.dumps(rule.get("Logic"), indent=2, ensure_ascii=False))


def state_badge(state: str) -> SafeString:
    return format_html('<span class="state state-{}">{}</span>', state, RuleState(state).label)


@dataclass(frozen=True)
class Version:
    """One version on the timeline: its window as a bar (percentages of the timeline's width)."""

    row: ValidationRule
    state: SafeString
    current: bool
    uploaded_by: str
    this: bool
    left: str
    width: str


@dataclass(frozen=True)
class Timeline:
    versions: list[Version]
    at: dt.datetime
    start: dt.datetime
    end: dt.datetime
    now: str  # where ``at`` falls, a percentage


def timeline(rows: list[ValidationRule], at: dt.datetime, *, this: int) -> Timeline:
    """The versions of one rule, oldest first, each with its window drawn on one axis from the
    earliest start (or ``at``) to the latest end (or ``at``). ``rows`` carry their ``state``
    and ``uploaded_by`` (``with_state``, ``with_uploader``); ``this`` is the version the page shows."""
    start = min([at, *(row.valid_from for row in rows)])
    end = max([at, *(row.valid_to for row in rows)])
    span = (end - start).total_seconds() or 1.0

    def percent(moment: dt.datetime) -> float:
        return (moment - start).total_seconds() / span * 100

    versions = []
    for row in sorted(rows, key=lambda row: semver_key(row.version)):
        left = percent(row.valid_from)
        width = max(percent(row.valid_to) - left, MIN_BAR_PERCENT)
        versions.append(
            Version(
                row=row,
                state=state_badge(row.state),
                current=row.state == RuleState.CURRENT,
                uploaded_by=actor_in_words(row.uploaded_by),
                this=row.pk == this,
                left=f"{min(left, 100 - width):.2f}%",
                width=f"{width:.2f}%",
            )
        )
    return Timeline(versions=versions, at=at, start=start, end=end, now=f"{percent(at):.2f}%")
