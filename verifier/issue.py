"""Issuing HC1 codes, for tests, demos and ``python -m verifier issue``: the reverse of the
decoding steps, with knobs for building deliberately odd certificates. A verifier never needs it.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from verifier import cose
from verifier.base45 import b45encode
from verifier.decode import CLAIM_EXP, CLAIM_HCERT, CLAIM_IAT, CLAIM_ISS, HCERT_EU_DCC_V1, PREFIX
from verifier.trust import kid_of, posix


def _numeric_date(value: dt.datetime | int | float) -> int | float:
    if isinstance(value, dt.datetime):
        return int(posix(value))
    return value


def issue_hc1(
    payload: Mapping[str, Any],
    dsc_cert: Any,
    dsc_key: Any,
    *,
    kid: bytes | None = None,
    iat: dt.datetime | int | float,
    exp: dt.datetime | int | float,
    issuer: str | None,
    alg: int | None = None,
    tags: tuple[int, ...] = (cose.TAG_COSE_SIGN1,),
    kid_in: str = "protected",
    protected: Mapping[Any, Any] | None = None,
    unprotected: Mapping[Any, Any] | None = None,
    claims: Mapping[Any, Any] | None = None,
    compress: bool = True,
) -> str:
    """Sign ``payload`` (a DCC, e.g. ``{"ver": ..., "nam": ..., "v": [...]}``) into an HC1 text.

    ``dsc_cert`` is an ``x509.Certificate`` or its DER (for the default kid, SHA-256(DER)[:8]);
    ``alg`` defaults to ES256 for an EC key and PS256 for an RSA key. ``kid_in`` is
    ``protected``, ``unprotected`` or ``none``; ``tags`` ``(18,)``, ``(61, 18)`` or ``()``.
    ``protected``/``unprotected`` replace the generated headers, and ``claims`` replaces the
    generated claims, for building deliberately odd test cases.
    """
    der = dsc_cert if isinstance(dsc_cert, bytes) else dsc_cert.public_bytes(Encoding.DER)
    if kid is None:
        kid = kid_of(der)
    if alg is None:
        alg = cose.ES256 if isinstance(dsc_key, ec.EllipticCurvePrivateKey) else cose.PS256
    if protected is None:
        protected = {cose.HEADER_ALG: alg}
        if kid_in == "protected":
            protected[cose.HEADER_KID] = kid
    if unprotected is None:
        unprotected = {cose.HEADER_KID: kid} if kid_in == "unprotected" else {}
    if claims is None:
        claims = {
            CLAIM_IAT: _numeric_date(iat),
            CLAIM_EXP: _numeric_date(exp),
            CLAIM_HCERT: {HCERT_EU_DCC_V1: dict(payload)},
        }
        if issuer is not None:
            claims = {CLAIM_ISS: issuer, **claims}
    message = cose.sign(cbor2.dumps(dict(claims)), dsc_key, protected=protected, unprotected=unprotected, tags=tags)
    data = zlib.compress(message, 9) if compress else message
    return PREFIX + b45encode(data)
