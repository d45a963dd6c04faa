"""Compact trust-list entries and bodies: what a delta or a span may leave out
(docs/publication-format.md, "Compact entries").

A trust-list entry repeats facts its certificate already states: its SHA-256 (``thumbprint``),
its DCC key id (``kid``), its validity (``notBefore``, ``notAfter``), the DCC types its extended
key usage allows (``usages``), and ``group``, which is the entry's ``type``. The full lists keep
them, so that each entry can be read alone. Deltas and spans, which every verifier downloads at
every change, leave out each one the certificate gives exactly: the publisher compacts with
``compact``, and the verifier restores the entry, byte for byte as the full list has it, with
``expand``. A value that differs from what the certificate gives (a custom TNG kid, usages stored
under an older rule) is simply kept, so the round trip is exact by construction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from verifier.encoding import format_time
from verifier.usages import ordered, usages_from_oids

DERIVABLE = ("thumbprint", "kid", "notBefore", "notAfter", "usages", "group")


class EntryError(ValueError):
    """A compact entry whose omitted fields its certificate cannot give."""


def derived(entry: dict[str, Any]) -> dict[str, Any]:
    """The values of the derivable fields that ``entry``'s certificate (and type) give. A field
    the certificate cannot give (it does not parse, or its EKU does not) is missing from the
    result: the publisher then keeps it in the entry."""
    try:
        der = _der(entry)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return {}
    digest = hashlib.sha256(der).digest()
    values: dict[str, Any] = {
        "thumbprint": digest.hex(),
        # DCC kid: the first 8 bytes of SHA-256(DER), base64 (hcert spec §3.3.1)
        "kid": base64.b64encode(digest[:8]).decode("ascii"),
        "group": entry.get("type"),
    }
    try:
        if not _strictly_conforming(der):
            return values
        certificate = x509.load_der_x509_certificate(der)
        values["notBefore"] = format_time(certificate.not_valid_before_utc)
        values["notAfter"] = format_time(certificate.not_valid_after_utc)
        if entry.get("type") != "DSC":
            values["usages"] = []  # only a DSC signs health certificates
            return values
        try:
            extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
            oids: list[str] | None = [oid.dotted_string for oid in extension.value]
        except x509.ExtensionNotFound:
            oids = None
    except Exception:  # anything a parser may refuse (an empty EKU SEQUENCE, a duplicate extension)
        return values  # what is not derived yet stays explicit
    values["usages"] = ordered(usages_from_oids(oids))
    return values


def thumbprint_of(entry: dict[str, Any]) -> str:
    """An entry's thumbprint, stated or (left out) the SHA-256 of its certificate: all a reader
    that only needs to know which certificates a delta touched has to restore."""
    return entry.get("thumbprint") or hashlib.sha256(_der(entry)).hexdigest()


def _der(entry: dict[str, Any]) -> bytes:
    return base64.b64decode(entry["certificate"], validate=True)


def _strictly_conforming(der: bytes) -> bool:
    """Whether any X.509 parser reads this certificate's validity and extensions as we do: a
    positive serial of at most 20 octets (RFC 5280 §4.1.2.2; Go, for one, refuses a negative
    serial) and validity times as §4.1.2.5 prescribes (UTCTime YYMMDDHHMMSSZ through 2049,
    GeneralizedTime YYYYMMDDHHMMSSZ from 2050). Only then are ``notBefore``, ``notAfter`` and
    ``usages`` left out; a lenient parse of anything else keeps them explicit."""
    tbs = asn1_x509.Certificate.load(der)["tbs_certificate"]
    if not 0 < tbs["serial_number"].native < 1 << 159:
        return False
    validity = tbs["validity"]
    for time in (validity["not_before"], validity["not_after"]):
        pattern = rb"\d{12}Z" if time.native.year < 2050 else rb"\d{14}Z"
        expected = "utc_time" if time.native.year < 2050 else "general_time"
        if time.name != expected or not re.fullmatch(pattern, time.chosen.contents):
            return False
    return True


def compact(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` without the derivable fields whose value its certificate gives exactly."""
    given = derived(entry)
    return {key: value for key, value in entry.items() if key not in given or given[key] != value}


def expand(entry: dict[str, Any]) -> dict[str, Any]:
    """A compact entry restored to the full list's form (an entry that omits nothing is returned
    as it is)."""
    missing = [key for key in DERIVABLE if key not in entry]
    if not missing:
        return entry
    given = derived(entry)
    if unknown := [key for key in missing if key not in given]:
        raise EntryError(f"entry omits {', '.join(unknown)}, which its certificate does not give")
    return {**entry, **{key: given[key] for key in missing}}


BODY_LISTS = ("upsert", "remove", "revoked")


def compact_body(upsert: list[dict[str, Any]], remove: list[str], revoked: list[dict[str, Any]]) -> dict[str, Any]:
    """A delta's or span's changes: compact entries, and only the lists that are not empty."""
    body = {"upsert": [compact(entry) for entry in upsert], "remove": remove, "revoked": revoked}
    return {key: value for key, value in body.items() if value}


def restore_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The reverse, in place: every list present (an absent one is empty), every entry expanded."""
    for key in BODY_LISTS:
        value = payload.setdefault(key, [])
        if not isinstance(value, list):
            raise EntryError(f"{key} is not a list")
    payload["upsert"] = [expand(entry) for entry in payload["upsert"]]
    return payload
