"""The trust anchor certificates named by the configuration (GATEWAY_TRUST_ANCHOR_FILES)."""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from gateway.pki.certs import certificate_der, load_der_certificate, load_pem_certificate
from verifier.certificates import issued_by


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


def trust_anchor_of(certificate: x509.Certificate) -> bytes | None:
    """The DER of the configured trust anchor that signed ``certificate``, or None."""
    for anchor in configured_trust_anchors():
        if issued_by(certificate, load_der_certificate(anchor)):
            return anchor
    return None
