"""Publisher keys' services: CSR, installation of the trust anchor's certificate, rotation with
overlap (the keys in use are read through ``gateway.signing.keys``).

States: PENDING (CSR issued) -> NEXT (certified, announced in the index) -> CURRENT (signs)
-> RETIRED. A key becomes CURRENT directly when there is none; otherwise it waits as NEXT so
that verifiers learn it from an index signed by the current key before it signs anything.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.conf import settings
from django.db import transaction

from gateway.audit.models import Action, Outcome
from gateway.audit.services import record_event
from gateway.pki import issuance
from gateway.pki.certs import load_der_certificate
from gateway.pki.errors import Reason, Rejected
from gateway.signing.anchors import trust_anchor_of
from gateway.signing.backend import load_private_key_file
from gateway.signing.models import PublisherKey, PublisherKeyState
from verifier.certificates import publisher_usage_problem


def create_csr(*, label: str, at: dt.datetime, key_dir: Path | None = None) -> PublisherKey:
    """Generate an EC P-256 key (file mode 0600) and a CSR for the trust anchor to certify."""
    folder = Path(key_dir or settings.GATEWAY_PUBLISHER_KEY_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = folder / f"{label}.key"
    key = issuance.new_key("ec-p256")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    csr = issuance.csr_for(key, issuance.name(f"Trust gateway publisher {label}"), publisher=True)
    return PublisherKey.objects.create(
        label=label, key_path=str(key_path), csr_pem=csr.public_bytes(Encoding.PEM).decode(), created_at=at
    )


def install_certificate(*, label: str, certificate_der_bytes: bytes, at: dt.datetime, actor: str) -> PublisherKey:
    """Install the trust anchor's certificate for a pending key after checking it thoroughly: for
    this key, issued by a configured trust anchor, for the publisher usage, valid now."""
    with transaction.atomic():
        key = PublisherKey.objects.select_for_update().get(label=label)
        if key.state != PublisherKeyState.PENDING:
            raise Rejected(Reason.INVALID_STATE, f"publisher key {label} is {key.state}")
        certificate = load_der_certificate(certificate_der_bytes)
        private = load_private_key_file(Path(key.key_path))
        if certificate.public_key() != private.public_key():
            raise Rejected(Reason.PUBLISHER_KEY_MISMATCH, "the certificate is not for this key")
        if trust_anchor_of(certificate) is None:
            raise Rejected(Reason.TA_SIGNER_UNKNOWN, "the certificate is not issued by a configured trust anchor")
        # Verifiers refuse what a certificate without the publisher usage signs: refused here
        # rather than discovered by every verifier after it signed an index.
        usage_problem = publisher_usage_problem(certificate)
        if usage_problem is not None:
            raise Rejected(Reason.PUBLISHER_USAGE, usage_problem)
        if not (certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc):
            raise Rejected(Reason.EXPIRED, "the certificate is not valid now")
        has_current = PublisherKey.objects.current().exists()
        key.certificate = certificate_der_bytes
        _enter_state(key, PublisherKeyState.NEXT if has_current else PublisherKeyState.CURRENT, at=at, actor=actor)
        return key


def activate_next(*, at: dt.datetime, actor: str) -> PublisherKey:
    """Rotate: the announced NEXT key becomes CURRENT, the CURRENT one RETIRED."""
    with transaction.atomic():
        following = PublisherKey.objects.select_for_update().upcoming().first()
        if following is None:
            raise Rejected(Reason.INVALID_STATE, "no NEXT publisher key to activate")
        PublisherKey.objects.current().update(state=PublisherKeyState.RETIRED, state_changed_at=at)
        _enter_state(following, PublisherKeyState.CURRENT, at=at, actor=actor)
        return following


def _enter_state(key: PublisherKey, state: str, *, at: dt.datetime, actor: str) -> None:
    """Save ``key`` in ``state`` and record the change, in the caller's transaction."""
    key.state, key.state_changed_at = state, at
    key.save()
    record_event(
        action=Action.PUBLISHER_KEY,
        outcome=Outcome.SUCCESS,
        at=at,
        actor=actor,
        details={"label": key.label, "state": key.state},
    )
