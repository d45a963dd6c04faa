"""What this gateway's trust anchor signs to configure a peer, and the check of that signature.

TNG stores a peer (``federation_gateway``) with a trust-anchor signature over its fields; a peer
whose signature does not verify is never used. Here the signed bytes are one canonical JSON
statement naming the peer's id, kind, endpoint and the SHA-256 of its pinned trust anchor, so the
signature covers exactly what decides whom this gateway trusts, and the operator's offline
ceremony (``manage.py ta_sign_peer``) signs the same bytes the check verifies. The interval is
not signed: it decides when, not whom.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from typing import Protocol

from cryptography import x509

from gateway.pki import cms
from gateway.pki.certs import certificate_der, load_pem_certificate
from gateway.pki.errors import Reason, Rejected
from verifier.encoding import canonical_json

STATEMENT_TYPE = "federation-peer"


class PeerFields(Protocol):
    gateway_id: str
    kind: str
    endpoint: str
    trust_anchor: str
    signature: str


def trust_anchor_der(pem: str) -> bytes:
    """The peer's trust anchor certificate (one PEM certificate), as DER."""
    try:
        return certificate_der(load_pem_certificate(pem.encode("ascii")))
    except (ValueError, UnicodeEncodeError, Rejected) as exc:
        raise Rejected(Reason.PEER_TRUST_ANCHOR_INVALID, f"not one PEM certificate ({exc})") from None


def trust_anchor_certificate(peer: PeerFields) -> x509.Certificate:
    return x509.load_der_x509_certificate(trust_anchor_der(peer.trust_anchor))


def statement(gateway_id: str, kind: str, endpoint: str, anchor_der: bytes) -> bytes:
    return canonical_json(
        {
            "type": STATEMENT_TYPE,
            "gatewayId": gateway_id,
            "kind": kind,
            "endpoint": endpoint,
            "trustAnchorSha256": hashlib.sha256(anchor_der).hexdigest(),
        }
    )


def statement_of(peer: PeerFields) -> bytes:
    return statement(peer.gateway_id, peer.kind, peer.endpoint, trust_anchor_der(peer.trust_anchor))


def sign(data: bytes, ta_certificate: x509.Certificate, ta_key: object) -> str:
    """The offline ceremony's signature: base64 detached CMS over the statement."""
    return base64.b64encode(cms.sign(data, ta_certificate, ta_key, detached=True)).decode("ascii")  # type: ignore[arg-type]


def check(peer: PeerFields, trust_anchors: tuple[bytes, ...]) -> None:
    """Raise Rejected unless ``peer``'s signature is a configured trust anchor's over its statement."""
    failure = _failure(statement_of(peer), peer.signature, trust_anchors)
    if failure is not None:
        raise Rejected(*failure)


def is_intact(peer: PeerFields, trust_anchors: tuple[bytes, ...]) -> bool:
    try:
        check(peer, trust_anchors)
    except Rejected:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _failure(data: bytes, signature_b64: str, trust_anchors: tuple[bytes, ...]) -> tuple[Reason, str] | None:
    # Memoised on the exact bytes: an unchanged peer costs a lookup at every use, an edited one
    # (other bytes) is checked afresh.
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        message = cms.verify_detached(signature, data)
    except (binascii.Error, ValueError) as exc:
        return Reason.PEER_SIGNATURE_INVALID, f"not base64 ({exc})"
    except Rejected as exc:
        return Reason.PEER_SIGNATURE_INVALID, f"not a trust anchor's signature over the statement: {exc.detail}"
    if message.signer_der not in trust_anchors:
        return Reason.PEER_SIGNER_UNKNOWN, "signed by a certificate that is not a configured trust anchor"
    return None
