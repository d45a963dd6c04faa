"""What a country sends signed: the base64 body that carries the CMS, or the text a person pasted
in the admin (a refusal of either recorded as the services record theirs), and who may sign it:
one of the country's onboarded UPLOAD certificates (DGCG check 1), within its validity, for an
upload, a revocation or a rule; and whether a new CMS over what a stored one signed replaces it
(a CMS migration)."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from countries.identity import ClientIdentity
from countries.models import TrustedParty
from gateway.audit.models import Action, Outcome
from gateway.audit.refusals import record_refused
from gateway.audit.services import record_event
from gateway.pki import cms
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason, Rejected


def check_uploader(
    message: cms.SignedMessage, identity: ClientIdentity, uploads: list[TrustedParty], at: dt.datetime
) -> None:
    """``uploads``: the country's UPLOAD parties, re-verified against the trust anchor by the caller
    (``countries.services.verified_parties_by_type``)."""
    signer_thumbprint = thumbprint(message.signer_der)
    if not any(party.thumbprint == signer_thumbprint for party in uploads):
        raise Rejected(
            Reason.UPLOAD_CERT_UNKNOWN,
            f"Could not find upload certificate with hash {signer_thumbprint} and country {identity.country}",
        )
    # DGCG trusts an onboarded UPLOAD certificate whatever its dates; a signature by a key whose
    # certificate has expired (or not begun) proves nothing about now (RFC 5280 §4.1.2.5).
    signer = message.signer
    if at > signer.not_valid_after_utc:
        raise Rejected(Reason.UPLOAD_CERT_EXPIRED, f"the upload certificate expired at {signer.not_valid_after_utc}")
    if at < signer.not_valid_before_utc:
        raise Rejected(
            Reason.UPLOAD_CERT_NOT_YET_VALID, f"the upload certificate is valid from {signer.not_valid_before_utc}"
        )


def record_resigned(
    message: cms.SignedMessage,
    *,
    changed: bool,
    previous_uploader: str,
    at: dt.datetime,
    country: str,
    actor: str,
    via: str,
    details: dict[str, Any],
    subject_thumbprint: str = "",
) -> None:
    """The audit event of one entity's CMS migration (a DSC, a rule, a revocation batch): the one
    shape the three content rooms' ``replace_signature`` services record, in their transaction."""
    record_event(
        action=Action.CMS_MIGRATION,
        outcome=Outcome.SUCCESS if changed else Outcome.UNCHANGED,
        at=at,
        country=country,
        actor=actor,
        authentication_thumbprint=via,
        uploader_thumbprint=thumbprint(message.signer_der),
        subject_thumbprint=subject_thumbprint,
        details={**details, "previousUploader": previous_uploader},
    )


def replaces(stored_der: bytes, message: cms.SignedMessage) -> bool:
    """Whether ``message``, a new CMS over the payload of the stored one (``stored_der``, attached or
    detached; the caller compared the payloads), replaces it: False when it is the stored CMS again
    (a retry changes nothing), Rejected MIGRATION_NOT_FRESH when it was signed before the stored
    one (an older CMS replayed, e.g. the upload's own, which the lists publish, would undo a
    migration). signingTime counts whole seconds: a CMS of the stored one's second replaces it."""
    stored = cms.read_stored(stored_der)
    if hmac.compare_digest(stored.signature, message.signature):
        return False
    if stored.signing_time is not None and message.signing_time is not None:
        if message.signing_time < stored.signing_time:
            raise Rejected(
                Reason.MIGRATION_NOT_FRESH,
                f"the new CMS was signed at {message.signing_time}, before the stored one ({stored.signing_time})",
            )
    return True


def decode_signed_body(
    body: bytes, *, identity: ClientIdentity, at: dt.datetime, action: Action, actor: str = ""
) -> bytes:
    """The DER of a base64 CMS body (dgc-lib's converter: strict base64); a refusal is recorded."""
    try:
        return cms.decode_base64_body(body)
    except Rejected as exc:
        record_refusal(action, exc, identity, at=at, actor=actor)
        raise


def decode_signed_text(text: str, *, identity: ClientIdentity, at: dt.datetime, action: Action, actor: str) -> bytes:
    """What a person pasted or chose as a file in the admin: the base64 of the CMS, with line
    breaks tolerated (a file wrapped at 64 columns). Text that is not base64 is refused and
    recorded like a body of the API."""
    body = "".join(text.split()).encode("ascii", "replace")
    return decode_signed_body(body, identity=identity, at=at, action=action, actor=actor)


def record_refusal(
    action: Action,
    exc: Rejected,
    identity: ClientIdentity,
    *,
    at: dt.datetime,
    actor: str = "",
    signer_der: bytes | None = None,
    subject_thumbprint: str = "",
    **details: str,
) -> None:
    """The audit event of a refused request a country signed: who asked (the TLS identity), who
    signed (the CMS signer, once known), what about, and the named reason with its detail."""
    record_refused(
        exc,
        action=action,
        at=at,
        country=identity.country,
        actor=actor,
        authentication_thumbprint=identity.thumbprint,
        uploader_thumbprint=thumbprint(signer_der) if signer_der else "",
        subject_thumbprint=subject_thumbprint,
        details=details,
    )
