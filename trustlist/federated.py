"""Rows of signer certificates imported from peer gateways (``source_gateway`` set): the one
service that writes them. Federation (``federation.importing``) decides what to import, keeps
conflicts aside and records provenance; this writes the rows and the outbox, so publication and
the API's caches see a federated change as they see an upload.

A federated row is never an upload: no uploader, no CMS of this gateway's countries; it is
trusted on its peer's signed word while that peer stays configured and signed
(``countries.peer_sources``, docs/federation.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from gateway.dbwrite import insert_many
from gateway.outbox.services import record_change
from gateway.pki.certs import kid as compute_kid
from gateway.pki.certs import public_jwk, read_certificate, thumbprint
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import findings_json
from gateway.pki.policy import FINDINGS_ONLY, check_dsc
from trustlist.models import Group, SignerCertificate

FEDERATED_CHANGE = "FEDERATED"  # outbox kind of an imported, changed or dropped federated row
# Above this many rows changed in one sync, one outbox change names no certificate: publication
# then writes full lists ("reset") rather than a delta naming every row of a first import.
RESET_ABOVE = 1000
# Above this many rows written at once, the source's rows are read in one query (_existing).
READ_WHOLE_ABOVE = 5000


@dataclass(frozen=True)
class FederatedSigner:
    """A DSC as a peer publishes it, with its provenance."""

    der: bytes
    country: str
    kid: str
    domain: str
    usages: tuple[str, ...]
    issuer: str  # the peer's CSCA thumbprint, as published
    origin: str  # the gateway where it was onboarded
    sequence: int | None  # the peer's sequence that vouched for it (None: a TNG or DGCG peer has none)
    signature: str = ""  # base64 detached CMS of its upload, when the peer serves it (TNG, DGCG)
    uploader: str = ""  # the thumbprint of the UPLOAD certificate that signed it


@dataclass(frozen=True)
class FederatedRevocation:
    thumbprint: str
    revoked_at: dt.datetime
    reason: str


def apply_federated(
    *,
    source_gateway: str,
    upsert: Iterable[FederatedSigner],
    revoke: Iterable[FederatedRevocation],
    remove: Iterable[str],
    at: dt.datetime,
) -> list[str]:
    """Write ``source_gateway``'s rows: create or update ``upsert``, revoke ``revoke`` (rows of
    this source only), delete ``remove`` (rows of this source only). Returns the thumbprints
    changed. Call inside the caller's transaction, which holds the sync's audit event."""
    changed: list[str] = []
    with transaction.atomic():
        changed += _upsert_all(source_gateway, list(upsert), at)
        for revocation in revoke:
            updated = SignerCertificate.objects.filter(
                source_gateway=source_gateway, thumbprint=revocation.thumbprint, revoked_at__isnull=True
            ).update(revoked_at=revocation.revoked_at, revocation_reason=revocation.reason[:255])
            if updated:
                changed.append(revocation.thumbprint)
        doomed = sorted(set(remove))
        for start in range(0, len(doomed), 500):
            chunk = doomed[start : start + 500]
            rows = SignerCertificate.objects.filter(source_gateway=source_gateway, thumbprint__in=chunk)
            changed += list(rows.values_list("thumbprint", flat=True))
            rows.delete()
        if len(changed) > RESET_ABOVE:
            record_change(kind=FEDERATED_CHANGE, at=at)
        else:
            for value in changed:
                record_change(kind=FEDERATED_CHANGE, at=at, thumbprint=value)
    return changed


def _upsert_all(source_gateway: str, signers: list[FederatedSigner], at: dt.datetime) -> list[str]:
    """Create the rows that are new (a first import is 100,000 rows: COPY on PostgreSQL,
    ``gateway.dbwrite.insert_many``) and update those that differ; returns the thumbprints written."""
    fields = {thumbprint(signer.der): _fields(source_gateway, signer, at) for signer in signers}
    existing = _existing(source_gateway, fields)
    created = [digest for digest in fields if digest not in existing]
    insert_many(
        SignerCertificate, (SignerCertificate(thumbprint=digest, created_at=at, **fields[digest]) for digest in created)
    )
    written = list(created)
    for digest, row in existing.items():
        values = fields[digest]
        # The findings are this gateway's judgement as of the import that wrote the row: a DSC
        # that expires since is not rewritten (and republished) for that alone.
        compared = (name for name in values if name not in ("raw_data", "source_sequence", "policy_findings"))
        if row.revoked_at is None and all(getattr(row, name) == values[name] for name in compared):
            continue
        for name, value in values.items():
            setattr(row, name, value)
        row.revoked_at, row.revocation_reason = None, ""
        row.save()
        written.append(digest)
    return written


def _existing(source_gateway: str, fields: dict[str, dict[str, Any]]) -> dict[str, SignerCertificate]:
    """The rows of ``source_gateway`` among ``fields``' thumbprints: for many, one query over the
    source's rows (indexed) rather than hundreds of ``IN`` queries of 500."""
    rows = SignerCertificate.objects.filter(source_gateway=source_gateway)
    if len(fields) > READ_WHOLE_ABOVE:
        return {row.thumbprint: row for row in rows.iterator(chunk_size=5000) if row.thumbprint in fields}
    existing: dict[str, SignerCertificate] = {}
    ordered = sorted(fields)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        existing.update((row.thumbprint, row) for row in rows.filter(thumbprint__in=chunk))
    return existing


def _fields(source_gateway: str, signer: FederatedSigner, at: dt.datetime) -> dict[str, Any]:
    try:
        read = read_certificate(signer.der)
    except Rejected as exc:
        raise Rejected(Reason.PEER_STATE_INVALID, f"a certificate of {signer.country}: {exc.detail}") from None
    certificate = read.certificate
    # The peer accepted it under its own rules; this gateway's policy, every check relaxed, says
    # what it would have found (docs/federation.md, "A DGCG network's real entries").
    findings = check_dsc(read, at=at, policy=FINDINGS_ONLY)
    computed = compute_kid(signer.der)
    return {
        "country": signer.country,
        "kid": computed,
        "custom_kid": signer.kid if signer.kid != computed else None,
        "raw_data": signer.der,
        "signature": signer.signature,
        "uploader_thumbprint": signer.uploader,
        "group": Group.DSC,
        "domain": signer.domain,
        "usages": list(signer.usages),
        "issuer_thumbprint": signer.issuer,
        "public_key_jwk": public_jwk(certificate),
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
        "source_gateway": source_gateway,
        "source_origin": signer.origin,
        "source_sequence": signer.sequence,
        "policy_findings": findings_json(findings),
        "tbs_sha256": hashlib.sha256(read.tbs).hexdigest(),
    }
