"""Trust-anchor integrity of onboarded entries (DGCG ``validateCertificateIntegrity``).

An onboarded certificate (AUTHENTICATION, UPLOAD, CSCA, ...) is trusted only if its stored
signature is a detached CMS over its DER, the thumbprint matches the DER, and the CMS signer
is DER-equal to one of the configured trust anchor certificates. This runs on every use; the
result is memoised on the exact bytes, so an edited row (different bytes) is always checked
afresh while an unchanged one costs a dictionary lookup.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac

from gateway.pki import cms
from gateway.pki.certs import load_der_certificate, read_certificate, thumbprint
from gateway.pki.errors import Reason, Rejected


def verify_onboarding(
    raw_der: bytes, signature_b64: str, stored_thumbprint: str, trust_anchors: tuple[bytes, ...]
) -> None:
    """Raise :class:`Rejected` unless the entry is intact and signed by a configured trust anchor."""
    failure = _cached_failure(raw_der, signature_b64, stored_thumbprint, trust_anchors)
    if failure is not None:
        raise Rejected(*failure)


def is_onboarding_valid(
    raw_der: bytes, signature_b64: str, stored_thumbprint: str, trust_anchors: tuple[bytes, ...]
) -> bool:
    return _cached_failure(raw_der, signature_b64, stored_thumbprint, trust_anchors) is None


@functools.lru_cache(maxsize=4096)
def _cached_failure(
    raw_der: bytes, signature_b64: str, stored_thumbprint: str, trust_anchors: tuple[bytes, ...]
) -> tuple[Reason, str] | None:
    try:
        _verify(raw_der, signature_b64, stored_thumbprint, trust_anchors)
    except Rejected as exc:
        return exc.reason, exc.detail
    return None


def _verify(raw_der: bytes, signature_b64: str, stored_thumbprint: str, trust_anchors: tuple[bytes, ...]) -> None:
    if not raw_der or not signature_b64:
        raise Rejected(Reason.TA_SIGNATURE_INVALID, "certificate or trust anchor signature missing")
    read_certificate(raw_der)  # structure only: its encoding was judged when it was onboarded
    if not hmac.compare_digest(thumbprint(raw_der), stored_thumbprint):
        raise Rejected(Reason.THUMBPRINT_MISMATCH, "stored thumbprint does not match the certificate")
    try:
        signature_der = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(Reason.TA_SIGNATURE_INVALID, "trust anchor signature is not base64") from exc
    try:
        message = cms.verify_detached(signature_der, raw_der)
    except Rejected as exc:
        raise Rejected(Reason.TA_SIGNATURE_INVALID, f"trust anchor signature invalid: {exc.detail}") from exc
    if message.signer_der not in trust_anchors:
        raise Rejected(Reason.TA_SIGNER_UNKNOWN, "signer is not a configured trust anchor certificate")


def sign_onboarding(raw_der: bytes, ta_cert_der: bytes, ta_key: object) -> str:
    """The offline ``ta sign`` operation: base64 detached CMS over the certificate DER."""
    ta_cert = load_der_certificate(ta_cert_der)
    return base64.b64encode(cms.sign(raw_der, ta_cert, ta_key, detached=True)).decode("ascii")  # type: ignore[arg-type]
