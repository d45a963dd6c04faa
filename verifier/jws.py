"""Compact JWS (ES256) signed by a publisher certificate that a pinned trust anchor issued: how
the index and the full lists are signed (docs/publication-format.md, "JWS envelope").

The signer's certificate is the header's ``x5c[0]``, or, for a JWS that names its signer by
``kid`` only (an index from version 4), the one the index announces under that ``kid``. It must
be issued by a pinned trust anchor, carry the publisher usage (``verifier.certificates``), be
valid at the verification time, and its SHA-256 must be the ``kid``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from verifier.certificates import issued_by, publisher_usage_problem
from verifier.reasons import PublicationReason, VerificationError

ALGORITHM = "ES256"  # the one algorithm of the format: ECDSA P-256 with SHA-256 (RFC 7518 §3.4)
SIGNATURE_BYTES = 64  # ES256's R || S, 32 bytes each, big-endian (RFC 7518 §3.4)
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Critical header parameters this verifier understands (RFC 7515 §4.1.11): only RFC 7797's b64,
# which the DID document's detached proof uses.
_UNDERSTOOD_CRIT = frozenset({"b64"})


def verify_jws(
    compact: bytes,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    detached_payload: bytes | None = None,
    certificates: Mapping[str, bytes] | None = None,
) -> tuple[dict[str, Any], bytes, str]:
    """Verify a compact JWS against the pinned trust anchors. Returns header, payload, signer kid.

    A JWS without ``x5c`` names its signer by ``kid`` only; its certificate must be among
    ``certificates`` (the publisher keys an index announced).

    Verified on the bytes, with ``cryptography``'s primitives (a full trust list is a JWS of a
    hundred megabytes: PyJWT checked its base64 alphabet one character at a time in Python). The
    checks are PyJWT's and stricter (tests/verifier/test_jws.py compares the two): exactly three
    segments of unpadded base64url in their one canonical spelling (RFC 7515 §2, §7.1), a JSON
    object as the header, ``alg`` ES256 only, ``crit`` only with parameters understood and
    present, RFC 7797's ``b64: false`` only with ``crit`` naming it, an empty payload segment and
    a detached payload, and a 64-byte R || S signature by a P-256 key."""
    try:
        segments = compact.strip().split(b".")
        if len(segments) != 3:
            raise ValueError(f"{len(segments)} segments, not 3")
        header_segment, payload_segment, signature_segment = segments
        header = json.loads(_segment(header_segment, "header"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        if "x5c" in header:
            signer_der = base64.b64decode(header["x5c"][0], validate=True)
        elif certificates is not None and str(header["kid"]) in certificates:
            signer_der = certificates[str(header["kid"])]
        else:
            raise VerificationError(PublicationReason.UNANNOUNCED_KEY, "a kid-only JWS whose key no index announced")
        publisher = x509.load_der_x509_certificate(signer_der)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise VerificationError(PublicationReason.MALFORMED_JWS, str(exc)) from exc
    if header.get("alg") != ALGORITHM:
        raise VerificationError(PublicationReason.ALGORITHM, f"alg {header.get('alg')!r} is not ES256")
    signer_kid = hashlib.sha256(signer_der).hexdigest()
    if header.get("kid") != signer_kid:
        raise VerificationError(PublicationReason.KID_MISMATCH, "kid header is not the SHA-256 of the x5c certificate")
    anchor_ders = tuple(anchor.public_bytes(Encoding.DER) for anchor in anchors)
    if not _publisher_trusted(signer_der, anchor_ders):
        raise VerificationError(
            PublicationReason.UNTRUSTED_SIGNER, "the publisher certificate is not issued by a pinned trust anchor"
        )
    usage_problem = publisher_usage_problem(publisher)
    if usage_problem is not None:
        raise VerificationError(PublicationReason.PUBLISHER_USAGE, usage_problem)
    if not publisher.not_valid_before_utc <= now <= publisher.not_valid_after_utc:
        raise VerificationError(
            PublicationReason.SIGNER_EXPIRED, "the publisher certificate is not valid at the verification time"
        )
    try:
        payload, signing_input = _payload(header, header_segment, payload_segment, detached_payload)
        signature = _segment(signature_segment, "signature")
        key = publisher.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("the publisher key is not a P-256 key, which ES256 needs")
    except (ValueError, TypeError, binascii.Error) as exc:
        raise VerificationError(PublicationReason.MALFORMED_JWS, str(exc)) from exc
    if len(signature) != SIGNATURE_BYTES:
        raise VerificationError(PublicationReason.BAD_SIGNATURE, "the JWS signature does not verify")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise VerificationError(PublicationReason.BAD_SIGNATURE, "the JWS signature does not verify") from exc
    return header, payload, signer_kid


def _payload(
    header: dict[str, Any], header_segment: bytes, payload_segment: bytes, detached: bytes | None
) -> tuple[bytes, bytes]:
    """The payload and the signing input (RFC 7515 §5.2; RFC 7797 §3 when ``b64`` is false)."""
    if "crit" in header:  # RFC 7515 §4.1.11: a non-empty list of parameters understood and present
        crit = header["crit"]
        if not isinstance(crit, list) or not crit or not all(isinstance(name, str) for name in crit):
            raise ValueError("crit is not a non-empty list of names")
        for name in crit:
            if name not in _UNDERSTOOD_CRIT or name not in header:
                raise ValueError(f"critical parameter {name!r} is not understood or not present")
    unencoded = header.get("b64", True) is False
    if not unencoded:
        if detached is not None:
            raise ValueError("a detached payload for a JWS whose payload is not unencoded (b64)")
        return _segment(payload_segment, "payload"), header_segment + b"." + payload_segment
    if "b64" not in header.get("crit", []):  # RFC 7797 §6
        raise ValueError("b64 is false but not critical")
    if payload_segment:
        raise ValueError("the payload segment of a detached JWS is not empty")
    if detached is None:
        raise ValueError("a detached JWS without its payload")
    return detached, header_segment + b"." + detached


def _segment(segment: bytes, name: str) -> bytes:
    """One segment: unpadded base64url (RFC 7515 §2) in its one canonical spelling. The alphabet
    is checked with one ``bytes.translate`` (C speed); a length of 1 mod 4 cannot be base64; and
    the last character's unused low bits must be zero, so no two strings decode alike (only the
    final, partial group can carry such bits: the groups decode independently)."""
    if segment.translate(None, _BASE64URL) or len(segment) % 4 == 1:
        raise ValueError(f"the {name} is not unpadded base64url")
    decoded = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    tail = len(segment) % 4
    if tail and base64.urlsafe_b64encode(decoded[-(tail - 1) :]).rstrip(b"=") != segment[-tail:]:
        raise ValueError(f"the {name} is not in its canonical base64url form")
    return decoded


@functools.lru_cache(maxsize=64)
def _publisher_trusted(publisher_der: bytes, anchor_ders: tuple[bytes, ...]) -> bool:
    """Memoised on the exact bytes: every artifact and checkpoint carries the same certificate."""
    publisher = x509.load_der_x509_certificate(publisher_der)
    return any(issued_by(publisher, x509.load_der_x509_certificate(anchor)) for anchor in anchor_ders)
