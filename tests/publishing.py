"""Fixtures for publication tests: a publisher key certified by the test trust anchor."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from django.conf import settings

from gateway.pki import issuance
from gateway.pki.certs import certificate_der
from gateway.signing.models import PublisherKey
from publication import keys
from tests.factory import NOW, Pki
from verifier.certificates import load_anchor
from verifier.chain import apply_delta


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


def served_trust_list(root: Path, trust_anchors: list[x509.Certificate], now: dt.datetime) -> dict[str, dict]:
    """What a verifier holds after syncing from the folder: the full trust list the index names
    (of sequence F), then every delta from F to the index, each verified and checked to follow."""
    from verifier.artifacts import verify_artifact
    from verifier.chain import walk_chain
    from verifier.folder import folder_loader
    from verifier.index import verify_index

    index = verify_index((root / "index.jws").read_bytes(), trust_anchors, now)
    trust = verify_artifact(
        (root / index.trust_list.path).read_bytes(),
        index.trust_list,
        trust_anchors,
        now,
        kind="trust-list",
        sequence=index.full_sequence,
        allowed_kids=index.announced_kids,
    )
    state = {entry["thumbprint"]: entry for entry in trust["entries"]}
    position = index.full_sequence
    chain = walk_chain(index, position, folder_loader(root, index, trust_anchors, now), check_link=False)
    for descriptor, delta in chain:
        assert delta["previous"] == position, "the delta chain has a gap"
        apply_delta(state, delta)
        position = descriptor.sequence
    return state
