"""Which peer gateways the entries imported from them may be trusted on, for the trust list.

A row imported from a peer (``source_gateway`` set) is trusted on that peer's signed word only
while the peer is configured here and its statement still carries this gateway's trust anchor's
signature (docs/federation.md). Federation knows its peers and sits above the trust list, which may
not import it; so the question is asked here, below both, and answered by federation, which
registers its query in its ``AppConfig.ready()`` (as ``signer_kids`` is answered by the trust
list). Without a registered query no peer is trusted: a deployment without federation trusts no
imported row.
"""

from __future__ import annotations

from collections.abc import Callable

SourcesQuery = Callable[[], frozenset[str]]  # the gateway ids of the peers trusted now

_query: SourcesQuery | None = None


def register_trusted_sources_query(query: SourcesQuery) -> None:
    global _query
    _query = query


def trusted_sources() -> frozenset[str]:
    """The ids of the peer gateways whose imported rows count now."""
    return _query() if _query is not None else frozenset()
