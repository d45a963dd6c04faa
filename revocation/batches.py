"""The checks of an uploaded revocation batch (DGCG's RevocationBatchDto and RevocationListService),
then ours. The first failure wins, with its named reason. Pure apart from the DSC kid question,
which is passed in; the clock and the uploader's country are given.

DGCG: the JSON parses (trailing tokens refused, unknown properties ignored: Jackson's settings
there); country is the uploader's (403); expires is in the future (dgc-gateway #157, which TNG
lacks); 1 to 1,000 entries, each hash ``^[A-Za-z0-9+/]{22}==$`` (the first 128 bits of a SHA-256).
Ours: hashType present and known (DGCG answers a missing one with a NullPointerException, a 500),
no hash twice in one batch (a verifier's set would hold it once; twice is a sender's bug), and
kid the kid of one of the country's DSCs or ``UNKNOWN_KID`` (the DTO's own advice).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models

from gateway.pki.errors import Reason, Rejected
from verifier.revocation_partition import UNKNOWN_KID

MAX_ENTRIES = 1000  # DGCG's @Size(min = 1, max = 1000)
HASH = re.compile(r"[A-Za-z0-9+/]{22}==")  # 16 bytes of base64, padded (DGCG's @Pattern)
BATCH_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # DGCG: lower case


class HashType(models.TextChoices):
    """What the 16 bytes are the SHA-256 prefix of (the DCC revocation specification)."""

    UCI = "UCI", "UCI"  # the UTF-8 UCI
    SIGNATURE = "SIGNATURE", "SIGNATURE"  # the COSE_Sign1 signature's bytes
    COUNTRYCODEUCI = "COUNTRYCODEUCI", "COUNTRYCODEUCI"  # the UTF-8 country code and UCI


@dataclass(frozen=True)
class Batch:
    country: str
    expires: dt.datetime
    kid: str
    hash_type: str
    hashes: tuple[bytes, ...]  # the 16 raw bytes of each entry, in the order sent


def parse_json(raw: bytes, reason: Reason = Reason.REVOCATION_NOT_JSON) -> dict[str, Any]:
    """A JSON object (DGCG's 400 "Invalid JSON"). json.loads refuses trailing tokens ("Extra
    data"), as DGCG's FAIL_ON_TRAILING_TOKENS does; deep nesting ends in its recursion limit;
    NaN and Infinity are not JSON (RFC 8259 §6)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Rejected(reason, "JSON could not be parsed") from None
    if not isinstance(value, dict):
        raise Rejected(reason, "the payload is not a JSON object")
    return value


def check_batch(value: dict[str, Any], *, country: str, at: dt.datetime, kid_known: Callable[[str], bool]) -> Batch:
    """``kid_known(kid)``: whether the uploader's country has a DSC of that kid."""
    sent_country = _string(value, "country")
    expires_text = _string(value, "expires")
    kid = _string(value, "kid")
    entries = value.get("entries")
    if not isinstance(entries, list):
        raise Rejected(Reason.REVOCATION_SCHEMA, "entries must be a list")
    if sent_country != country:
        raise Rejected(Reason.REVOCATION_COUNTRY, f"country {sent_country[:8]!r} is not the uploader's {country}")
    expires = _datetime(expires_text)
    if expires <= at:
        raise Rejected(Reason.REVOCATION_EXPIRED, f"Invalid Dates: expires {expires_text[:40]} is not in the future")
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise Rejected(Reason.REVOCATION_ENTRY_COUNT, f"{len(entries)} entries; 1 to {MAX_ENTRIES} are allowed")
    hashes = tuple(_hash(number, entry) for number, entry in enumerate(entries))
    if len(set(hashes)) != len(hashes):
        raise Rejected(Reason.REVOCATION_HASH_DUPLICATE, f"{len(hashes) - len(set(hashes))} hashes are sent twice")
    hash_type = value.get("hashType")
    if hash_type not in HashType.values:
        shown = hash_type if hash_type is None else str(hash_type)[:20]
        raise Rejected(Reason.REVOCATION_HASH_TYPE, f"hashType {shown!r} is not one of {', '.join(HashType.values)}")
    if kid != UNKNOWN_KID and not kid_known(kid):
        raise Rejected(Reason.REVOCATION_KID_UNKNOWN, f"{kid[:20]!r} is no DSC kid of {country} (nor {UNKNOWN_KID})")
    return Batch(country=country, expires=expires, kid=kid, hash_type=hash_type, hashes=hashes)


def batch_id_of(value: dict[str, Any]) -> str:
    """The payload of a deletion: ``{"batchId": "<lower-case UUID>"}`` (DGCG's RevocationBatchDeleteRequestDto)."""
    batch_id = value.get("batchId")
    if not isinstance(batch_id, str) or not BATCH_ID.fullmatch(batch_id):
        raise Rejected(Reason.REVOCATION_BATCH_ID_INVALID, "batchId must be a lower-case UUID")
    return batch_id


def new_batch_id() -> str:
    """A random (version 4) UUID in lower case, as DGCG generates since PR #145."""
    return str(uuid.uuid4())


def _string(value: dict[str, Any], name: str) -> str:
    field = value.get(name)
    if not isinstance(field, str) or not field:
        raise Rejected(Reason.REVOCATION_SCHEMA, f"{name} must be a non-empty string")
    return field


def _datetime(text: str) -> dt.datetime:
    """ISO 8601 with an offset (DGCG's ZonedDateTime): a time without one names no instant."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(Reason.REVOCATION_SCHEMA, f"expires {text[:40]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise Rejected(Reason.REVOCATION_SCHEMA, "expires must carry an offset (e.g. Z)")
    return moment


def _hash(number: int, entry: object) -> bytes:
    value = entry.get("hash") if isinstance(entry, dict) else None
    if not isinstance(value, str) or not HASH.fullmatch(value):
        raise Rejected(Reason.REVOCATION_HASH_INVALID, f"entry {number}: hash must be base64 of exactly 16 bytes")
    return base64.b64decode(value)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
