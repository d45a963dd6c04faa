"""The decoding steps of an HC1 text, each usable on its own: UNPREFIX (``HC1:``), B45DECODE
(Base45), COMPRESSION (zlib, size capped), then, after ``verifier.cose`` has parsed the COSE,
CLAIMS (the CWT claims and the DCC they carry). Each raises HcertError with its step's reasons.
"""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import cbor2

from verifier.base45 import Base45Error, b45decode
from verifier.encoding import format_time
from verifier.reasons import HcertError, Reason

PREFIX = "HC1:"
# A QR code holds at most 4,296 alphanumeric characters (version 40-L); anything longer did not
# come from one.
MAX_TEXT_LENGTH = 4296
# The largest COSE in the public test data is 870 bytes; 64 KiB leaves room and bounds a
# decompression bomb.
MAX_INFLATED_BYTES = 64 * 1024

CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
# cbor2 decodes a map to a dict, or to its frozendict inside a tag; checking these two types is
# much cheaper than an isinstance() against collections.abc.Mapping on the hot path.
_MAPS = (dict, cbor2.frozendict)
HCERT_EU_DCC_V1 = 1


class Claims(NamedTuple):
    """The CWT claims of an HCERT. Times are POSIX seconds (None if absent). ``dcc`` is the
    eu_dcc_v1 payload, CBOR date tags (0, 1) replaced by their text or number; ``payload_type``
    is v, t or r."""

    issuer: str | None
    issued_at: float | None
    expires_at: float | None
    dcc: dict[str, Any]
    payload_type: str


def unprefix(text: str) -> str:
    """The Base45 text after ``HC1:``. Raises HcertError (UNPREFIX reasons)."""
    if len(text) > MAX_TEXT_LENGTH:
        raise HcertError(Reason.INPUT_TOO_LARGE, f"{len(text)} characters, more than a QR code holds")
    if text.startswith(PREFIX):
        return text[4:]
    head = text[:4]
    if len(head) == 4 and head[:2] == "HC" and head[3] == ":" and (head[2].isdigit() or "A" <= head[2] <= "Z"):
        raise HcertError(Reason.PREFIX_UNSUPPORTED_VERSION, f"context {head!r} is not HC1:")
    raise HcertError(Reason.PREFIX_MISSING, f"text does not start with {PREFIX!r}")


def base45_decode(text: str) -> bytes:
    """B45DECODE. Raises HcertError (BASE45_* reasons)."""
    try:
        return b45decode(text)
    except Base45Error as exc:
        raise HcertError(exc.reason, str(exc)) from None


def inflate(data: bytes, max_size: int = MAX_INFLATED_BYTES) -> bytes:
    """zlib (RFC 1950) inflate, at most ``max_size`` bytes out. Bytes after the end of the
    stream are ignored, as zlib-based verifiers do."""
    if len(data) < 2 or data[0] & 0x0F != 8 or (data[0] << 8 | data[1]) % 31:
        raise HcertError(Reason.COMPRESSION_NOT_ZLIB, "no zlib header (the payload must be compressed)")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_size)
    except zlib.error as exc:
        raise HcertError(Reason.COMPRESSION_CORRUPT, str(exc)) from None
    if inflater.unconsumed_tail:
        raise HcertError(Reason.COMPRESSION_TOO_LARGE, f"inflates to more than {max_size} bytes")
    if not inflater.eof:
        raise HcertError(Reason.COMPRESSION_TRUNCATED, "the zlib stream ends early")
    return out


def hc1_to_cose(text: str, max_inflated: int = MAX_INFLATED_BYTES) -> bytes:
    """UNPREFIX, B45DECODE and COMPRESSION: the COSE bytes of an HC1 text."""
    return inflate(base45_decode(unprefix(text)), max_inflated)


def _tag_content(value: Any, immutable: bool) -> Any:
    return value


# Dates in CBOR tags 0 (RFC 3339 text) and 1 (epoch number) decode to their content, as in the
# JSON form of a DCC: no datetime objects to turn back into text, and iat/exp stay numbers.
_DATE_TAGS_AS_CONTENT = {0: _tag_content, 1: _tag_content}


