"""A consistent snapshot of trust state for publication (docs/publication-format.md).

What a snapshot trusts, re-checked every time (never assumed from the row):
- a CSCA: onboarded, active, local, and its trust-anchor signature verifies now;
- a DSC: not revoked, local, its stored DER hashes to its thumbprint, and the CSCA that issued
  it at upload is one of the CSCAs trusted above (so removing or suspending a CSCA withdraws its
  DSCs). The uploader's CMS and the CSCA's signature over the DSC are re-verified by the
  signature audit task, which would take seconds per 100,000 DSCs here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from countries import trust_anchor
from countries.models import CertificateType, Status, TrustedParty
from gateway.outbox.models import Change
from gateway.pki.certs import kid as compute_kid
from gateway.pki.certs import load_der_certificate
from trustlist.models import SignerCertificate

Entry = dict[str, Any]


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Snapshot:
    trusted: dict[str, Entry]  # by thumbprint
    revoked: dict[str, Entry]  # by thumbprint
    high_water: int  # last outbox change visible to this snapshot
    touched: frozenset[str]  # thumbprints changed since ``since`` (for the delta)
    jwks: dict[str, dict[str, str]]  # public keys of trusted DSCs, for the DID document


def take(*, since_change: int) -> Snapshot:
    """Read everything published; call inside one REPEATABLE READ transaction (PostgreSQL) so
    that the lists and the outbox high-water mark describe the same instant."""
    high_water = Change.objects.order_by("-id").values_list("id", flat=True).first() or 0
    touched = frozenset(
        Change.objects.filter(id__gt=since_change, id__lte=high_water)
        .exclude(thumbprint="")
        .values_list("thumbprint", flat=True)
    )
    trusted: dict[str, Entry] = {}
    revoked: dict[str, Entry] = {}
    jwks: dict[str, dict[str, str]] = {}

    cscas = [
        party for party in trust_anchor.verified(TrustedParty.objects.active().local().of_type(CertificateType.CSCA))
    ]
    csca_thumbprints = {party.thumbprint for party in cscas}
    for party in cscas:
        trusted[party.thumbprint] = _csca_entry(party)

    rows = (
        SignerCertificate.objects.local()
        .values_list(
            "country",
            "thumbprint",
            "kid",
            "custom_kid",
            "raw_data",
            "not_before",
            "not_after",
            "usages",
            "domain",
            "group",
            "issuer_thumbprint",
            "revoked_at",
            "revocation_reason",
            "public_key_jwk",
        )
        .iterator(chunk_size=5000)
    )
    for (
        country,
        thumb,
        kid,
        custom_kid,
        raw,
        not_before,
        not_after,
        usages,
        domain,
        group,
        issuer,
        revoked_at,
        reason,
        jwk,
    ) in rows:
        der = bytes(raw)
        if revoked_at is not None:
            revoked[thumb] = {
                "type": "DSC",
                "country": country,
                "kid": custom_kid or kid,
                "thumbprint": thumb,
                "revokedAt": iso(revoked_at),
                "reason": reason,
            }
            continue
        if issuer not in csca_thumbprints or hashlib.sha256(der).hexdigest() != thumb:
            continue
        trusted[thumb] = {
            "type": "DSC",
            "country": country,
            "kid": custom_kid or kid,
            "thumbprint": thumb,
            "certificate": base64.b64encode(der).decode("ascii"),
            "notBefore": iso(not_before),
            "notAfter": iso(not_after),
            "usages": usages,
            "domain": domain,
            "group": group,
            "issuer": issuer,
        }
        jwks[thumb] = jwk

    for party in TrustedParty.objects.local().filter(status=Status.REMOVED):
        revoked[party.thumbprint] = {
            "type": party.certificate_type,
            "country": party.country,
            "kid": compute_kid(bytes(party.raw_data)),
            "thumbprint": party.thumbprint,
            "revokedAt": iso(party.status_changed_at or party.created_at),
            "reason": party.status_reason,
        }
    return Snapshot(trusted=trusted, revoked=revoked, high_water=high_water, touched=touched, jwks=jwks)


def _csca_entry(party: TrustedParty) -> Entry:
    der = bytes(party.raw_data)
    certificate = load_der_certificate(der)
    return {
        "type": "CSCA",
        "country": party.country,
        "kid": compute_kid(der),
        "thumbprint": party.thumbprint,
        "certificate": base64.b64encode(der).decode("ascii"),
        "notBefore": iso(certificate.not_valid_before_utc),
        "notAfter": iso(certificate.not_valid_after_utc),
        "usages": [],
        "domain": party.domain,
        "group": "CSCA",
        "issuer": "",
    }
