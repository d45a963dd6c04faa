"""The publisher keys in use: the signer of the CURRENT key, and the keys an index announces.

Changes of state (a CSR, the trust anchor's certificate, a rotation) are publication's services
(``publication.keys``): each is an audit event, and the audit log sits above this room.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gateway.pki.certs import certificate_der, load_der_certificate
from gateway.pki.errors import Reason, Rejected
from gateway.signing.anchors import trust_anchor_of
from gateway.signing.backend import FileSigner
from gateway.signing.models import PublisherKey


def current_signer() -> FileSigner:
    key = PublisherKey.objects.current().first()
    if key is None or key.certificate is None:
        raise Rejected(Reason.INVALID_STATE, "no CURRENT publisher key is installed")
    certificate = load_der_certificate(bytes(key.certificate))
    anchor = trust_anchor_of(certificate)
    if anchor is None:
        raise Rejected(Reason.TA_SIGNER_UNKNOWN, "the current publisher certificate is not issued by a trust anchor")
    return FileSigner.load(Path(key.key_path), certificate, (anchor,))


def announced_keys() -> list[PublisherKey]:
    return list(PublisherKey.objects.announced())


def recently_retired(*, since: dt.datetime) -> list[PublisherKey]:
    """Keys retired after ``since``: deltas, spans and full lists they signed may still be named
    (the index announces them as "retired": good for those files, never for an index)."""
    return list(PublisherKey.objects.retired_since(since))


def der_of(key: PublisherKey) -> bytes:
    return certificate_der(load_der_certificate(bytes(key.certificate or b"")))
