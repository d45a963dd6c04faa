"""The configured trust anchor certificates and the integrity check of onboarded rows."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from countries.models import TrustedParty
from gateway.pki import onboarding
from gateway.pki.certs import certificate_der, load_der_certificate, load_pem_certificate


def configured_trust_anchors() -> tuple[bytes, ...]:
    """DER of every trust anchor certificate named by GATEWAY_TRUST_ANCHOR_FILES."""
    return _load(tuple(settings.GATEWAY_TRUST_ANCHOR_FILES))


@functools.lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[bytes, ...]:
    anchors = []
    for path in paths:
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise ImproperlyConfigured(f"cannot read trust anchor {path}: {exc}") from exc
        anchors.append(certificate_der(load_pem_certificate(pem)))
    return tuple(anchors)


def is_intact(party: TrustedParty) -> bool:
    """Re-verify thumbprint and trust-anchor signature of a row (memoised on its bytes)."""
    return onboarding.is_onboarding_valid(
        bytes(party.raw_data), party.signature, party.thumbprint, configured_trust_anchors()
    )


def verified(parties: Iterable[TrustedParty]) -> list[TrustedParty]:
    """Keep only rows whose integrity holds; an edited row silently drops out (as in DGCG)."""
    return [party for party in parties if is_intact(party)]


def certificate_of(party: TrustedParty) -> x509.Certificate:
    return load_der_certificate(bytes(party.raw_data))
