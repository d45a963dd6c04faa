"""The DID document rendering of the trust list (docs/publication-format.md, "DID document"):
its proof is a detached, unencoded-payload JWS (RFC 7797) over the canonical JSON of the
document without ``proof``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from verifier.encoding import canonical_json
from verifier.jws import verify_jws
from verifier.reasons import PublicationReason, VerificationError


def verify_did_document(data: bytes, anchors: Sequence[x509.Certificate], now: dt.datetime) -> dict[str, Any]:
    """The document (without its proof) once the proof verifies against the pinned trust anchors."""
    try:
        document = json.loads(data)
        proof = document.pop("proof")
        unsigned = canonical_json(document)
        jws = proof["jws"].encode("ascii")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationError(PublicationReason.MALFORMED_DID, str(exc)) from exc
    header, _, _ = verify_jws(jws, anchors, now, detached_payload=unsigned)
    if header.get("b64") is not False:
        raise VerificationError(
            PublicationReason.MALFORMED_DID, "the proof must be an unencoded-payload JWS (RFC 7797)"
        )
    return document
