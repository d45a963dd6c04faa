"""Words and numbers for people reading the admin about DSCs: how long ago, how many days left,
which DCC types (who did what: gateway.audit.words). Time is always passed in, so a page and
its test agree on "now"."""

from __future__ import annotations

import datetime as dt
import math

# A DSC this close to its end is highlighted in lists and counted on the dashboard: a ministry
# needs weeks to have a successor issued by its CSCA, signed with its UPLOAD key and published
# (and verifiers need the new list before the first codes signed with it arrive); 30 days leaves
# time for that after the warning is first seen.
EXPIRING_SOON_DAYS = 30

# Certificate types of the EU DCC a DSC may sign (verifier.usages.ALL_USAGES), as people say them.
_USAGE_WORDS = {"test": "test results", "vaccination": "vaccinations", "recovery": "recoveries"}


def usages_in_words(usages: list[str] | tuple[str, ...]) -> str:
    """``["vaccination"]`` -> "vaccinations"; all three -> "test results, vaccinations and recoveries"."""
    words = [_USAGE_WORDS.get(usage, usage) for usage in usages]
    if not words:
        return "nothing"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    """Whole days until ``not_after``, rounded up (a DSC expiring in 3 hours has 1 day left);
    negative once it has expired."""
    return math.ceil((not_after - now).total_seconds() / 86_400)


def expiring_soon(not_after: dt.datetime, now: dt.datetime) -> bool:
    return 0 < days_left(not_after, now) <= EXPIRING_SOON_DAYS


def validity_note(not_after: dt.datetime, now: dt.datetime) -> str:
    left = days_left(not_after, now)
    if left <= 0:
        return "expired"
    return "1 day left" if left == 1 else f"{left} days left"


def ago(delta: dt.timedelta) -> str:
    """A short relative age: "just now", "1 min ago", "3 h ago", "2 days ago"."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86_400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86_400
    return "1 day ago" if days == 1 else f"{days} days ago"


def findings_text(stored: list[dict[str, str]]) -> str:
    """A DSC's policy findings (gateway.pki.findings, stored form) as one line a reviewer reads:
    "none" when the strict policy accepted it."""
    if not stored:
        return "none"
    return "; ".join(f"{finding['reason']}: {finding['detail']}" for finding in stored)


def findings_suffix(stored: list[dict[str, str]]) -> str:
    """What an upload's confirmation adds when relaxed checks let something through."""
    if not stored:
        return ""
    return f", accepted with policy findings: {', '.join(finding['reason'] for finding in stored)}"
