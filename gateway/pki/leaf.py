"""Canonical byte encoding of audit events: the Merkle leaves of the audit log.

Version byte 0x01, then each field as a 4-byte big-endian length and its UTF-8 bytes, in a fixed
order. Text is NFC-normalised, times are UTC with microseconds, details are JSON with sorted
keys and no whitespace: the same event always encodes to the same bytes, whatever the database
or Python version returns, and a length prefix makes field boundaries unambiguous.
"""

from __future__ import annotations

import datetime as dt
import struct
import unicodedata
from collections.abc import Mapping
from typing import Any

from verifier.encoding import canonical_json

VERSION = b"\x01"
FIELDS = (
    "leaf_index",
    "at",
    "action",
    "outcome",
    "reason",
    "country",
    "actor",
    "authentication_thumbprint",
    "uploader_thumbprint",
    "subject_thumbprint",
    "details",
)


def encode(event: Mapping[str, Any]) -> bytes:
    parts = [VERSION]
    for name in FIELDS:
        data = _text(name, event[name]).encode("utf-8")
        parts.append(struct.pack(">I", len(data)))
        parts.append(data)
    return b"".join(parts)


def _text(name: str, value: Any) -> str:
    if name == "at":
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("audit times must be timezone-aware datetimes")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if name == "leaf_index":
        return str(int(value))
    if name == "details":
        return canonical_json(_normalise(value)).decode("utf-8")
    return unicodedata.normalize("NFC", str(value))


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, Mapping):
        return {unicodedata.normalize("NFC", str(k)): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def decode_fields(data: bytes) -> list[str]:
    """The field texts of an encoded leaf (for auditors' tools)."""
    if data[:1] != VERSION:
        raise ValueError("unknown leaf version")
    fields, offset = [], 1
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        offset += 4
        fields.append(data[offset : offset + length].decode("utf-8"))
        offset += length
    if len(fields) != len(FIELDS):
        raise ValueError("wrong number of fields")
    return fields
