"""Verify an EU Digital COVID Certificate (HCERT/DCC) QR payload offline, against trusted DSCs.

``verify_hc1`` runs the steps of verification.md §1, in order, and records one outcome per step
(``Step``), each with a named ``Reason``:

UNPREFIX -> B45DECODE -> COMPRESSION -> COSE -> VERIFY -> CLAIMS -> EXPIRATIONCHECK -> KEYUSAGE
-> REVOCATION

A decoding step that fails ends the run (the later steps are SKIPPED, NOT_REACHED). Once the
COSE structure is parsed, the signature is checked before the payload is read as a DCC (hcert
spec §6.3); a signature that does not verify makes the result invalid, but the time checks still
run on the unverified claims so that a caller can say *why* a certificate is bad. Checks that
need the signing DSC (KEYUSAGE, REVOCATION, the DSC validity policy) are skipped when no DSC
verified. The result is valid only if every step passed.

Nothing here reads the clock: the verification time is an argument. Nothing here imports the
gateway or Django.
"""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from collections.abc import Collection, Mapping
from enum import IntFlag
from typing import Any, NamedTuple

import cbor2

from verifier import cose
from verifier.base45 import Base45Error, b45decode, b45encode
from verifier.qr import QrError, decode_qr_image, qr_png
from verifier.reasons import HcertError, Reason, Status, Step
from verifier.trust import PAYLOAD_TYPE_USAGE, DscLookup, RevocationSet, TrustedDsc, TrustStore, kid_of, posix

__all__ = [
    "MAX_INFLATED_BYTES",
    "MAX_TEXT_LENGTH",
    "Claims",
    "DscLookup",
    "DscValidity",
    "HcertError",
    "Reason",
    "Result",
    "RevocationSet",
    "Status",
    "Step",
    "StepOutcome",
    "TrustStore",
    "decode_claims",
    "decode_qr_image",
    "hc1_to_cose",
    "inflate",
    "issue_hc1",
    "qr_png",
    "unprefix",
    "verify_hc1",
    "verify_qr_image",
]

PREFIX = "HC1:"
# A QR code holds at most 4,296 alphanumeric characters (version 40-L); anything longer did not
# come from one.
MAX_TEXT_LENGTH = 4296
# The largest COSE in the public test data is 870 bytes; 64 KiB leaves room and bounds a
# decompression bomb.
MAX_INFLATED_BYTES = 64 * 1024

CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
# cbor2 decodes a map to a dict, or to its frozendict inside a tag; checking these two types is
# much cheaper than an isinstance() against collections.abc.Mapping on the hot path.
_MAPS = (dict, cbor2.frozendict)
HCERT_EU_DCC_V1 = 1


class DscValidity(IntFlag):
    """How the signing DSC's validity period constrains the certificate (verification.md §1).

    AT_ISSUANCE: the DSC was valid when the DCC was issued (notBefore <= iat <= notAfter): the
    spec's "iat MUST NOT predate the DSC", and no issuing with an expired DSC.
    AT_VERIFICATION: the DSC is valid at the verification time, as the DGCA and CWA apps check.
    EXP_WITHIN: exp <= notAfter, the issuer rule the reference test runner also enforces.
    """

    NONE = 0
    AT_ISSUANCE = 1
    AT_VERIFICATION = 2
    EXP_WITHIN = 4
    DEFAULT = AT_ISSUANCE | AT_VERIFICATION
    STRICT = AT_ISSUANCE | AT_VERIFICATION | EXP_WITHIN


class StepOutcome(NamedTuple):
    step: Step
    status: Status
    reason: Reason
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict[str, str]:
        return {
            "step": self.step.value,
            "status": self.status.value,
            "reason": self.reason.value,
            "detail": self.detail,
        }


