"""Audit events in words, for people reading a certificate's history or the dashboard."""

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
