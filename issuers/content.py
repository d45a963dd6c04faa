"""Trusted issuers as publication content: the named artifact ``issuers`` (publication.providers),
read again when an outbox change of its kind is published.

It holds every issuer added here that is active and whose trust-anchor signature verifies now,
with that signature and the string it is over (``signed``, in the form ``signedForm`` names), so
that anyone holding the trust anchor certificate can check each entry on its own
(docs/issuers.md). Issuers imported from peers are not published: they are trusted on a peer's
word, not on this gateway's trust anchor's.
"""

from __future__ import annotations

from typing import Any

from issuers import listing
from issuers.services import ISSUER_CHANGE


class IssuersContent:
    name = "issuers"
    change_kinds = frozenset({ISSUER_CHANGE})

    def full(self) -> dict[str, list[dict[str, Any]]]:
        return {"issuers": [listing.published_entry(issuer) for issuer in listing.served(with_federation=False)]}
