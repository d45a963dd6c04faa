"""Audit events in words, for people reading a history, the dashboard or the audit log."""

from __future__ import annotations

_EVENT_WORDS = {
    ("UPLOAD", "SUCCESS"): "Uploaded",
    ("UPLOAD", "REJECTED"): "Upload refused",
    ("REVOKE", "SUCCESS"): "Revoked",
    ("REVOKE", "UNCHANGED"): "Revoked again (no change)",
    ("REVOKE", "REJECTED"): "Revocation refused",
    ("ONBOARD", "SUCCESS"): "Onboarded",
    ("ONBOARD", "REJECTED"): "Onboarding refused",
    ("SUSPEND", "SUCCESS"): "Suspended",
    ("REACTIVATE", "SUCCESS"): "Reactivated",
    ("REMOVE", "SUCCESS"): "Removed",
    ("GRANT_ROLE", "SUCCESS"): "Role granted",
    ("GRANT_ROLE", "REJECTED"): "Role grant refused",
    ("REVOKE_ROLE", "SUCCESS"): "Role withdrawn",
    ("AUTHENTICATE", "REJECTED"): "Authentication refused",
    ("REQUEST", "REJECTED"): "Request refused",
    ("PUBLISH", "SUCCESS"): "Published",
    ("PUBLISHER_KEY", "SUCCESS"): "Publisher key changed state",
    ("AUDIT_FINDING", "REJECTED"): "Signature audit finding",
    ("ADMIN", "SUCCESS"): "Membership changed",
    ("RULE_UPLOAD", "SUCCESS"): "Rule uploaded",
    ("RULE_UPLOAD", "REJECTED"): "Rule upload refused",
    ("RULE_DELETE", "SUCCESS"): "Rule deleted (every version)",
    ("RULE_DELETE", "REJECTED"): "Rule deletion refused",
    ("VALUESET_IMPORT", "SUCCESS"): "Value sets imported",
    ("VALUESET_IMPORT", "REJECTED"): "Value-set import refused",
    ("REVOCATION_BATCH_UPLOAD", "SUCCESS"): "Revocation batch uploaded",
    ("REVOCATION_BATCH_UPLOAD", "REJECTED"): "Revocation batch upload refused",
    ("REVOCATION_BATCH_DELETE", "SUCCESS"): "Revocation batch deleted",
    ("REVOCATION_BATCH_DELETE", "REJECTED"): "Revocation batch deletion refused",
    ("REVOCATION_BATCH_EXPIRED", "SUCCESS"): "Revocation batch expired (marked deleted)",
    ("REVOCATION_BATCH_PURGE", "SUCCESS"): "Deleted revocation batches removed",
    ("PEER_ADD", "SUCCESS"): "Peer gateway added",
    ("PEER_ADD", "REJECTED"): "Peer gateway refused",
    ("PEER_CHANGE", "SUCCESS"): "Peer gateway changed or removed",
    ("FEDERATION_SYNC", "SUCCESS"): "Peer gateway synced",
    ("FEDERATION_SYNC", "REJECTED"): "Peer gateway's sync refused",
    ("ISSUER_ADD", "SUCCESS"): "Trusted issuer added",
    ("ISSUER_ADD", "REJECTED"): "Trusted issuer refused",
    ("ISSUER_SUSPEND", "SUCCESS"): "Trusted issuer suspended",
    ("ISSUER_SUSPEND", "REJECTED"): "Trusted issuer's suspension refused",
    ("ISSUER_REACTIVATE", "SUCCESS"): "Trusted issuer reactivated",
    ("ISSUER_REACTIVATE", "REJECTED"): "Trusted issuer's reactivation refused",
    ("ISSUER_REMOVE", "SUCCESS"): "Trusted issuer removed",
    ("ISSUER_REMOVE", "REJECTED"): "Trusted issuer's removal refused",
    ("CMS_MIGRATION", "SUCCESS"): "Re-signed (CMS migration)",
    ("CMS_MIGRATION", "UNCHANGED"): "Re-signed again (no change)",
    ("CMS_MIGRATION", "REJECTED"): "Re-signing refused",
    ("REFERENCE_UPLOAD", "SUCCESS"): "Trusted reference uploaded",
    ("REFERENCE_UPLOAD", "REJECTED"): "Trusted reference upload refused",
    ("REFERENCE_UPDATE", "SUCCESS"): "Trusted reference updated",
    ("REFERENCE_UPDATE", "REJECTED"): "Trusted reference update refused",
    ("REFERENCE_DELETE", "SUCCESS"): "Trusted reference deleted",
    ("REFERENCE_DELETE", "REJECTED"): "Trusted reference deletion refused",
}


def event_in_words(action: str, outcome: str) -> str:
    """ "Uploaded", "Upload refused", ...; an action without words reads as its name."""
    return _EVENT_WORDS.get((action, outcome), f"{action} {outcome}".capitalize())


def actor_in_words(actor: str | None) -> str:
    """Who acted, from an event's actor: "alice" for a person in the admin, "the country's
    backend (API)" for a change over mutual TLS (the API records no person), else the command;
    "unknown" where no event names one (None: a row without its event)."""
    if actor is None:
        return "unknown"
    if actor.startswith("admin:"):
        return actor.removeprefix("admin:")
    return actor or "the country's backend (API)"
