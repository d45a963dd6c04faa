"""Verify an EU Digital COVID Certificate (HCERT/DCC) QR payload offline, against trusted DSCs.

``verify_hc1`` runs the steps of docs/verifier-conformance.md, in order, and records one outcome per step
(``Step``), each with a named ``Reason``:

UNPREFIX -> B45DECODE -> COMPRESSION -> COSE -> VERIFY -> CLAIMS -> EXPIRATIONCHECK -> KEYUSAGE
-> REVOCATION (the DSC, then the DCC's own hashes when a store of revoked hashes is given)

A decoding step that fails ends the run (the later steps are SKIPPED, NOT_REACHED). Once the
COSE structure is parsed, the signature is checked before the payload is read as a DCC (hcert
spec §6.3); a signature that does not verify makes the result invalid, but the time checks still
run on the unverified claims so that a caller can say *why* a certificate is bad. Checks that
need the signing DSC (KEYUSAGE, REVOCATION, the DSC validity policy) are skipped when no DSC
verified. The result is valid only if every step passed.

The decoding steps are in ``verifier.decode`` (and ``verifier.cose``), the checks in
``verifier.checks``; this module runs them in order and keeps their outcomes (``Result``).
Nothing here reads the clock: the verification time is an argument. Nothing here imports the
gateway or Django.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, NamedTuple

from verifier import cose
from verifier.checks import (
    DscValidity,
    check_dcc_revocation,
    check_issuer,
    check_key_usage,
    check_revocation,
    check_time,
    verify_signature,
)
from verifier.decode import (
    MAX_INFLATED_BYTES,
    base45_decode,
    claims_map,
    dcc_of,
    inflate,
    json_safe,
    time_claims,
    unprefix,
)
from verifier.encoding import format_posix
from verifier.qr import QrError, decode_qr_image
from verifier.reasons import HcertError, Reason, Status, Step
from verifier.revoked_hashes import RevokedHashes
from verifier.trust import DscLookup, RevocationSet, TrustedDsc, kid_text, posix

if TYPE_CHECKING:
    from verifier.rule_check import RulesResult


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
        "rules",
        "steps",
        "trust_source",
        "valid",
        "warnings",
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
        self.trust_source = ""  # where the trusted DSCs come from (TrustStore.description)
        self.warnings: tuple[str, ...] = ()  # e.g. a stale trust list the caller allowed
        self.rules: RulesResult | None = None  # the business rules, when a country of arrival was asked (RULES step)

    def __repr__(self) -> str:
        return f"Result(valid={self.valid}, reason={self.reason}, kid={kid_text(self.kid) if self.kid else None})"

    def with_steps(self, steps: list[StepOutcome]) -> Result:
        """The same result with other steps: valid again only if each of them passed."""
        other = Result(steps)
        for name in Result.__slots__:
            if name not in ("steps", "valid"):
                setattr(other, name, getattr(self, name))
        return other

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

    def to_dict(self, *, show_unverified: bool = False) -> dict[str, Any]:
        """JSON-ready summary (kid in base64, times as ISO 8601 UTC). The holder's data is
        ``payload`` only when the code is valid; of an invalid code it is left out, or with
        ``show_unverified`` given as ``unverifiedPayload``, so no reader takes it for verified."""
        payload = json_safe(self.payload) if self.payload is not None else None
        summary = {
            "valid": self.valid,
            "reason": self.reason.value,
            "kid": None if self.kid is None else base64.b64encode(self.kid).decode("ascii"),
            "alg": cose.ALGORITHMS.get(self.alg) if self.alg is not None else None,
            "issuer": self.issuer_country,
            "dscCountry": self.dsc_country,
            "dscThumbprint": None if self.dsc is None else self.dsc.thumbprint,
            "payloadType": self.payload_type,
            "issuedAt": format_posix(self.issued_at),
            "expiresAt": format_posix(self.expires_at),
            "steps": [outcome.to_dict() for outcome in self.steps],
            "trustSource": self.trust_source,
            "warnings": list(self.warnings),
            "payload": payload if self.valid else None,
        }
        if self.rules is not None:
            summary["rules"] = self.rules.to_dict()
        if show_unverified and not self.valid:
            summary["unverifiedPayload"] = payload
        return summary


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
    revoked_hashes: RevokedHashes | None = None,
    dsc_validity: DscValidity = DscValidity.DEFAULT,
    max_inflated: int = MAX_INFLATED_BYTES,
    allow_stale: bool = False,
) -> Result:
    """Verify an ``HC1:`` text at the time ``at`` (timezone-aware) against ``trust`` (a
    ``TrustStore``, or anything with its ``candidates(kid)``). Never raises on bad input: every
    failure is a step outcome with a named reason. Line breaks around the text are ignored.

    A DSC is revoked if its thumbprint (hex SHA-256 of the DER) is in ``revoked_thumbprints`` or
    ``revocations.thumbprints``, or if the certificate's kid is in ``revoked_kids`` or
    ``revocations.kids``. A DCC is revoked if one of its revocation hashes (UCI, COUNTRYCODEUCI,
    SIGNATURE) is in ``revoked_hashes`` under its kid or UNKNOWN_KID (DCC_REVOKED); without
    ``revoked_hashes`` no DCC is looked up. ``dsc_validity`` chooses how the signing DSC's validity period limits
    the certificate (see ``DscValidity``); ``max_inflated`` caps the decompressed size.

    A trust store with an ``expires_at`` (a synced state, a saved trust list) before ``at`` fails
    VERIFY with TRUST_LIST_EXPIRED: a verifier whose syncs fail must not go on trusting old lists
    silently. ``allow_stale`` verifies all the same and adds a warning to the result.
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
    warnings: tuple[str, ...] = ()
    trusted_until = getattr(trust, "expires_at", None)
    stale = trusted_until is not None and now > trusted_until
    if stale and not allow_stale:
        append(_failed(Step.VERIFY, HcertError(Reason.TRUST_LIST_EXPIRED, _stale_note(trusted_until, now))))
    else:
        if stale:
            warnings = (f"verified against a stale trust list: {_stale_note(trusted_until, now)}",)
        try:
            dsc = verify_signature(message, trust, revocations)
            append(_OK_VERIFY)
        except HcertError as exc:
            append(_failed(Step.VERIFY, exc))

    times: tuple[str | None, float | None, float | None] | None = None
    dcc: dict[str, Any] | None = None
    payload_type: str | None = None
    try:
        claims = claims_map(message.payload)
        times = time_claims(claims)
        dcc, payload_type = dcc_of(claims)
        note = check_issuer(times[0], dsc) if dsc is not None else ""
        append(_OK_CLAIMS if not note else _OK_CLAIMS._replace(detail=note))
    except HcertError as exc:
        append(_failed(Step.CLAIMS, exc))

    if times is None:
        append(_skipped(Step.EXPIRATIONCHECK, Reason.NOT_REACHED, "no readable claims"))
    else:
        try:
            note = check_time(times[1], times[2], now, dsc, int(dsc_validity))
            append(_OK_EXPIRATIONCHECK if not note else _OK_EXPIRATIONCHECK._replace(detail=note))
        except HcertError as exc:
            append(_failed(Step.EXPIRATIONCHECK, exc))

    if dsc is None:
        append(_skipped(Step.KEYUSAGE, Reason.NO_VERIFIED_DSC))
        append(_skipped(Step.REVOCATION, Reason.NO_VERIFIED_DSC))
    else:
        if payload_type is None:
            append(_skipped(Step.KEYUSAGE, Reason.NOT_REACHED, "the certificate type is unknown"))
        else:
            try:
                check_key_usage(dsc, payload_type)
                append(_OK_KEYUSAGE)
            except HcertError as exc:
                append(_failed(Step.KEYUSAGE, exc))
        try:
            check_revocation(dsc, message.kid, revoked_kids, revoked_thumbprints, revocations)
            if revoked_hashes is not None:
                issuer = times[0] if times is not None else None
                check_dcc_revocation(revoked_hashes, message, issuer, dcc, payload_type)
            append(_OK_REVOCATION)
        except HcertError as exc:
            append(_failed(Step.REVOCATION, exc))

    result = Result(steps, valid=True if steps == _ALL_PASSED else None)
    result.kid = message.kid
    result.alg = message.alg
    result.dsc = dsc
    result.warnings = warnings
    result.trust_source = getattr(trust, "description", "")
    result.payload = dcc
    result.payload_type = payload_type
    if times is not None:
        result.issuer_country, result.issued_at, result.expires_at = times
    return result


def _stale_note(expires_at: float, now: float) -> str:
    age = dt.timedelta(seconds=int(now - expires_at))
    return f"the trust list expired at {format_posix(expires_at)}, {age} ago: sync again"


def verify_qr_image(image: bytes, trust: DscLookup, at: dt.datetime, **options: Any) -> Result:
    """PICTUREDECODE, then ``verify_hc1`` on the text the QR code holds."""
    try:
        text = decode_qr_image(image)
    except QrError as exc:
        steps = [StepOutcome(Step.PICTUREDECODE, Status.FAILED, exc.reason, str(exc))]
        steps += [_skipped(step, Reason.NOT_REACHED) for step in _PIPELINE]
        return Result(steps)
    result = verify_hc1(text, trust, at, **options)
    return result.with_steps([_PASSED[Step.PICTUREDECODE], *result.steps])
