"""The peers whose imported entries count now: configured, and signed by a configured trust anchor
(re-verified at every use, memoised on the exact bytes: ``federation.statements``)."""

from __future__ import annotations

from federation import statements
from federation.models import Peer
from gateway.signing.anchors import configured_trust_anchors


def trusted_peer_ids() -> frozenset[str]:
    anchors = configured_trust_anchors()
    return frozenset(peer.gateway_id for peer in Peer.objects.all() if statements.is_intact(peer, anchors))
