"""The checks of an HC1 code once it is decoded: VERIFY (the signature, against the trusted DSCs
carrying its kid), EXPIRATIONCHECK (iat/exp against the clock, and the DSC validity policy),
KEYUSAGE (the DSC may sign the DCC's type) and REVOCATION (neither the DSC nor the DCC is
revoked). Each raises HcertError with its step's reasons; times are POSIX seconds, and nothing
reads the clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import IntFlag
from typing import Any

from verifier import cose
from verifier.encoding import format_posix
from verifier.reasons import HcertError, Reason
from verifier.revocation_hashes import code_hashes
from verifier.revoked_hashes import RevokedHashes
from verifier.trust import DscLookup, RevocationSet, TrustedDsc, kid_text
from verifier.usages import PAYLOAD_TYPE_USAGE


class DscValidity(IntFlag):
    """How the signing DSC's validity period constrains the certificate (docs/verifier-conformance.md).

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


def verify_signature(message: cose.CoseSign1, trust: DscLookup, revocations: RevocationSet | None = None) -> TrustedDsc:
    """Try every DSC that carries the kid; the first whose key verifies is the signer. A kid no
    trusted DSC carries but a revoked one did (``revocations``) is DSC_REVOKED, when and by whom."""
    kid = message.kid
    assert kid is not None  # cose.parse guarantees it
    candidates = trust.candidates(kid)
    if not candidates:
        revoked = revocations.revoked_entry(kid) if revocations is not None else None
        if revoked is not None:
            raise HcertError(
                Reason.DSC_REVOKED,
                f"the DSC with kid {kid_text(kid)} was revoked by {revoked.get('country', '?')}"
                f" at {revoked.get('revokedAt', '?')} ({revoked.get('reason') or 'no reason given'})",
            )
        raise HcertError(
            Reason.KID_UNKNOWN,
            f"no trusted DSC has kid {kid_text(kid)}: sync the trust list again; if it persists, the"
            " issuer's key is not in the trust list (not uploaded, or not by a gateway you trust)",
        )
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
        raise HcertError(Reason.KEY_ALG_MISMATCH, f"no DSC with kid {kid_text(kid)} has a key for {name}")
    if not well_formed:
        raise HcertError(Reason.SIGNATURE_MALFORMED, f"a {len(signature)}-byte signature does not fit {name}")
    raise HcertError(
        Reason.SIGNATURE_INVALID, f"the signature does not verify with {fitting} DSC(s) of kid {kid_text(kid)}"
    )


_AT_ISSUANCE = int(DscValidity.AT_ISSUANCE)
_AT_VERIFICATION = int(DscValidity.AT_VERIFICATION)
_EXP_WITHIN = int(DscValidity.EXP_WITHIN)


def check_time(
    issued_at: float | None, expires_at: float | None, now: float, dsc: TrustedDsc | None, policy: int
) -> str:
    """Raises HcertError on a failed time check; returns a note when the DSC part was skipped.
    ``policy``: a ``DscValidity``, as an int (cheaper to test on the hot path)."""
    if issued_at is None:
        raise HcertError(Reason.IAT_MISSING, "no iat claim")
    if expires_at is None:
        raise HcertError(Reason.EXP_MISSING, "no exp claim")
    if now < issued_at:
        raise HcertError(
            Reason.NOT_YET_VALID, f"issued at {format_posix(issued_at)}, after the clock {format_posix(now)}"
        )
    if now > expires_at:
        raise HcertError(Reason.EXPIRED, f"expired at {format_posix(expires_at)}, before the clock {format_posix(now)}")
    if not policy:
        return ""
    if dsc is None:
        return "DSC validity not checked: no DSC verified the signature"
    not_before, not_after = dsc.not_before, dsc.not_after
    if policy & _AT_ISSUANCE and not not_before <= issued_at <= not_after:
        raise HcertError(
            Reason.DSC_NOT_VALID_AT_ISSUANCE,
            f"issued at {format_posix(issued_at)}, outside the DSC's validity"
            f" {format_posix(not_before)} - {format_posix(not_after)}",
        )
    if policy & _AT_VERIFICATION:
        if now < not_before:
            raise HcertError(Reason.DSC_NOT_YET_VALID, f"the DSC is valid from {format_posix(not_before)}")
        if now > not_after:
            raise HcertError(Reason.DSC_EXPIRED, f"the DSC expired at {format_posix(not_after)}")
    if policy & _EXP_WITHIN and expires_at > not_after:
        raise HcertError(
            Reason.EXP_AFTER_DSC_EXPIRY, f"exp {format_posix(expires_at)} is after the DSC's {format_posix(not_after)}"
        )
    return ""


def check_issuer(issuer: str | None, dsc: TrustedDsc) -> str:
    """The CWT ``iss`` (hcert spec §3.3.1: the issuing country, ISO 3166-1 alpha-2) is the country
    of the DSC that signed: a country's key may not issue in another's name. Nothing to compare
    when either is absent (``iss`` is optional). Real issuers also write an authority's name
    there (Georgia's test data, docs/verifier.md): that is not refused, and the returned note
    says it could not be compared."""
    country = dsc.country
    if issuer == country or issuer is None or country is None:  # the common case first: the hot path
        return ""
    if not (len(issuer) == 2 and issuer.isascii() and issuer.isalpha()):
        return f"iss {issuer[:40]!r} is not a country code: not compared with the DSC's country {country}"
    if issuer.upper() != country.upper():
        raise HcertError(
            Reason.ISSUER_COUNTRY_MISMATCH,
            f"issued in the name of {issuer!r} with a DSC of {country} (kid {kid_text(dsc.kid)})",
        )
    return ""


def check_key_usage(dsc: TrustedDsc, payload_type: str) -> None:
    """The DSC's usages (the intersection rule, and the trust list's) allow the DCC's type."""
    usage = PAYLOAD_TYPE_USAGE[payload_type]
    if usage not in dsc.usages:
        raise HcertError(Reason.KEY_USAGE_MISMATCH, f"the DSC may sign {', '.join(sorted(dsc.usages))}, not {usage}")


def check_revocation(
    dsc: TrustedDsc,
    kid: bytes | None,
    revoked_kids: Collection[bytes],
    revoked_thumbprints: Collection[str],
    revocations: RevocationSet | None,
) -> None:
    """Raises DSC_REVOKED when the DSC is revoked: by its kid (``revoked_kids``), its thumbprint
    (``revoked_thumbprints``), or either in ``revocations``."""
    if (
        (revoked_kids and kid in revoked_kids)
        or (revoked_thumbprints and dsc.thumbprint in revoked_thumbprints)
        or (revocations and revocations.revokes(dsc))
    ):
        raise HcertError(Reason.DSC_REVOKED, f"DSC {dsc.thumbprint} (kid {kid_text(dsc.kid)}) is revoked")


def check_dcc_revocation(
    revoked: RevokedHashes,
    message: cose.CoseSign1,
    issuer: str | None,
    dcc: Mapping[str, Any] | None,
    payload_type: str | None,
) -> None:
    """Raises DCC_REVOKED when one of the code's revocation hashes is listed under its kid or
    UNKNOWN_KID. Run only once the signature verified: the hashes of a forged code name nothing.
    Without a readable DCC only the SIGNATURE hash is looked up (CLAIMS failed already)."""
    if not revoked.lists(message.kid):
        return
    match = revoked.match(message.kid, code_hashes(message.alg, message.signature, issuer, dcc, payload_type))
    if match is not None:
        raise HcertError(Reason.DCC_REVOKED, match.describe())
