"""The one JWS writer (RFC 7515, ES256, compact serialisation) of everything the gateway signs:
the index and full lists of a publication, the DID document's detached proof, and the audit log's
checkpoints. Every signature comes from the signer's ``sign_digest``.

The protected header is canonical JSON (sorted keys, no whitespace). With ``chain`` it carries
``x5c`` with the publisher certificate only: verifiers pin the trust anchor and must not take it
from a message (RFC 7515 §4.1.6 lets the chain stop there).

Large payloads are streamed: :func:`write` base64url-encodes the payload block by block into a
sink while hashing the signing input, and signs the digest at the end, so nothing holds the whole
payload, its base64url form and the compact JWS at once.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any, Protocol

from gateway.signing.backend import Signer, key_id
from verifier.encoding import canonical_json

BLOCK = 3 << 18  # 768 KiB of payload per base64url block (a multiple of 3: no padding inside)


class Sink(Protocol):
    def write(self, data: bytes) -> Any: ...


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def header(signer: Signer, kind: str | None, *, chain: bool = True, extra: dict[str, Any] | None = None) -> bytes:
    """The protected header, base64url-encoded. ``kind`` sets ``typ`` (``<kind>+jws``) and
    ``cty``; ``extra`` adds members (a checkpoint's own ``typ``, a detached proof's ``b64``).
    Without ``chain`` it carries the ``kid`` only: the verifier takes the certificate from the
    index's ``publisherKeys``."""
    value: dict[str, Any] = {"alg": "ES256", "kid": key_id(signer.chain[0]), **(extra or {})}
    if kind is not None:
        value.update({"typ": f"{kind}+jws", "cty": "application/json"})
    if chain:
        value["x5c"] = [base64.b64encode(signer.chain[0]).decode("ascii")]
    return b64url(canonical_json(value))


def signature(signer: Signer, digest: bytes) -> bytes:
    """The base64url JWS signature over a SHA-256 digest of a signing input."""
    return b64url(signer.sign_digest(digest))


def compact(
    signer: Signer, kind: str | None, payload: bytes, *, chain: bool = True, extra: dict[str, Any] | None = None
) -> bytes:
    """A compact JWS of a payload held in memory."""
    signing_input = header(signer, kind, chain=chain, extra=extra) + b"." + b64url(payload)
    return signing_input + b"." + signature(signer, hashlib.sha256(signing_input).digest())


def write(sink: Sink, signer: Signer, kind: str, pieces: Iterable[bytes], *, chain: bool = True) -> None:
    """Stream a compact JWS whose payload is the concatenation of ``pieces`` into ``sink``."""
    prefix = header(signer, kind, chain=chain) + b"."
    digest = hashlib.sha256(prefix)
    sink.write(prefix)
    pending = bytearray()
    for piece in pieces:
        pending += piece
        if len(pending) >= BLOCK:
            cut = len(pending) - len(pending) % 3
            encoded = base64.urlsafe_b64encode(pending[:cut])  # aligned: no padding
            del pending[:cut]
            digest.update(encoded)
            sink.write(encoded)
    encoded = b64url(bytes(pending))
    digest.update(encoded)
    sink.write(encoded)
    sink.write(b"." + signature(signer, digest.digest()))
