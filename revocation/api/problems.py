"""Named refusals of the revocation API as DGCG's problem reports (its RevocationListController:
every error is code 0x000, except 0x260 for a CMS that is not valid; docs/revocation.md)."""

from __future__ import annotations

from gateway.pki.errors import Reason, Rejected
from gateway.problems import Problem

CODE = "0x000"
_INVALID_JSON = (400, CODE, "Invalid JSON")
_INVALID_VALUES = (400, CODE, "Invalid JSON values")
_INVALID_SIGNER = (403, CODE, "Invalid Upload Certificate")
_CODES: dict[Reason, tuple[int, str, str]] = {
    Reason.REVOCATION_NOT_JSON: _INVALID_JSON,
    Reason.REVOCATION_SCHEMA: _INVALID_JSON,
    Reason.REVOCATION_ENTRY_COUNT: _INVALID_VALUES,
    Reason.REVOCATION_HASH_INVALID: _INVALID_VALUES,
    Reason.REVOCATION_HASH_DUPLICATE: _INVALID_VALUES,
    Reason.REVOCATION_HASH_TYPE: _INVALID_VALUES,
    Reason.REVOCATION_KID_UNKNOWN: _INVALID_VALUES,
    Reason.REVOCATION_BATCH_ID_INVALID: _INVALID_VALUES,
    Reason.REVOCATION_EXPIRED: (400, CODE, "Invalid Dates"),
    Reason.REVOCATION_COUNTRY: (403, CODE, "Invalid Country"),
    Reason.REVOCATION_BATCH_COUNTRY: (403, CODE, "Invalid Country"),
    # DGCG answers a signer that is not the country's UPLOAD certificate with 403.
    Reason.UPLOAD_CERT_UNKNOWN: _INVALID_SIGNER,
    Reason.UPLOAD_CERT_EXPIRED: _INVALID_SIGNER,
    Reason.UPLOAD_CERT_NOT_YET_VALID: _INVALID_SIGNER,
    Reason.REVOCATION_BATCH_NOT_FOUND: (404, CODE, "Batch does not exist."),
    Reason.REVOCATION_BATCH_DELETED: (410, CODE, "Batch already deleted."),
}


def revocation_problem(exc: Rejected, country: str) -> Problem:
    """Everything else a CMS can fail by (base64, structure, signature) is DGCG's 0x260."""
    status, code, problem = _CODES.get(exc.reason, (400, "0x260", "Invalid CMS"))
    return Problem(status, code, problem, send_value=f"country:{country}", details=exc.detail, reason=exc.reason)


def request_problem(status: int, problem: str, reason: Reason, details: str) -> Problem:
    """A refusal of the request itself (a header, a path), in the revocation API's code."""
    return Problem(status, CODE, problem, details=details, reason=reason)
