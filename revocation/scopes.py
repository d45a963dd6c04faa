"""The name of a group of revoked hashes (one country's, under one kid) in the outbox's
``Change.scope`` and in the published manifest: the country, a space, the kid as uploaded (base64,
which may hold a "/", or UNKNOWN_KID)."""

from __future__ import annotations


def scope_of(country: str, kid: str) -> str:
    return f"{country} {kid}"
