"""Named refusals of the trusted-reference API as TNG's problem reports (its
TrustedReferenceController: every refusal of the service is code 0x000; a CMS whose signature
does not hold is 0x260, one that cannot be read dgc-lib's converter's 0x402; docs/api.md)."""

from __future__ import annotations

from gateway.pki.errors import CMS_STRUCTURE_REASONS, Reason, Rejected
from gateway.problems import Problem

CODE = "0x000"
NOT_FOUND_ON_READ = "Requested Entity could not be found"
_INVALID_JSON = (400, CODE, "JSON Could not be parsed")
_INVALID_VALUES = (400, CODE, "Uploaded data has invalid values.")
_INVALID_COUNTRY = (403, CODE, "Invalid Country sent")
_INVALID_SIGNER = (403, CODE, "Invalid Upload Certificate")
_CODES: dict[Reason, tuple[int, str, str]] = {
    Reason.REFERENCE_NOT_JSON: _INVALID_JSON,
    Reason.REFERENCE_SCHEMA: _INVALID_VALUES,
    Reason.REFERENCE_FIELD_LENGTH: _INVALID_VALUES,
    Reason.REFERENCE_FIELD_CHARACTERS: _INVALID_VALUES,
    Reason.REFERENCE_URL_INVALID: _INVALID_VALUES,
    Reason.REFERENCE_THUMBPRINT_INVALID: _INVALID_VALUES,
    Reason.REFERENCE_DOMAIN_INVALID: _INVALID_VALUES,
    Reason.REFERENCE_UUID_INVALID: _INVALID_VALUES,
    Reason.REFERENCE_COUNTRY: _INVALID_COUNTRY,
    Reason.REFERENCE_OTHER_COUNTRY: _INVALID_COUNTRY,
    Reason.REFERENCE_NOT_FOUND: (404, CODE, "Trusted Reference does not exists."),
    # TNG answers a signer that is not one of the country's UPLOAD certificates with 403.
    Reason.UPLOAD_CERT_UNKNOWN: _INVALID_SIGNER,
    Reason.UPLOAD_CERT_EXPIRED: _INVALID_SIGNER,
    Reason.UPLOAD_CERT_NOT_YET_VALID: _INVALID_SIGNER,
}


def reference_problem(exc: Rejected, country: str) -> Problem:
    """A CMS that cannot be read is the converter's 0x402 (its own text); every other failure of
    the CMS (its signature, its attributes) is TNG's 0x260 "CMS signature is invalid"."""
    if exc.reason in CMS_STRUCTURE_REASONS:
        return Problem(400, "0x402", exc.detail, reason=exc.reason)
    status, code, problem = _CODES.get(exc.reason, (400, "0x260", "CMS signature is invalid"))
    return Problem(status, code, problem, details=exc.detail, reason=exc.reason)


def not_found_problem(reference_uuid: str) -> Problem:
    """GET /trust/reference/{uuid} of no reference: TNG's 400 (its OpenAPI says 404; its clients
    see 400), kept so that backends built against TNG read it as they do there."""
    return Problem(400, CODE, NOT_FOUND_ON_READ, details=reference_uuid, reason=Reason.REFERENCE_NOT_FOUND)
