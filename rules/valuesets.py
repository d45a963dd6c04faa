"""Reading a value-set import, whole, before anything changes. Two forms are accepted:

- the EU business-rules form (``valueSets.json``): ``{"<valueSetId>": ["<code>", ...], ...}``,
  what rules see as ``external.valueSets``;
- DGCG's form: a JSON array of value sets ``{"valueSetId", "valueSetDate", "valueSetValues":
  {"<code>": {display, lang, active, system, version}}}``, as ``GET /valuesets/{id}`` serves them.

Bounded (file size, number of sets and codes, lengths) and strict (ids and codes are short
printable text); any fault refuses the whole import with VALUESET_INVALID and a reason.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.pki.errors import Reason, Rejected
from verifier.encoding import canonical_json

MAX_BYTES = 16 * 1024 * 1024
MAX_SETS = 200
MAX_CODES = 20_000
VALUE_SET_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# Printable text without control characters: codes (SNOMED, EU product, country) and, in the EU's
# encoding instructions, vaccine names with spaces.
CODE = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


@dataclass(frozen=True)
class ParsedValueSet:
    value_set_id: str
    date: str
    codes: tuple[str, ...]
    document: str  # the set in DGCG's form, canonical JSON text


def parse(data: bytes, *, today: dt.date | None = None) -> list[ParsedValueSet]:
    if len(data) > MAX_BYTES:
        raise Rejected(Reason.VALUESET_INVALID, f"{len(data)} bytes: at most {MAX_BYTES}")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise Rejected(Reason.VALUESET_INVALID, "not JSON") from None
    if isinstance(value, dict):
        date = (today or dt.datetime.now(dt.UTC).date()).isoformat()
        sets = [_flat(value_set_id, codes, date) for value_set_id, codes in value.items()]
    elif isinstance(value, list):
        sets = [_document(item) for item in value]
    else:
        raise Rejected(Reason.VALUESET_INVALID, "neither a map of value sets nor an array of them")
    if not sets or len(sets) > MAX_SETS:
        raise Rejected(Reason.VALUESET_INVALID, f"{len(sets)} value sets: 1 to {MAX_SETS}")
    ids = [value_set.value_set_id for value_set in sets]
    if len(set(ids)) != len(ids):
        raise Rejected(Reason.VALUESET_INVALID, "a value set id appears twice")
    return sorted(sets, key=lambda value_set: value_set.value_set_id)


def _flat(value_set_id: Any, codes: Any, date: str) -> ParsedValueSet:
    _check_id(value_set_id)
    if not isinstance(codes, list):
        raise Rejected(Reason.VALUESET_INVALID, f"{value_set_id}: not an array of codes")
    checked = _check_codes(value_set_id, codes)
    document = {"valueSetId": value_set_id, "valueSetDate": date, "valueSetValues": {code: {} for code in checked}}
    return ParsedValueSet(value_set_id, date, checked, canonical_json(document).decode("utf-8"))


def _document(item: Any) -> ParsedValueSet:
    if not isinstance(item, dict) or set(item) - {"valueSetId", "valueSetDate", "valueSetValues"}:
        raise Rejected(Reason.VALUESET_INVALID, "a value set is not {valueSetId, valueSetDate, valueSetValues}")
    value_set_id, date, values = item.get("valueSetId"), item.get("valueSetDate"), item.get("valueSetValues")
    _check_id(value_set_id)
    if not isinstance(date, str) or not 1 <= len(date) <= 32:
        raise Rejected(Reason.VALUESET_INVALID, f"{value_set_id}: valueSetDate is not a short text")
    if not isinstance(values, dict) or not all(isinstance(entry, dict) for entry in values.values()):
        raise Rejected(Reason.VALUESET_INVALID, f"{value_set_id}: valueSetValues is not a map of code to object")
    checked = _check_codes(value_set_id, values)
    return ParsedValueSet(value_set_id, date, checked, canonical_json(item).decode("utf-8"))


def _check_id(value_set_id: Any) -> None:
    if not isinstance(value_set_id, str) or not VALUE_SET_ID.fullmatch(value_set_id):
        raise Rejected(Reason.VALUESET_INVALID, f"{str(value_set_id)[:70]!r} is not a value set id")


def _check_codes(value_set_id: str, codes: Iterable[Any]) -> tuple[str, ...]:
    listed = list(codes)
    if not listed or len(listed) > MAX_CODES:
        raise Rejected(Reason.VALUESET_INVALID, f"{value_set_id}: {len(listed)} codes, 1 to {MAX_CODES}")
    for code in listed:
        if not isinstance(code, str) or not CODE.fullmatch(code):
            raise Rejected(Reason.VALUESET_INVALID, f"{value_set_id}: {str(code)[:40]!r} is not a code")
    if len(set(listed)) != len(listed):
        raise Rejected(Reason.VALUESET_INVALID, f"{value_set_id}: a code appears twice")
    return tuple(listed)