def claims_map(payload: bytes) -> Mapping[Any, Any]:
    """The CWT claims map of a COSE payload."""
    try:
        claims = cbor2.loads(payload, allow_duplicate_keys=False, semantic_decoders=_DATE_TAGS_AS_CONTENT)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise HcertError(Reason.CLAIMS_MALFORMED, str(exc)) from None
    if not isinstance(claims, _MAPS):
        raise HcertError(Reason.CLAIMS_MALFORMED, f"the CWT payload is a {type(claims).__name__}, not a map")
    return claims


MAX_NUMERIC_DATE = 253402300799  # 9999-12-31T23:59:59Z


def _time_claim(claims: Mapping[Any, Any], label: int, name: str) -> float | None:
    value = claims.get(label)
    if value is None:
        return None
    # Integers per spec (I-CO4); some issuers write floats, which every verifier accepts.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HcertError(Reason.CLAIM_INVALID, f"{name} is a {type(value).__name__}, not a NumericDate")
    # RFC 8392 §2: a NumericDate is seconds since the epoch; NaN, infinities and values beyond
    # year 9999 are no date (and would not survive formatting or float arithmetic).
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise HcertError(Reason.CLAIM_INVALID, f"{name} is not a date between 1970 and 9999")
    return value


def time_claims(claims: Mapping[Any, Any]) -> tuple[str | None, float | None, float | None]:
    """``iss``, ``iat`` and ``exp`` (None when absent)."""
    issuer = claims.get(CLAIM_ISS)
    if issuer is not None and not isinstance(issuer, str):
        raise HcertError(Reason.CLAIM_INVALID, f"iss is a {type(issuer).__name__}, not text")
    return issuer, _time_claim(claims, CLAIM_IAT, "iat"), _time_claim(claims, CLAIM_EXP, "exp")


def dcc_of(claims: Mapping[Any, Any]) -> tuple[dict[str, Any], str]:
    """The DCC the hcert claim carries, and its certificate type (v, t or r)."""
    hcert = claims.get(CLAIM_HCERT)
    if not isinstance(hcert, _MAPS) or not isinstance(hcert.get(HCERT_EU_DCC_V1), _MAPS):
        raise HcertError(Reason.HCERT_MISSING, "no hcert claim (-260) holding an eu_dcc_v1 map (1)")
    dcc = hcert[HCERT_EU_DCC_V1]
    if type(dcc) is not dict:  # a frozendict: the DCC was inside a tag
        dcc = json_safe(dcc)
    types = [key for key in ("v", "t", "r") if dcc.get(key)]
    if not types:
        raise HcertError(Reason.PAYLOAD_TYPE_MISSING, "the DCC holds no v, t or r entry")
    if len(types) > 1:
        raise HcertError(Reason.PAYLOAD_TYPE_AMBIGUOUS, f"the DCC holds {', '.join(types)}: exactly one is allowed")
    entries = dcc[types[0]]
    if not isinstance(entries, list) or not all(isinstance(entry, _MAPS) for entry in entries):
        raise HcertError(Reason.CLAIMS_MALFORMED, f"{types[0]} is not an array of maps")
    return dcc, types[0]


def decode_claims(payload: bytes) -> Claims:
    """The CWT claims of a COSE payload (CLAIMS step). Raises HcertError."""
    claims = claims_map(payload)
    issuer, issued_at, expires_at = time_claims(claims)
    dcc, payload_type = dcc_of(claims)
    return Claims(issuer, issued_at, expires_at, dcc, payload_type)


def json_safe(value: Any) -> Any:
    """What cbor2 decoded, as JSON can hold it: maps with text or integer keys, datetimes in the
    format's time form, byte strings in base64, anything else rare as its text."""
    if isinstance(value, _MAPS):
        return {k if isinstance(k, (str, int)) else str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dt.datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, cbor2.CBORTag):
        return json_safe(value.value)
    if isinstance(value, (set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)  # Decimal, Fraction, UUID, CBORSimpleValue ...
