"""Which issuers are served, and their entries: one rule for the API (``GET /trustList/issuers``)
and the publication (``issuers.content``).

Served: an issuer added here, active, whose trust-anchor signature verifies now against the
configured trust anchors (re-checked at every use, memoised on the exact bytes:
``issuers.signatures``); with ``with_federation``, also an issuer imported from a peer gateway
that is trusted now (``countries.peer_sources``: configured and signed by the trust anchor), on
that peer's signed word, as a federated DSC is (docs/federation.md). Anything else, a suspended
issuer or one whose signature does not verify, is left out silently, as DGCG and TNG do (the
signature audit reports the latter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from countries import peer_sources
from gateway.signing.anchors import configured_trust_anchors
from issuers import signatures
from issuers.models import TrustedIssuer
from verifier.encoding import format_time  # DGCG's yyyy-MM-dd'T'HH:mm:ssXXX in UTC: the same form

ORDER = ("country", "url", "url_type", "source_gateway")


def served(
    *, countries: Sequence[str] = (), domains: Sequence[str] = (), with_federation: bool = False
) -> list[TrustedIssuer]:
    rows = TrustedIssuer.objects.active()
    if with_federation:
        rows = rows.filter(Q(source_gateway="") | Q(source_gateway__in=sorted(peer_sources.trusted_sources())))
    else:
        rows = rows.local()
    if countries:
        rows = rows.filter(country__in=sorted(set(countries)))
    if domains:
        rows = rows.filter(domain__in=sorted(set(domains)))
    anchors = configured_trust_anchors()
    return [row for row in rows.order_by(*ORDER) if row.source_gateway or signatures.is_intact(row, anchors)]


def api_entry(issuer: TrustedIssuer) -> dict[str, Any]:
    """DGCG's and TNG's TrustedIssuerDto; ``sourceGateway`` only on an imported issuer (TNG)."""
    entry: dict[str, Any] = {
        "url": issuer.url,
        "type": issuer.url_type,
        "country": issuer.country,
        "thumbprint": issuer.thumbprint or None,
        "sslPublicKey": issuer.ssl_public_key or None,
        "keyStorageType": issuer.key_storage_type or None,
        "signature": issuer.signature,
        "timestamp": format_time(issuer.created_at),
        "name": issuer.name,
        "uuid": str(issuer.uuid),
        "domain": issuer.domain,
    }
    if issuer.source_gateway:
        entry["sourceGateway"] = issuer.source_gateway
    return entry


def published_entry(issuer: TrustedIssuer) -> dict[str, Any]:
    """The API's entry, with the form of the string the signature is over and that string."""
    return {
        **api_entry(issuer),
        "signedForm": issuer.signed_form,
        "signed": signatures.signed_string_of(issuer).decode("utf-8"),
    }
