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

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from verifier.certificates import issued_by, publisher_usage_problem
from verifier.encoding import b64url_decode
from verifier.reasons import PublicationReason, VerificationError


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
    ``certificates`` (the publisher keys an index announced)."""
    try:
        text = compact.decode("ascii").strip()
        header = json.loads(b64url_decode(text.split(".", 1)[0]))
        if "x5c" in header:
            signer_der = base64.b64decode(header["x5c"][0], validate=True)
        elif certificates is not None and str(header["kid"]) in certificates:
            signer_der = certificates[str(header["kid"])]
        else:
            raise VerificationError(PublicationReason.UNANNOUNCED_KEY, "a kid-only JWS whose key no index announced")
        publisher = x509.load_der_x509_certificate(signer_der)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise VerificationError(PublicationReason.MALFORMED_JWS, str(exc)) from exc
    if header.get("alg") != "ES256":
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
        decoded = jwt.api_jws.decode_complete(
            text,
            key=publisher.public_key(),
            algorithms=["ES256"],  # type: ignore[arg-type]
            detached_payload=detached_payload,
        )
    except jwt.exceptions.InvalidSignatureError as exc:
        raise VerificationError(PublicationReason.BAD_SIGNATURE, "the JWS signature does not verify") from exc
    except jwt.exceptions.PyJWTError as exc:
        raise VerificationError(PublicationReason.MALFORMED_JWS, str(exc)) from exc
    return decoded["header"], decoded["payload"], signer_kid


@functools.lru_cache(maxsize=64)
def _publisher_trusted(publisher_der: bytes, anchor_ders: tuple[bytes, ...]) -> bool:
    """Memoised on the exact bytes: every artifact and checkpoint carries the same certificate."""
    publisher = x509.load_der_x509_certificate(publisher_der)
    return any(issued_by(publisher, x509.load_der_x509_certificate(anchor)) for anchor in anchor_ders)