_PASSED = {step: StepOutcome(step, Status.PASSED, Reason.OK) for step in Step}
# The same as plain globals for the hot path: an enum member lookup costs ~0.15 µs on Python 3.11.
_OK_UNPREFIX = _PASSED[Step.UNPREFIX]
_OK_B45DECODE = _PASSED[Step.B45DECODE]
_OK_COMPRESSION = _PASSED[Step.COMPRESSION]
_OK_COSE = _PASSED[Step.COSE]
_OK_VERIFY = _PASSED[Step.VERIFY]
_OK_CLAIMS = _PASSED[Step.CLAIMS]
_OK_EXPIRATIONCHECK = _PASSED[Step.EXPIRATIONCHECK]
_OK_KEYUSAGE = _PASSED[Step.KEYUSAGE]
_OK_REVOCATION = _PASSED[Step.REVOCATION]
_ALL_PASSED = [
    _OK_UNPREFIX,
    _OK_B45DECODE,
    _OK_COMPRESSION,
    _OK_COSE,
    _OK_VERIFY,
    _OK_CLAIMS,
    _OK_EXPIRATIONCHECK,
    _OK_KEYUSAGE,
    _OK_REVOCATION,
]
_STATUS_PASSED = Status.PASSED
_PIPELINE = (
    Step.UNPREFIX,
    Step.B45DECODE,
    Step.COMPRESSION,
    Step.COSE,
    Step.VERIFY,
    Step.CLAIMS,
    Step.EXPIRATIONCHECK,
    Step.KEYUSAGE,
    Step.REVOCATION,
)


class Claims(NamedTuple):
    """The CWT claims of an HCERT. Times are POSIX seconds (None if absent). ``dcc`` is the
    eu_dcc_v1 payload, CBOR date tags (0, 1) replaced by their text or number; ``payload_type``
    is v, t or r."""

    issuer: str | None
    issued_at: float | None
    expires_at: float | None
    dcc: dict[str, Any]
    payload_type: str


