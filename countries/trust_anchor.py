"""The integrity check of onboarded rows against the configured trust anchors."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509

from countries.models import TrustedParty
from gateway.pki import onboarding
from gateway.pki.certs import certificate_view
from gateway.signing.anchors import configured_trust_anchors


def is_intact(party: TrustedParty) -> bool:
    """Re-verify thumbprint and trust-anchor signature of a row (memoised on its bytes)."""
    return onboarding.is_onboarding_valid(
        bytes(party.raw_data), party.signature, party.thumbprint, configured_trust_anchors()
    )


def verified(parties: Iterable[TrustedParty]) -> list[TrustedParty]:
    """Keep only rows whose integrity holds; an edited row silently drops out (as in DGCG)."""
    return [party for party in parties if is_intact(party)]


def certificate_of(party: TrustedParty) -> x509.Certificate:
    return certificate_view(bytes(party.raw_data))
