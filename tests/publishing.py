"""Fixtures for publication tests: a publisher key certified by the test trust anchor."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from django.conf import settings

from gateway.pki import issuance
from gateway.pki.certs import certificate_der
from tests.factory import NOW, Pki
from trustlist.models import PublisherKey
from trustlist.publication import keys
from verifier.publication import load_anchor


def install_publisher(pki: Pki, label: str = "p1", at: dt.datetime = NOW) -> PublisherKey:
    pending = keys.create_csr(label=label, at=at)
    csr = x509.load_pem_x509_csr(pending.csr_pem.encode())
    certificate = issuance.certify_csr(csr, ca=pki.ta, at=at, days=365)
    return keys.install_certificate(
        label=label, certificate_der_bytes=certificate_der(certificate), at=at, actor="test"
    )


def publish_root() -> Path:
    return Path(settings.GATEWAY_PUBLISH_DIR)


def anchors(pki: Pki) -> list[x509.Certificate]:
    return [load_anchor(pki.ta.cert_pem)]
