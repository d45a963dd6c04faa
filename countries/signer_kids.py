"""Which DSC kids a country has, for the content rooms that may not import the trust list.

A revocation batch names the kid of the DSC whose certificates it revokes; the DSCs are the trust
list's (``trustlist.models.SignerCertificate``), a room on the same floor as ``revocation``, and
two rooms on one floor do not import each other (docs/architecture.md). So the question is asked
here, one floor down, and answered by the trust list, which registers its query in its
``AppConfig.ready()``: the same inversion as ``publication.providers``. Without a registered query
no kid is known (a deployment without the trust list has no DSCs).
"""

from __future__ import annotations

from collections.abc import Callable

KidQuery = Callable[[str, str], bool]  # (country, kid) -> whether the country has a DSC of that kid

_query: KidQuery | None = None


def register_dsc_kid_query(query: KidQuery) -> None:
    global _query
    _query = query


def is_dsc_kid(country: str, kid: str) -> bool:
    """Whether ``country`` uploaded a DSC whose kid is ``kid`` (revoked or not)."""
    return _query is not None and _query(country, kid)