class Result:
    """The outcome of one verification. ``payload`` is the decoded DCC: trust it only if
    ``valid``. It holds what cbor2 decodes (rare tags other than dates give Python objects such as
    ``datetime.date``); ``to_dict()`` is always JSON-serialisable."""

    __slots__ = (
        "alg",
        "dsc",
        "expires_at",
        "issued_at",
        "issuer_country",
        "kid",
        "payload",
        "payload_type",
        "steps",
        "valid",
    )

    def __init__(self, steps: list[StepOutcome], valid: bool | None = None) -> None:
        self.steps: tuple[StepOutcome, ...] = tuple(steps)
        self.valid = all(outcome.status is _STATUS_PASSED for outcome in steps) if valid is None else valid
        self.payload: dict[str, Any] | None = None
        self.payload_type: str | None = None
        self.kid: bytes | None = None
        self.alg: int | None = None
        self.issuer_country: str | None = None  # the CWT iss claim
        self.issued_at: float | None = None
        self.expires_at: float | None = None
        self.dsc: TrustedDsc | None = None  # the DSC whose signature verified

    def __repr__(self) -> str:
        return f"Result(valid={self.valid}, reason={self.reason}, kid={self.kid.hex() if self.kid else None})"

    def step(self, step: Step | str) -> StepOutcome | None:
        for outcome in self.steps:
            if outcome.step == step:
                return outcome
        return None

    def passed(self, step: Step | str) -> bool:
        outcome = self.step(step)
        return outcome is not None and outcome.status is Status.PASSED

    @property
    def failures(self) -> list[StepOutcome]:
        return [outcome for outcome in self.steps if outcome.status is Status.FAILED]

    @property
    def reason(self) -> Reason:
        """The first failure's reason, or OK."""
        for outcome in self.steps:
            if outcome.status is Status.FAILED:
                return outcome.reason
        return Reason.OK

    @property
    def dsc_country(self) -> str | None:
        return None if self.dsc is None else self.dsc.country

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (kid in base64, times as ISO 8601 UTC)."""
        return {
            "valid": self.valid,
            "reason": self.reason.value,
            "kid": None if self.kid is None else base64.b64encode(self.kid).decode("ascii"),
            "alg": cose.ALGORITHMS.get(self.alg) if self.alg is not None else None,
            "issuer": self.issuer_country,
            "dscCountry": self.dsc_country,
            "dscThumbprint": None if self.dsc is None else self.dsc.thumbprint,
            "payloadType": self.payload_type,
            "issuedAt": _iso(self.issued_at),
            "expiresAt": _iso(self.expires_at),
            "steps": [outcome.to_dict() for outcome in self.steps],
            "payload": _json_safe(self.payload) if self.payload is not None else None,
        }


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(value)


# --- the decoding steps, usable on their own ---------------------------------------------------


def unprefix(text: str) -> str:
    """The Base45 text after ``HC1:``. Raises HcertError (UNPREFIX reasons)."""
    if len(text) > MAX_TEXT_LENGTH:
        raise HcertError(Reason.INPUT_TOO_LARGE, f"{len(text)} characters, more than a QR code holds")
    if text.startswith(PREFIX):
        return text[4:]
    head = text[:4]
    if len(head) == 4 and head[:2] == "HC" and head[3] == ":" and (head[2].isdigit() or "A" <= head[2] <= "Z"):
        raise HcertError(Reason.PREFIX_UNSUPPORTED_VERSION, f"context {head!r} is not HC1:")
    raise HcertError(Reason.PREFIX_MISSING, f"text does not start with {PREFIX!r}")


def base45_decode(text: str) -> bytes:
    try:
        return b45decode(text)
    except Base45Error as exc:
        reason = {
            "character": Reason.BASE45_INVALID_CHARACTER,
            "length": Reason.BASE45_INVALID_LENGTH,
        }.get(exc.kind, Reason.BASE45_VALUE_OUT_OF_RANGE)
        raise HcertError(reason, str(exc)) from None


def inflate(data: bytes, max_size: int = MAX_INFLATED_BYTES) -> bytes:
    """zlib (RFC 1950) inflate, at most ``max_size`` bytes out. Bytes after the end of the
    stream are ignored, as zlib-based verifiers do."""
    if len(data) < 2 or data[0] & 0x0F != 8 or (data[0] << 8 | data[1]) % 31:
        raise HcertError(Reason.COMPRESSION_NOT_ZLIB, "no zlib header (the payload must be compressed)")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_size)
    except zlib.error as exc:
        raise HcertError(Reason.COMPRESSION_CORRUPT, str(exc)) from None
    if inflater.unconsumed_tail:
        raise HcertError(Reason.COMPRESSION_TOO_LARGE, f"inflates to more than {max_size} bytes")
    if not inflater.eof:
        raise HcertError(Reason.COMPRESSION_TRUNCATED, "the zlib stream ends early")
    return out


def hc1_to_cose(text: str, max_inflated: int = MAX_INFLATED_BYTES) -> bytes:
    """UNPREFIX, B45DECODE and COMPRESSION: the COSE bytes of an HC1 text."""
    return inflate(base45_decode(unprefix(text)), max_inflated)


def _tag_content(value: Any, immutable: bool) -> Any:
    return value


# Dates in CBOR tags 0 (RFC 3339 text) and 1 (epoch number) decode to their content, as in the
# JSON form of a DCC: no datetime objects to turn back into text, and iat/exp stay numbers.
_DATE_TAGS_AS_CONTENT = {0: _tag_content, 1: _tag_content}


def _claims_map(payload: bytes) -> Mapping[Any, Any]:
    try:
        claims = cbor2.loads(payload, allow_duplicate_keys=False, semantic_decoders=_DATE_TAGS_AS_CONTENT)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise HcertError(Reason.CLAIMS_MALFORMED, str(exc)) from None
    if not isinstance(claims, _MAPS):
        raise HcertError(Reason.CLAIMS_MALFORMED, f"the CWT payload is a {type(claims).__name__}, not a map")
    return claims


def _time_claim(claims: Mapping[Any, Any], label: int, name: str) -> float | None:
    value = claims.get(label)
    if value is None:
        return None
    # Integers per spec (I-CO4); some issuers write floats, which every verifier accepts.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise HcertError(Reason.CLAIM_INVALID, f"{name} is a {type(value).__name__}, not a NumericDate")
    return value


def _time_claims(claims: Mapping[Any, Any]) -> tuple[str | None, float | None, float | None]:
    issuer = claims.get(CLAIM_ISS)
    if issuer is not None and not isinstance(issuer, str):
        raise HcertError(Reason.CLAIM_INVALID, f"iss is a {type(issuer).__name__}, not text")
    return issuer, _time_claim(claims, CLAIM_IAT, "iat"), _time_claim(claims, CLAIM_EXP, "exp")


def _dcc(claims: Mapping[Any, Any]) -> tuple[dict[str, Any], str]:
    hcert = claims.get(CLAIM_HCERT)
    if not isinstance(hcert, _MAPS) or not isinstance(hcert.get(HCERT_EU_DCC_V1), _MAPS):
        raise HcertError(Reason.HCERT_MISSING, "no hcert claim (-260) holding an eu_dcc_v1 map (1)")
    dcc = hcert[HCERT_EU_DCC_V1]
    if type(dcc) is not dict:  # a frozendict: the DCC was inside a tag
        dcc = _json_safe(dcc)
    types = [key for key in ("v", "t", "r") if dcc.get(key)]
    if not types:
        raise HcertError(Reason.PAYLOAD_TYPE_MISSING, "the DCC holds no v, t or r entry")
    if len(types) > 1:
        raise HcertError(Reason.PAYLOAD_TYPE_AMBIGUOUS, f"the DCC holds {', '.join(types)}: exactly one is allowed")
    entries = dcc[types[0]]
    if not isinstance(entries, list) or not all(isinstance(entry, _MAPS) for entry in entries):
        raise HcertError(Reason.CLAIMS_MALFORMED, f"{types[0]} is not an array of maps")
    return dcc, types[0]


def decode_claims(payload: bytes) -> Claims:
    """The CWT claims of a COSE payload (CLAIMS step). Raises HcertError."""
    claims = _claims_map(payload)
    issuer, issued_at, expires_at = _time_claims(claims)
    dcc, payload_type = _dcc(claims)
    return Claims(issuer, issued_at, expires_at, dcc, payload_type)


def _json_safe(value: Any) -> Any:
    if isinstance(value, _MAPS):
        return {k if isinstance(k, (str, int)) else str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, cbor2.CBORTag):
        return _json_safe(value.value)
    if isinstance(value, (set, frozenset)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)  # Decimal, Fraction, UUID, CBORSimpleValue ...


# --- verification ------------------------------------------------------------------------------


def _verify_signature(message: cose.CoseSign1, trust: DscLookup) -> TrustedDsc:
    """Try every DSC that carries the kid; the first whose key verifies is the signer."""
    kid = message.kid
    assert kid is not None  # cose.parse guarantees it
    candidates = trust.candidates(kid)
    if not candidates:
        raise HcertError(Reason.KID_UNKNOWN, f"no trusted DSC has kid {kid.hex()}")
    alg = message.alg
    signature = message.signature
    to_be_signed: bytes | None = None
    usable = fitting = well_formed = 0
    for dsc in candidates:
        key, key_alg, signature_size = dsc.verification_key()
        if key is None:
            continue
        usable += 1
        if key_alg != alg:
            continue
        fitting += 1
        if len(signature) != signature_size:
            continue
        well_formed += 1
        if to_be_signed is None:
            to_be_signed = cose.sig_structure(message.protected_bytes, message.payload)
        if cose.verify(alg, key, signature, to_be_signed):  # type: ignore[arg-type]
            return dsc
    name = cose.ALGORITHMS[alg]  # type: ignore[index]
    if not usable:
        raise HcertError(Reason.DSC_UNUSABLE, "; ".join(dsc.problem for dsc in candidates))
    if not fitting:
        raise HcertError(Reason.KEY_ALG_MISMATCH, f"no DSC with kid {kid.hex()} has a key for {name}")
    if not well_formed:
        raise HcertError(Reason.SIGNATURE_MALFORMED, f"a {len(signature)}-byte signature does not fit {name}")
    raise HcertError(
        Reason.SIGNATURE_INVALID, f"the signature does not verify with {fitting} DSC(s) of kid {kid.hex()}"
    )


_AT_ISSUANCE = int(DscValidity.AT_ISSUANCE)
_AT_VERIFICATION = int(DscValidity.AT_VERIFICATION)
_EXP_WITHIN = int(DscValidity.EXP_WITHIN)


def _check_time(
    issued_at: float | None, expires_at: float | None, now: float, dsc: TrustedDsc | None, policy: int
) -> str:
    """Raises HcertError on a failed time check; returns a note when the DSC part was skipped."""
    if issued_at is None:
        raise HcertError(Reason.IAT_MISSING, "no iat claim")
    if expires_at is None:
        raise HcertError(Reason.EXP_MISSING, "no exp claim")
    if now < issued_at:
        raise HcertError(Reason.NOT_YET_VALID, f"issued at {_iso(issued_at)}, after the clock {_iso(now)}")
    if now > expires_at:
        raise HcertError(Reason.EXPIRED, f"expired at {_iso(expires_at)}, before the clock {_iso(now)}")
    if not policy:
        return ""
    if dsc is None:
        return "DSC validity not checked: no DSC verified the signature"
    not_before, not_after = dsc.not_before, dsc.not_after
    if policy & _AT_ISSUANCE and not not_before <= issued_at <= not_after:
        raise HcertError(
            Reason.DSC_NOT_VALID_AT_ISSUANCE,
            f"issued at {_iso(issued_at)}, outside the DSC's validity {_iso(not_before)} - {_iso(not_after)}",
        )
    if policy & _AT_VERIFICATION:
        if now < not_before:
            raise HcertError(Reason.DSC_NOT_YET_VALID, f"the DSC is valid from {_iso(not_before)}")
        if now > not_after:
            raise HcertError(Reason.DSC_EXPIRED, f"the DSC expired at {_iso(not_after)}")
    if policy & _EXP_WITHIN and expires_at > not_after:
        raise HcertError(Reason.EXP_AFTER_DSC_EXPIRY, f"exp {_iso(expires_at)} is after the DSC's {_iso(not_after)}")
    return ""


def _failed(step: Step, exc: HcertError) -> StepOutcome:
    return StepOutcome(step, Status.FAILED, exc.reason, exc.detail)


def _skipped(step: Step, reason: Reason, detail: str = "") -> StepOutcome:
    return StepOutcome(step, Status.SKIPPED, reason, detail)


def _abort(steps: list[StepOutcome], step: Step, exc: HcertError) -> Result:
    steps.append(_failed(step, exc))
    for later in _PIPELINE[_PIPELINE.index(step) + 1 :]:
        steps.append(_skipped(later, Reason.NOT_REACHED))
    return Result(steps)


def verify_hc1(
    text: str,
    trust: DscLookup,
    at: dt.datetime,
    *,
    revoked_kids: Collection[bytes] = (),
    revoked_thumbprints: Collection[str] = (),
    revocations: RevocationSet | None = None,
    dsc_validity: DscValidity = DscValidity.DEFAULT,
    max_inflated: int = MAX_INFLATED_BYTES,
) -> Result:
    """Verify an ``HC1:`` text at the time ``at`` (timezone-aware) against ``trust`` (a
    ``TrustStore``, or anything with its ``candidates(kid)``). Never raises on bad input: every
    failure is a step outcome with a named reason. Line breaks around the text are ignored.

    A DSC is revoked if its thumbprint (hex SHA-256 of the DER) is in ``revoked_thumbprints`` or
    ``revocations.thumbprints``, or if the certificate's kid is in ``revoked_kids`` or
    ``revocations.kids``. ``dsc_validity`` chooses how the signing DSC's validity period limits
    the certificate (see ``DscValidity``); ``max_inflated`` caps the decompressed size.
    Raises ValueError only for a naive ``at``.
    """
    now = posix(at)
    steps: list[StepOutcome] = []
    append = steps.append
    try:
        body = unprefix(text.strip("\r\n"))
    except HcertError as exc:
        return _abort(steps, Step.UNPREFIX, exc)
    append(_OK_UNPREFIX)
    try:
        compressed = base45_decode(body)
    except HcertError as exc:
        return _abort(steps, Step.B45DECODE, exc)
    append(_OK_B45DECODE)
    try:
        cose_bytes = inflate(compressed, max_inflated)
    except HcertError as exc:
        return _abort(steps, Step.COMPRESSION, exc)
    append(_OK_COMPRESSION)
    try:
        message = cose.parse(cose_bytes)
    except HcertError as exc:
        return _abort(steps, Step.COSE, exc)
    append(_OK_COSE)

    dsc: TrustedDsc | None = None
    try:
        dsc = _verify_signature(message, trust)
        append(_OK_VERIFY)
    except HcertError as exc:
        append(_failed(Step.VERIFY, exc))

    claims_map: Mapping[Any, Any] | None = None
    times: tuple[str | None, float | None, float | None] | None = None
    dcc: dict[str, Any] | None = None
    payload_type: str | None = None
    try:
        claims_map = _claims_map(message.payload)
        times = _time_claims(claims_map)
        dcc, payload_type = _dcc(claims_map)
        append(_OK_CLAIMS)
    except HcertError as exc:
        append(_failed(Step.CLAIMS, exc))

    if times is None:
        append(_skipped(Step.EXPIRATIONCHECK, Reason.NOT_REACHED, "no readable claims"))
    else:
        try:
            note = _check_time(times[1], times[2], now, dsc, int(dsc_validity))
            append(_OK_EXPIRATIONCHECK if not note else _OK_EXPIRATIONCHECK._replace(detail=note))
        except HcertError as exc:
            append(_failed(Step.EXPIRATIONCHECK, exc))

    if dsc is None:
        append(_skipped(Step.KEYUSAGE, Reason.NO_VERIFIED_DSC))
        append(_skipped(Step.REVOCATION, Reason.NO_VERIFIED_DSC))
    else:
        if payload_type is None:
            append(_skipped(Step.KEYUSAGE, Reason.NOT_REACHED, "the certificate type is unknown"))
        elif PAYLOAD_TYPE_USAGE[payload_type] in dsc.usages:
            append(_OK_KEYUSAGE)
        else:
            append(
                StepOutcome(
                    Step.KEYUSAGE,
                    Status.FAILED,
                    Reason.KEY_USAGE_MISMATCH,
                    f"the DSC may sign {', '.join(sorted(dsc.usages))}, not {PAYLOAD_TYPE_USAGE[payload_type]}",
                )
            )
        kid = message.kid
        if (
            (revoked_kids and kid in revoked_kids)
            or (revoked_thumbprints and dsc.thumbprint in revoked_thumbprints)
            or (revocations and revocations.revokes(dsc))
        ):
            append(StepOutcome(Step.REVOCATION, Status.FAILED, Reason.DSC_REVOKED, f"DSC {dsc.thumbprint}"))
        else:
            append(_OK_REVOCATION)

    result = Result(steps, valid=steps == _ALL_PASSED)
    result.kid = message.kid
    result.alg = message.alg
    result.dsc = dsc
    result.payload = dcc
    result.payload_type = payload_type
    if times is not None:
        result.issuer_country, result.issued_at, result.expires_at = times
    return result


def verify_qr_image(image: bytes, trust: DscLookup, at: dt.datetime, **options: Any) -> Result:
    """PICTUREDECODE, then ``verify_hc1`` on the text the QR code holds."""
    try:
        text = decode_qr_image(image)
    except QrError as exc:
        steps = [StepOutcome(Step.PICTUREDECODE, Status.FAILED, exc.reason, str(exc))]
        steps += [_skipped(step, Reason.NOT_REACHED) for step in _PIPELINE]
        return Result(steps)
    result = verify_hc1(text, trust, at, **options)
    steps = [_PASSED[Step.PICTUREDECODE], *result.steps]
    combined = Result(steps)
    for name in ("alg", "dsc", "expires_at", "issued_at", "issuer_country", "kid", "payload", "payload_type"):
        setattr(combined, name, getattr(result, name))
    return combined


# --- issuing (demos and tests) -----------------------------------------------------------------


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
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

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
        claims = {CLAIM_IAT: _numeric_date(iat), CLAIM_EXP: _numeric_date(exp), CLAIM_HCERT: {1: dict(payload)}}
        if issuer is not None:
            claims = {CLAIM_ISS: issuer, **claims}
    message = cose.sign(cbor2.dumps(dict(claims)), dsc_key, protected=protected, unprotected=unprotected, tags=tags)
    data = zlib.compress(message, 9) if compress else message
    return PREFIX + b45encode(data)
