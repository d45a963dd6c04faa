"""The encodings the publication format defines (docs/publication-format.md): canonical JSON,
UTC times, and the base64url of JWS segments.

Canonical JSON is UTF-8 with sorted keys and no insignificant whitespace: the form of every
payload, of a plain delta or span, and of the DID document its proof signs. Times are UTC,
``YYYY-MM-DDTHH:MM:SSZ``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 (non-ASCII kept, not escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def format_time(moment: dt.datetime) -> str:
    """An aware datetime in the format's time form (UTC, whole seconds, ``Z``)."""
    return moment.astimezone(dt.UTC).strftime(TIME_FORMAT)


def format_posix(value: float | None) -> str | None:
    """POSIX seconds in the format's time form; a value no datetime holds is given as its number."""
    if value is None:
        return None
    try:
        return format_time(dt.datetime.fromtimestamp(value, dt.UTC))
    except (OverflowError, OSError, ValueError):
        return str(value)


def parse_time(text: str) -> dt.datetime:
    """A time of the format (or any ISO 8601 time); one without a zone is read as UTC."""
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def b64url_decode(text: str | bytes) -> bytes:
    """Unpadded base64url (RFC 7515 §2), as the segments of a compact JWS are written."""
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
