"""The checks of an uploaded trusted reference (TNG's TrustedReferenceDto, validated by its
TrustedReferenceService), then ours. The first failure wins, with its named reason and TNG's
``field: message`` detail. Pure: the uploader's country is given.

TNG, in its order: the payload is JSON (trailing tokens refused, unknown properties ignored:
Jackson's settings there); ``country`` is the uploader's (403); then the DTO's constraints:
``url`` 1 to 100 characters, ``service`` 1 to 1,024, ``thumbprint`` 1 to 64, ``name`` 1 to 512,
``sslPublicKey`` 1 to 2,048, ``contentType`` 1 to 512 (Java counts UTF-16 units, and so do we),
``type`` DCC or FHIR, ``signatureType`` CMS, JWS or NONE, ``referenceVersion`` present, ``uuid``
absent or a lower-case UUID, ``domain`` optional (default DDCC).

Ours: every field a JSON string (Jackson turns a number into text; a signed payload should say
what it means); a key twice in one object is refused (parsers disagree on which one counts, and
the stored CMS is served for anyone to read); ``url`` is parsed and must be an absolute ``http``
or ``https`` URL with a host and no credentials, in the characters RFC 3986 allows (TNG stores
``javascript:alert(1)``); ``thumbprint`` is hex; ``domain`` is 1 to 32 of ``[A-Za-z0-9._-]`` (TNG's
column is varchar(32)); ``referenceVersion`` at most 64 characters (TNG sets no bound); no
field holds a control character (``sslPublicKey`` may hold line breaks: a PEM), a lone surrogate
(no UTF-8 can carry it, no PostgreSQL text column hold it) or a bidirectional control (text that
reads otherwise than it is stored).
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import models

from gateway.pki.errors import Reason, Rejected

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # TNG's UUID_REGEX
DEFAULT_DOMAIN = "DDCC"  # TNG's default for an upload (a federated reference's is DCC)
DOMAIN = re.compile(r"[A-Za-z0-9._-]{1,32}")
HEX = re.compile(r"[0-9A-Fa-f]+")
# The characters of an RFC 3986 URI: unreserved, reserved and the percent sign (of an escape).
URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
HOST_NAME = re.compile(r"(?=.{1,253}\.?$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?")
URL_SCHEMES = ("http", "https")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MULTILINE = "\t\n\r"


class ReferenceType(models.TextChoices):
    DCC = "DCC", "DCC"
    FHIR = "FHIR", "FHIR"


class SignatureType(models.TextChoices):
    CMS = "CMS", "CMS"
    JWS = "JWS", "JWS"
    NONE = "NONE", "NONE"


# The text fields of TrustedReferenceDto: (JSON name, least and most length in UTF-16 units,
# whether line breaks are allowed). Checked in this order after country.
TEXT_FIELDS: tuple[tuple[str, int, int, bool], ...] = (
    ("url", 1, 100, False),
    ("service", 1, 1024, False),
    ("thumbprint", 1, 64, False),
    ("name", 1, 512, False),
    ("sslPublicKey", 1, 2048, True),
    ("contentType", 1, 512, False),
    ("referenceVersion", 0, 64, False),
)
ENUM_FIELDS: tuple[tuple[str, type[models.TextChoices]], ...] = (
    ("type", ReferenceType),
    ("signatureType", SignatureType),
)


@dataclass(frozen=True)
class Reference:
    """A checked upload: ``uuid`` names the reference it replaces (None: a new one)."""

    uuid: str | None
    country: str
    domain: str
    reference_type: str
    url: str
    service: str
    thumbprint: str
    name: str
    ssl_public_key: str
    content_type: str
    signature_type: str
    reference_version: str


def parse_json(raw: bytes) -> dict[str, Any]:
    """A JSON object in UTF-8 (TNG's 400 "JSON Could not be parsed"). json.loads refuses trailing
    tokens, as TNG's FAIL_ON_TRAILING_TOKENS does; deep nesting ends in its recursion limit; NaN
    and Infinity are not JSON (RFC 8259 §6); a key twice in one object is refused (ours)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        detail = str(exc) if isinstance(exc, _DuplicateKey) else "JSON could not be parsed"
        raise Rejected(Reason.REFERENCE_NOT_JSON, detail) from None
    if not isinstance(value, dict):
        raise Rejected(Reason.REFERENCE_NOT_JSON, "the payload is not a JSON object")
    return value


def check_reference(value: dict[str, Any], *, country: str) -> Reference:
    """TNG's order: the country first (403), then the values."""
    sent_country = value.get("country")
    if not isinstance(sent_country, str):
        raise Rejected(Reason.REFERENCE_SCHEMA, "country: must be a string")
    if sent_country != country:
        raise Rejected(Reason.REFERENCE_COUNTRY, f"Country does not match your authentication ({country}).")
    reference_uuid = value.get("uuid")
    if reference_uuid is not None and (not isinstance(reference_uuid, str) or not UUID.fullmatch(reference_uuid)):
        raise Rejected(Reason.REFERENCE_UUID_INVALID, "uuid: must be a lower-case UUID")
    texts = {name: _text(value, name, least, most, multiline) for name, least, most, multiline in TEXT_FIELDS}
    enums = {name: _choice(value, name, choices) for name, choices in ENUM_FIELDS}
    _check_url(texts["url"])
    if not HEX.fullmatch(texts["thumbprint"]):
        raise Rejected(Reason.REFERENCE_THUMBPRINT_INVALID, "thumbprint: must be hexadecimal (a SHA-256 hash)")
    domain = value.get("domain")
    if domain is None:
        domain = DEFAULT_DOMAIN
    elif not isinstance(domain, str):
        raise Rejected(Reason.REFERENCE_SCHEMA, "domain: must be a string")
    elif not DOMAIN.fullmatch(domain):
        raise Rejected(Reason.REFERENCE_DOMAIN_INVALID, "domain: must be 1 to 32 of A-Z, a-z, 0-9, '.', '_', '-'")
    return Reference(
        uuid=reference_uuid,
        country=country,
        domain=domain,
        reference_type=enums["type"],
        url=texts["url"],
        service=texts["service"],
        thumbprint=texts["thumbprint"],
        name=texts["name"],
        ssl_public_key=texts["sslPublicKey"],
        content_type=texts["contentType"],
        signature_type=enums["signatureType"],
        reference_version=texts["referenceVersion"],
    )


def uuid_of(value: dict[str, Any]) -> str:
    """The payload of a deletion: ``{"uuid": "<lower-case UUID>"}`` (TNG's TrustedReferenceDeleteRequestDto)."""
    reference_uuid = value.get("uuid")
    if not isinstance(reference_uuid, str) or not UUID.fullmatch(reference_uuid):
        raise Rejected(Reason.REFERENCE_UUID_INVALID, "uuid: must be a lower-case UUID")
    return reference_uuid


def sent_uuid(value: dict[str, Any]) -> str:
    """The uuid a payload names, when it is one (for the audit event of a refused update)."""
    reference_uuid = value.get("uuid")
    return reference_uuid if isinstance(reference_uuid, str) and UUID.fullmatch(reference_uuid) else ""


def new_uuid() -> str:
    """A random (version 4) UUID in lower case, as TNG's FederatedEntity makes."""
    return str(uuid.uuid4())


def utf16_length(text: str) -> int:
    """What Java's String.length() (and so Hibernate's @Length) counts: UTF-16 code units."""
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def _text(value: dict[str, Any], name: str, least: int, most: int, multiline: bool) -> str:
    field = value.get(name)
    if not isinstance(field, str):
        raise Rejected(Reason.REFERENCE_SCHEMA, f"{name}: must be a string" if name in value else f"{name}: is missing")
    length = utf16_length(field)
    if not least <= length <= most:
        raise Rejected(Reason.REFERENCE_FIELD_LENGTH, f"{name}: length must be between {least} and {most} ({length})")
    for character in field:
        category = unicodedata.category(character)
        if (
            category == "Cs"
            or (category == "Cc" and not (multiline and character in MULTILINE))
            or character in BIDI_CONTROLS
        ):
            raise Rejected(
                Reason.REFERENCE_FIELD_CHARACTERS,
                f"{name}: must not contain U+{ord(character):04X} (a control character, a lone surrogate or a "
                "bidirectional control)",
            )
    return field


def _choice(value: dict[str, Any], name: str, choices: type[models.TextChoices]) -> str:
    field = value.get(name)
    if not isinstance(field, str) or field not in choices.values:
        shown = "missing" if name not in value else repr(field)[:24]
        raise Rejected(Reason.REFERENCE_SCHEMA, f"{name}: must be one of {', '.join(choices.values)} ({shown})")
    return field


def _check_url(url: str) -> None:
    """An absolute http(s) URL naming a host: what a verifier may fetch. The length is checked
    before (1 to 100). Refused: other schemes (``javascript:``, ``data:``, ``file:``, ...), a
    relative or host-less URL, credentials (``https://user@host``, which also spoof the host a
    reader sees), characters outside RFC 3986 (spaces, quotes, backslashes: browsers read
    ``https://a\\@b`` as host ``a``), a bad percent escape, a port that is not a number."""
    if not URL_CHARACTERS.fullmatch(url) or PERCENT_ESCAPE.search(url):
        raise Rejected(Reason.REFERENCE_URL_INVALID, "url: only the characters of RFC 3986 (percent-encode the rest)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Rejected(Reason.REFERENCE_URL_INVALID, "url: cannot be parsed (host or port)") from None
    if parts.scheme.lower() not in URL_SCHEMES:
        raise Rejected(Reason.REFERENCE_URL_INVALID, "url: must be an http or https URL")
    if "@" in parts.netloc:
        raise Rejected(Reason.REFERENCE_URL_INVALID, "url: must not carry credentials")
    if not _is_host(parts.hostname or ""):
        raise Rejected(Reason.REFERENCE_URL_INVALID, "url: must name a host (a DNS name or an IP address)")
    if port == 0:
        raise Rejected(Reason.REFERENCE_URL_INVALID, "url: port 0 names no service")


def _is_host(host: str) -> bool:
    if HOST_NAME.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _DuplicateKey(f"the key {key[:40]!r} is sent twice in one object")
        value[key] = item
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
