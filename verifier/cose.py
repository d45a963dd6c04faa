"""COSE_Sign1 (RFC 8152 §4.2) as HCERT uses it, parsed on top of cbor2.

Accepted shapes: ``18([...])``, ``61(18([...]))`` (CWT tag around the COSE tag) and the bare
array, which real certificates use. The protected header is the bstr exactly as received (it is
what the signature covers; a zero-length bstr is an empty map). ``alg`` and ``kid`` are taken
from the protected header and, if absent there, from the unprotected one: the protected value
always wins (hcert spec §3.3.3; test cases CO19-CO23).

Signatures: ES256 is raw ``r||s`` (64 bytes), converted to DER for ``cryptography``; PS256 is
RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from verifier.reasons import HcertError, Reason

ES256 = -7
PS256 = -37
ALGORITHMS = {ES256: "ES256", PS256: "PS256"}
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
TAG_COSE_SIGN1 = 18
TAG_CWT = 61
# cbor2 gives a dict, or its frozendict inside a tag: cheaper to test than collections.abc.Mapping.
_MAPS = (dict, cbor2.frozendict)
# Header labels this parser understands, for the ``crit`` check (RFC 8152 §3.1).
_UNDERSTOOD = frozenset({HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID})

_SHA256 = hashes.SHA256()
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
_PSS = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=32)
MIN_RSA_BITS = 2048


class CoseSign1:
    """A parsed COSE_Sign1. ``alg`` and ``kid`` are resolved (protected header first)."""

    __slots__ = ("alg", "kid", "payload", "protected", "protected_bytes", "signature", "tags", "unprotected")

    def __init__(
        self,
        protected_bytes: bytes,
        protected: Mapping[Any, Any],
        unprotected: Mapping[Any, Any],
        payload: bytes,
        signature: bytes,
        tags: tuple[int, ...],
    ) -> None:
        self.protected_bytes = protected_bytes
        self.protected = protected
        self.unprotected = unprotected
        self.payload = payload
        self.signature = signature
        self.tags = tags
        alg = protected.get(HEADER_ALG, unprotected.get(HEADER_ALG))
        kid = protected.get(HEADER_KID, unprotected.get(HEADER_KID))
        self.alg: int | None = alg
        self.kid: bytes | None = kid

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected_bytes, self.payload)


def parse(data: bytes) -> CoseSign1:
    """Decode and check the structure; raises HcertError (CBOR_*, COSE_*, ALG_*, KID_MISSING)."""
    stream = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(stream, allow_duplicate_keys=False).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise HcertError(Reason.CBOR_MALFORMED, str(exc)) from None
    tags: list[int] = []
    while isinstance(obj, cbor2.CBORTag):
        tags.append(obj.tag)
        obj = obj.value
    if tags not in ([TAG_COSE_SIGN1], [TAG_CWT, TAG_COSE_SIGN1], []):
        raise HcertError(Reason.COSE_UNSUPPORTED_TAG, f"tags {tags}: expected 18, 61(18) or none")
    if not isinstance(obj, (list, tuple)) or len(obj) != 4:
        raise HcertError(Reason.COSE_NOT_SIGN1, f"not a 4-element array but {_describe(obj)}")
    if stream.tell() != len(data):
        raise HcertError(Reason.CBOR_TRAILING_DATA, f"{len(data) - stream.tell()} bytes after the COSE object")
    protected_bytes, unprotected, payload, signature = obj
    if not isinstance(protected_bytes, bytes):
        raise HcertError(Reason.COSE_HEADER_MALFORMED, "the protected header is not a byte string")
    if not isinstance(unprotected, _MAPS):
        raise HcertError(Reason.COSE_HEADER_MALFORMED, "the unprotected header is not a map")
    if payload is None:
        raise HcertError(Reason.COSE_DETACHED_PAYLOAD, "detached payloads are not supported")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise HcertError(Reason.COSE_NOT_SIGN1, "payload and signature must be byte strings")
    if protected_bytes:
        try:
            protected = cbor2.loads(protected_bytes, allow_duplicate_keys=False)
        except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
            raise HcertError(Reason.COSE_HEADER_MALFORMED, f"protected header: {exc}") from None
        if not isinstance(protected, _MAPS):
            raise HcertError(Reason.COSE_HEADER_MALFORMED, "the protected header is not a map")
    else:
        protected = {}
    message = CoseSign1(protected_bytes, protected, unprotected, payload, signature, tuple(tags))
    crit = protected.get(HEADER_CRIT)
    if crit is not None:
        if not isinstance(crit, (list, tuple)) or not all(
            type(label) is int and label in _UNDERSTOOD for label in crit
        ):
            raise HcertError(Reason.COSE_CRITICAL_HEADER, f"critical header labels {crit!r} not understood")
    if message.alg is None:
        raise HcertError(Reason.ALG_MISSING, "no alg in the protected or unprotected header")
    if type(message.alg) is not int or message.alg not in ALGORITHMS:
        raise HcertError(Reason.ALG_UNSUPPORTED, f"alg {message.alg!r} is neither ES256 (-7) nor PS256 (-37)")
    if message.kid is None:
        raise HcertError(Reason.KID_MISSING, "no kid in the protected or unprotected header")
    if not isinstance(message.kid, bytes):
        raise HcertError(Reason.COSE_HEADER_MALFORMED, f"kid is a {type(message.kid).__name__}, not bytes")
    return message


def _describe(obj: object) -> str:
    if isinstance(obj, (list, tuple)):
        return f"an array of {len(obj)}"
    return f"a {type(obj).__name__}"


def _bstr(data: bytes) -> bytes:
    n = len(data)
    if n < 24:
        return bytes((0x40 | n,)) + data
    if n < 0x100:
        return bytes((0x58, n)) + data
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big") + data
    return b"\x5a" + n.to_bytes(4, "big") + data


def sig_structure(protected_bytes: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, h'', payload]`` in CBOR, built directly (RFC 8152 §4.4)."""
    return b"\x84\x6aSignature1" + _bstr(protected_bytes) + b"\x40" + _bstr(payload)


def verify(alg: int, key: Any, signature: bytes, to_be_signed: bytes) -> bool:
    """True if the signature verifies. The caller checks that the key serves ``alg`` (a P-256
    key for ES256, RSA of at least 2048 bits for PS256) and the signature length first."""
    try:
        if alg == ES256:
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), to_be_signed, _ECDSA_SHA256)
        else:
            key.verify(signature, to_be_signed, _PSS, _SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(
    payload: bytes,
    private_key: Any,
    *,
    protected: Mapping[Any, Any],
    unprotected: Mapping[Any, Any] | None = None,
    tags: tuple[int, ...] = (TAG_COSE_SIGN1,),
) -> bytes:
    """Build a COSE_Sign1 (for the issuer helper and tests). ``alg`` is read from the headers."""
    alg = protected.get(HEADER_ALG, (unprotected or {}).get(HEADER_ALG))
    protected_bytes = cbor2.dumps(dict(protected)) if protected else b""
    to_be_signed = sig_structure(protected_bytes, payload)
    if alg == ES256:
        r, s = decode_dss_signature(private_key.sign(to_be_signed, _ECDSA_SHA256))
        size = (private_key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif alg == PS256:
        signature = private_key.sign(to_be_signed, _PSS, _SHA256)
    else:
        raise ValueError(f"cannot sign with alg {alg!r}")
    obj: Any = [protected_bytes, dict(unprotected or {}), payload, signature]
    for tag in reversed(tags):
        obj = cbor2.CBORTag(tag, obj)
    return cbor2.dumps(obj)
