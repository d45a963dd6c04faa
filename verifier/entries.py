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
import warnings
from typing import Any

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from verifier.trust import DCC_USAGE_OIDS, RECOVERY, TEST, VACCINATION

# The order in which an entry lists its usages.
USAGE_ORDER = (TEST, VACCINATION, RECOVERY)
DERIVABLE = ("thumbprint", "kid", "notBefore", "notAfter", "usages", "group")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class EntryError(ValueError):
    """A compact entry whose omitted fields its certificate cannot give."""


def derived(entry: dict[str, Any]) -> dict[str, Any]:
    """The values of the derivable fields that ``entry``'s certificate (and type) give. A field
    the certificate cannot give (it does not parse, or its EKU does not) is missing from the
    result: the publisher then keeps it in the entry."""
    try:
        der = base64.b64decode(entry["certificate"], validate=True)
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # non-positive serials
            certificate = x509.load_der_x509_certificate(der)
        values["notBefore"] = certificate.not_valid_before_utc.strftime(TIME_FORMAT)
        values["notAfter"] = certificate.not_valid_after_utc.strftime(TIME_FORMAT)
    except ValueError:
        return values
    if entry.get("type") != "DSC":
        values["usages"] = []  # only a DSC signs health certificates
        return values
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        named = {DCC_USAGE_OIDS[oid.dotted_string] for oid in extension.value if oid.dotted_string in DCC_USAGE_OIDS}
    except x509.ExtensionNotFound:
        named = set()
    except ValueError:
        return values  # an EKU cryptography refuses (an empty SEQUENCE, say): kept explicit
    # The intersection rule: the DCC types the EKU names, or every one when it names none.
    values["usages"] = [usage for usage in USAGE_ORDER if usage in named] or list(USAGE_ORDER)
    return values


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
