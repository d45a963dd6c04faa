"""Named refusals of the rules API as DGCG's problem reports (its ValidationRuleController and
ValuesetController; docs/api.md, "Business rules")."""

from __future__ import annotations

from gateway.pki.errors import Reason, Rejected
from gateway.problems import Problem

# DGCG: 400 0x200 invalid JSON, 403 0x210 country, 400 0x220 version, 400 0x230 upload certificate,
# 400 0x240 timestamps, 400 0x250 rule id, 400 0x260 CMS, 404 0x270 not found.
_CODES: dict[Reason, tuple[int, str, str]] = {
    Reason.RULE_NOT_JSON: (400, "0x200", "Invalid JSON"),
    Reason.RULE_SCHEMA: (400, "0x200", "Invalid JSON"),
    Reason.RULE_TOO_COMPLEX: (400, "0x200", "Invalid JSON"),
    Reason.RULE_ENGINE: (400, "0x200", "Invalid JSON"),
    Reason.RULE_LOGIC_INVALID: (400, "0x200", "Invalid JSON"),
    Reason.RULE_AFFECTED_FIELDS: (400, "0x200", "Invalid JSON"),
    Reason.RULE_COUNTRY: (403, "0x210", "Invalid Country sent"),
    Reason.RULE_ID_COUNTRY: (403, "0x210", "Invalid Country sent"),
    Reason.RULE_VERSION: (400, "0x220", "Invalid Version"),
    Reason.UPLOAD_CERT_UNKNOWN: (400, "0x230", "Invalid Upload Cert"),
    Reason.UPLOAD_CERT_EXPIRED: (400, "0x230", "Invalid Upload Cert"),
    Reason.UPLOAD_CERT_NOT_YET_VALID: (400, "0x230", "Invalid Upload Cert"),
    Reason.RULE_VALIDITY_ORDER: (400, "0x240", "Invalid Timestamp(s)"),
    Reason.RULE_STARTS_TOO_LATE: (400, "0x240", "Invalid Timestamp(s)"),
    Reason.RULE_STARTS_TOO_SOON: (400, "0x240", "Invalid Timestamp(s)"),
    Reason.RULE_VALIDITY_TOO_SHORT: (400, "0x240", "Invalid Timestamp(s)"),
    Reason.RULE_STARTS_BEFORE_PREVIOUS: (400, "0x240", "Invalid Timestamp(s)"),
    Reason.RULE_ID_TYPE_MISMATCH: (400, "0x250", "Invalid RuleID"),
    Reason.RULE_ID_INVALIDATION: (400, "0x250", "Invalid RuleID"),
    Reason.RULE_ID_INVALID: (400, "0x250", "Invalid RuleID"),
    Reason.RULE_NOT_FOUND: (404, "0x270", "Validation Rule does not exist"),
}


def rule_problem(exc: Rejected, country: str) -> Problem:
    """Everything else a CMS can fail by (base64, structure, signature) is DGCG's 0x260."""
    status, code, problem = _CODES.get(exc.reason, (400, "0x260", "Invalid CMS"))
    return Problem(status, code, problem, send_value=f"country:{country}", details=exc.detail, reason=exc.reason)
