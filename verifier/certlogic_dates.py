"""CertLogic's date-times: how ``plusTime`` and ``dccDateOfBirth`` make them (CertLogic
specification 1.3.3, "Dates and date-times", "Offset date-time (plusTime)", "DCC Date of birth").

A date-time is a count of milliseconds since 1970-01-01T00:00:00Z (``DateTime.ms``): the spec
makes every date-time millisecond-precise and fixes the arithmetic by ECMAScript's ``Date`` (UTC
methods), whose time value is exactly that number, limited to ±8.64e15 ms (ECMA-262, "Time
Values and Time Range"). The calendar is the proleptic Gregorian one, in integer arithmetic (no
``datetime``: its years stop at 9999 and it knows no offsets like ``+1``). Nothing here reads the
clock.
"""

from __future__ import annotations

import functools
import re

from verifier.reasons import CertLogicError, RuleReason

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
MAX_TIME_VALUE = 8_640_000_000_000_000  # ECMA-262 TimeClip: a Date beyond this is invalid

# "Offset date-time (plusTime)": the formats allowed, YYYY ... YYYY-MM-DDThh:mm:ss.S[+-]hh:mm.
# ASCII digits only (re.ASCII): \d would otherwise match any Unicode digit.
_DATE_TIME = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{1,2})(?::?(\d{2}))?)?)?)?)?",
    re.ASCII,
)
# "DCC Date of birth (dccDateOfBirth)": YYYY, YYYY-MM or YYYY-MM-DD.
_DATE_OF_BIRTH = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)


class DateTime:
    """A CertLogic date-time: milliseconds since the epoch, UTC. Neither truthy nor falsy, and
    comparable only by ``after``, ``before``, ``not-after`` and ``not-before``."""

    __slots__ = ("ms",)

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __repr__(self) -> str:
        return f"DateTime({self.text()})"

    def text(self) -> str:
        """ISO 8601 in UTC with milliseconds, as ECMAScript's ``toISOString`` writes it."""
        days, rest = divmod(self.ms, MS_PER_DAY)
        year, month, day = civil_from_days(days)
        seconds, millis = divmod(rest, 1000)
        return (
            f"{year:04d}-{month:02d}-{day:02d}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            f".{millis:03d}Z"
        )


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year; ``day`` may run past the
    month's end, which then counts on into the next, as ECMAScript's MakeDay does)."""
    # Count years from March, so that the leap day is the last day of the counted year.
    shifted = year - (month <= 2)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01."""
    shifted = days + 719468
    era = shifted // 146097
    day_of_era = shifted - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = month_from_march + 3 if month_from_march < 10 else month_from_march - 9
    return year_of_era + era * 400 + (month <= 2), month, day


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _last_consistent_day(text: str, year: str, month: str | None, day: str | None) -> int:
    """Days since the epoch of a full or partial date, read as "the last date consistent with
    the provided data" (spec, dccDateOfBirth): YYYY is Dec 31, YYYY-MM the month's last day."""
    y = int(year)
    m = int(month) if month is not None else 12
    if not 1 <= m <= 12:
        raise CertLogicError(RuleReason.CERTLOGIC_EVALUATION_ERROR, f"{text!r} has no month {m}")
    last = days_in_month(y, m)
    d = int(day) if day is not None else last
    if not 1 <= d <= last:
        raise CertLogicError(RuleReason.CERTLOGIC_EVALUATION_ERROR, f"{text!r} is no day of its month")
    return days_from_civil(y, m, d)


@functools.lru_cache(maxsize=4096)  # rules read the same clock and payload dates again and again
def parse_date_time(text: str) -> DateTime:
    """A date(-time) string of the formats ``plusTime`` allows, as a date-time. The spec leaves
    anything else undefined; here it is an evaluation error, never a guess."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise CertLogicError(RuleReason.CERTLOGIC_EVALUATION_ERROR, f"{text[:40]!r} is not a date(-time) of the spec")
    year, month, day, hour, minute, second, fraction, _zulu, sign, offset_hours, offset_minutes = match.groups()
    # "A partial date (YYYY or YYYY-MM) is parsed as it would be by the dccDateOfBirth operation."
    days = _last_consistent_day(text, year, month, day)
    ms = days * MS_PER_DAY
    if hour is not None:
        h, mi, s = int(hour), int(minute), int(second)
        if h > 23 or mi > 59 or s > 59:
            raise CertLogicError(RuleReason.CERTLOGIC_EVALUATION_ERROR, f"{text!r} has no such time of day")
        # "All decimals beyond the 3rd one are ignored, effectively rounding down."
        millis = int((fraction + "00")[:3]) if fraction else 0
        ms += ((h * 60 + mi) * 60 + s) * 1000 + millis
    # "When a timezone offset is missing, the offset Z is assumed."
    if sign is not None:
        oh, om = int(offset_hours), int(offset_minutes or 0)
        if oh > 23 or om > 59:
            raise CertLogicError(RuleReason.CERTLOGIC_EVALUATION_ERROR, f"{text!r} has no such offset")
        offset = (oh * 60 + om) * 60_000
        ms -= offset if sign == "+" else -offset
    return DateTime(ms)


def plus_time(start: DateTime, amount: int, unit: str) -> DateTime:
    """``plusTime``: the spec fixes the arithmetic by ECMAScript's ``setUTC<unit>(getUTC<unit>() +
    amount)``: hours and days are fixed lengths (no DST, no leap seconds); a month or year moves
    the calendar fields and lets a day past the month's end run on (2020-02-29 + 1 year is
    2021-03-01, + 1 month 2020-03-29)."""
    if unit == "hour":
        ms = start.ms + amount * MS_PER_HOUR
    elif unit == "day":
        ms = start.ms + amount * MS_PER_DAY
    elif unit in ("month", "year"):
        days, time_of_day = divmod(start.ms, MS_PER_DAY)
        year, month, day = civil_from_days(days)
        months = year * 12 + month - 1 + (amount if unit == "month" else amount * 12)
        year, month = divmod(months, 12)
        ms = days_from_civil(year, month + 1, day) * MS_PER_DAY + time_of_day
    else:
        raise CertLogicError(RuleReason.CERTLOGIC_INVALID, f"{str(unit)[:20]!r} is no time unit")
    if not -MAX_TIME_VALUE <= ms <= MAX_TIME_VALUE:
        raise CertLogicError(RuleReason.CERTLOGIC_EVALUATION_ERROR, "plusTime leaves the range of date-times")
    return DateTime(ms)


def date_of_birth(text: str) -> DateTime:
    """``dccDateOfBirth``: YYYY is YYYY-12-31, YYYY-MM the month's last day, YYYY-MM-DD itself,
    each at 00:00:00.000Z."""
    match = _DATE_OF_BIRTH.fullmatch(text)
    if match is None:
        raise CertLogicError(RuleReason.CERTLOGIC_EVALUATION_ERROR, f"{text[:40]!r} is not a DCC date of birth")
    return DateTime(_last_consistent_day(text, *match.groups()) * MS_PER_DAY)
