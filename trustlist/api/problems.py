"""Map named rejections to DGCG/TNG problem reports (the OpenAPI specifications of
eu-digital-green-certificates/dgc-gateway and WorldHealthOrganization/tng-gateway; docs/api.md)."""

from __future__ import annotations

from countries.identity import ClientIdentity
from gateway.pki.errors import CMS_SIGNATURE_REASONS, CMS_STRUCTURE_REASONS, Reason, Rejected
from gateway.problems import Problem, recorded

__all__ = ["recorded"]  # trustlist's views mark recorded problems through this module too

# dgc-lib's converter errors: 400 with code 0x402 (the same code as the auth failure); a CMS
# whose signature does not hold (or whose digest the policy refuses): 400 0x009.
CONVERTER = CMS_STRUCTURE_REASONS
SIGNATURE = CMS_SIGNATURE_REASONS
CONFLICT = {Reason.ALREADY_EXISTS, Reason.ALREADY_REVOKED}
TNG_REQUEST = {Reason.GROUP_NOT_ALLOWED, Reason.DOMAIN_NOT_ALLOWED, Reason.PROPERTY_NOT_ALLOWED, Reason.INVALID_KID}
CHECK_FAILED_TEXT = (
    "Possible reasons: Wrong Format, no CMS, not the correct signing alg missing attributes, invalid signature, "
    "certificate not signed by known CA"
)


def converter_problem(exc: Rejected) -> Problem:
    return Problem(400, "0x402", exc.detail, reason=exc.reason)


def upload_problem(exc: Rejected, identity: ClientIdentity) -> Problem:
    send_value = f"country:{identity.country}"
    if exc.reason in CONVERTER:
        return converter_problem(exc)
    if exc.reason in SIGNATURE:
        return Problem(400, "0x009", "Invalid CMS Signature", details=exc.detail, reason=exc.reason)
    if exc.reason in CONFLICT:
        return Problem(
            409,
            "0x002",
            "You cant upload an existing certificate.",
            send_value=send_value,
            details=exc.detail,
            reason=exc.reason,
        )
    return Problem(400, "0x004", CHECK_FAILED_TEXT, send_value=send_value, details=exc.detail, reason=exc.reason)


def revoke_problem(exc: Rejected, identity: ClientIdentity) -> Problem:
    send_value = f"country:{identity.country}"
    if exc.reason in CONVERTER:
        return converter_problem(exc)
    if exc.reason in SIGNATURE:
        return Problem(400, "0x009", "Invalid CMS Signature", details=exc.detail, reason=exc.reason)
    if exc.reason == Reason.NOT_FOUND:
        return Problem(
            404,
            "0x005",
            "The certificate doesn't exists in the database.",
            send_value=send_value,
            details=exc.detail,
            reason=exc.reason,
        )
    return Problem(400, "0x007", CHECK_FAILED_TEXT, send_value=send_value, details=exc.detail, reason=exc.reason)


def tng_upload_problem(exc: Rejected, identity: ClientIdentity) -> Problem:
    if exc.reason in CONVERTER:
        return Problem(400, "n/a", "Invalid CMS", details=exc.detail, reason=exc.reason)
    if exc.reason in SIGNATURE:
        return Problem(400, "n/a", "Invalid CMS Signature", details=exc.detail, reason=exc.reason)
    if exc.reason in TNG_REQUEST:
        return Problem(400, "n/a", "Upload of Signer Certificate failed", details=exc.detail, reason=exc.reason)
    return upload_problem(exc, identity)
