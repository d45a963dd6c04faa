"""Checks of one published file against what names it (docs/publication-format.md, "Verifier
algorithm", step 4): its length and SHA-256, its signature (a JWS) or the hash chain that
authenticates it (a plain delta or span), the type and sequence of its payload, and the
thumbprints of its entries."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography import x509

from verifier.descriptors import Descriptor
from verifier.jws import verify_jws
from verifier.reasons import PublicationReason, VerificationError

# Files the hash chains authenticate, rather than a signature of their own (from index version 5).
CHAINED_KINDS = frozenset({"delta", "span"})


def is_plain(data: bytes) -> bool:
    """A plain-JSON delta or span (from index version 5), rather than a compact JWS, which starts
    with its base64url header."""
    return data[:1] == b"{"


def verify_artifact(
    data: bytes,
    descriptor: Descriptor,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    kind: str,
    sequence: int,
    allowed_kids: Iterable[str],
    certificates: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Check that ``data`` is exactly what the index describes, and return its payload.
    ``certificates`` (the index's announced keys) verify a JWS that names its signer by kid only."""
    check_described(data, descriptor)
    _, payload_bytes, signer_kid = verify_jws(data, anchors, now, certificates=certificates)
    if signer_kid not in set(allowed_kids):
        raise VerificationError(
            PublicationReason.UNANNOUNCED_KEY, f"{descriptor.path} is signed by a key the index does not announce"
        )
    return _payload_of_sequence(payload_bytes, descriptor, kind, sequence)


def verify_chained(data: bytes, descriptor: Descriptor, *, kind: str, sequence: int) -> dict[str, Any]:
    """A plain-JSON delta or span: authentic because ``descriptor`` (from the verified index, or
    from the verified file after it on its chain) binds its SHA-256 and length. Its entries are
    returned as they are (compact: ``verifier.index.verify_named`` restores them)."""
    if kind not in CHAINED_KINDS:
        raise VerificationError(PublicationReason.MALFORMED_JWS, f"a {kind} must be a JWS")
    check_described(data, descriptor)
    return _payload_of_sequence(data, descriptor, kind, sequence)


def check_described(data: bytes, descriptor: Descriptor) -> None:
    """``data`` has the length and SHA-256 ``descriptor`` gives."""
    if len(data) != descriptor.length:
        raise VerificationError(
            PublicationReason.LENGTH_MISMATCH, f"{descriptor.path}: {len(data)} bytes, index says {descriptor.length}"
        )
    if hashlib.sha256(data).hexdigest() != descriptor.sha256:
        raise VerificationError(PublicationReason.HASH_MISMATCH, f"{descriptor.path}: SHA-256 differs from the index")


def typed_payload(payload: bytes, kind: str) -> dict[str, Any]:
    """A payload read as a JSON object of ``type`` ``kind``."""
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise VerificationError(PublicationReason.MALFORMED_PAYLOAD, str(exc)) from exc
    if not isinstance(value, dict) or value.get("type") != kind:
        raise VerificationError(PublicationReason.WRONG_TYPE, f"expected a {kind} payload")
    return value


def _payload_of_sequence(payload_bytes: bytes, descriptor: Descriptor, kind: str, sequence: int) -> dict[str, Any]:
    payload = typed_payload(payload_bytes, kind)
    if payload.get("sequence") != sequence:
        raise VerificationError(
            PublicationReason.SEQUENCE_MISMATCH, f"{descriptor.path} is of sequence {payload.get('sequence')}"
        )
    return payload


def check_entries(payload: dict[str, Any]) -> None:
    """Every entry names a thumbprint, and each certificate's is the SHA-256 of the DER it carries."""
    try:
        for entry in payload.get("entries", []) + payload.get("upsert", []) + payload.get("revoked", []):
            if not isinstance(entry["thumbprint"], str):
                raise TypeError("a thumbprint is not a string")
            if "certificate" not in entry:  # revocation entries name a thumbprint only
                continue
            der = base64.b64decode(entry["certificate"], validate=True)
            if hashlib.sha256(der).hexdigest() != entry["thumbprint"]:
                raise VerificationError(
                    PublicationReason.ENTRY_MISMATCH, f"entry {entry.get('kid')} does not match its thumbprint"
                )
        if not all(isinstance(thumbprint, str) for thumbprint in payload.get("remove", [])):
            raise TypeError("a removed thumbprint is not a string")
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationError(PublicationReason.MALFORMED_PAYLOAD, f"an entry that cannot be read: {exc!r}") from exc
