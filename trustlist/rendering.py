"""Rendering of the DGCG and TNG trust lists.

Full lists are rendered once per trust state version (gateway.outbox) and kept in memory as
one pre-encoded JSON fragment per entry, so a request while nothing changed costs one
version lookup and a join, not a rebuild and re-verification of every row. Trusted parties
are re-verified against the trust anchor whenever a list is rendered.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from countries import trust_anchor
from countries.models import CertificateType, TrustedParty
from gateway.outbox.services import trust_state_version
from gateway.pki import cms
from gateway.pki.certs import kid as compute_kid
from trustlist import trust
from trustlist.models import Group, SignerCertificate
from verifier.encoding import format_time  # DGCG's yyyy-MM-dd'T'HH:mm:ssXXX in UTC: the same form

CLASSIC_TYPES = ("AUTHENTICATION", "UPLOAD", "CSCA", "DSC")
PARTY_GROUPS = ("AUTHENTICATION", "UPLOAD", "CSCA", "DECA")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode(entry: dict[str, object]) -> bytes:
    return json.dumps(entry, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Rendered:
    """A sorted list of encoded entries, with the full body and its strong ETag made lazily."""

    entries: tuple[bytes, ...]

    def body(self, page: int | None = None, pagesize: int | None = None) -> bytes:
        entries = self.entries
        if page is not None and pagesize is not None:
            entries = entries[page * pagesize : (page + 1) * pagesize]
        return b"[" + b",".join(entries) + b"]"


@dataclass
class _Slot:
    version: int
    rendered: Rendered
    full_body: bytes | None = None
    etag: str | None = None


_cache: dict[tuple[object, ...], _Slot] = {}
_lock = threading.Lock()


def cached(key: tuple[object, ...], build: Callable[[], Rendered]) -> _Slot:
    """The rendering of ``key`` at the current trust state version (rebuilt when it moved)."""
    version = trust_state_version()
    slot = _cache.get(key)
    if slot is None or slot.version != version:
        slot = _Slot(version, build())
        with _lock:
            _cache[key] = slot
    return slot


def full_body_and_etag(slot: _Slot) -> tuple[bytes, str]:
    if slot.full_body is None or slot.etag is None:
        body = slot.rendered.body()
        slot.full_body, slot.etag = body, f'"{hashlib.sha256(body).hexdigest()}"'
    return slot.full_body, slot.etag


def clear_cache() -> None:
    with _lock:
        _cache.clear()


# --- DGCG classic format ---------------------------------------------------------------------


def _party_entry(party: TrustedParty) -> tuple[str, bytes]:
    der = bytes(party.raw_data)
    k = compute_kid(der)
    return k, _encode(
        {
            "kid": k,
            "timestamp": format_time(party.created_at),
            "country": party.country,
            "certificateType": party.certificate_type,
            "thumbprint": party.thumbprint,
            "signature": party.signature,
            "rawData": _b64(der),
        }
    )


def _signer_entry(row: SignerCertificate, *, withdrawn: bool = False) -> tuple[str, bytes]:
    """A DSC's entry; a revoked or withdrawn one (its CSCA no longer trusted) without its data."""
    revoked = withdrawn or row.revoked_at is not None
    return row.kid, _encode(
        {
            "kid": row.kid,
            "timestamp": format_time(row.created_at),
            "country": row.country,
            "certificateType": "DSC",
            "thumbprint": row.thumbprint,
            "signature": None if revoked else row.signature,
            "rawData": None if revoked else _b64(bytes(row.raw_data)),
        }
    )


def classic(
    certificate_type: str | None = None, country: str | None = None, since: dt.datetime | None = None
) -> Rendered:
    """``/trustList[/{type}[/{country}]]``; with ``since``, DGCG's delta (revoked DSCs included)."""
    keyed: list[tuple[str, bytes]] = []
    if certificate_type in (None, "AUTHENTICATION", "UPLOAD", "CSCA"):
        parties = (
            TrustedParty.objects.active()
            .local()
            .filter(
                certificate_type__in=[certificate_type] if certificate_type else ["AUTHENTICATION", "UPLOAD", "CSCA"]
            )
        )
        if country:
            parties = parties.for_country(country)
        if since is not None:
            parties = parties.filter(created_at__gte=since)
        keyed.extend(_party_entry(p) for p in trust_anchor.verified(parties))
    if certificate_type in (None, "DSC"):
        wire_fields = ("kid", "created_at", "country", "thumbprint", "signature", "raw_data", "revoked_at")
        if since is None:
            signers = trust.trusted_dscs().filter(group=Group.DSC, domain="DCC")
            if country:
                signers = signers.for_country(country)
            keyed.extend(_signer_entry(row) for row in signers.only(*wire_fields).iterator(chunk_size=2000))
        else:
            keyed.extend(_delta_entries(country, since, wire_fields))
    return Rendered(tuple(entry for _, entry in sorted(keyed, key=lambda item: item[0])))


def _delta_entries(country: str | None, since: dt.datetime, wire_fields: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """DGCG's delta of DSCs: those uploaded, re-signed (a CMS migration: their new ``signature``)
    or revoked since ``since`` and those whose CSCA changed status since then; a revoked DSC, or
    one whose CSCA is not trusted now, appears with rawData and signature null (DGCG PR #173), so
    that a client syncing by deltas drops it."""
    signers = SignerCertificate.objects.local().filter(group=Group.DSC, domain="DCC")
    if country:
        signers = signers.for_country(country)
    changed_cscas = (
        TrustedParty.objects.local()
        .filter(certificate_type=CertificateType.CSCA, status_changed_at__gte=since)
        .values_list("thumbprint", flat=True)
    )
    signers = signers.filter(
        Q(created_at__gte=since)
        | Q(resigned_at__gte=since)
        | Q(revoked_at__gte=since)
        | Q(issuer_thumbprint__in=changed_cscas)
    )
    issuers = trust.trusted_issuer_thumbprints()
    rows = signers.only(*wire_fields, "issuer_thumbprint", "group").iterator(chunk_size=2000)
    return [_signer_entry(row, withdrawn=not trust.is_trusted(row, issuers)) for row in rows]


# --- TNG /trustList/certificate ----------------------------------------------------------------


def tng_certificates(groups: list[str], countries: list[str], domains: list[str], with_federation: bool) -> Rendered:
    keyed: list[tuple[str, bytes]] = []
    party_groups = [g for g in groups if g in PARTY_GROUPS] if groups else list(PARTY_GROUPS)
    signer_groups = [g for g in groups if g in Group.values] if groups else list(Group.values)
    if party_groups:
        parties = TrustedParty.objects.active().filter(certificate_type__in=party_groups)
        if not with_federation:
            parties = parties.local()
        if countries:
            parties = parties.filter(country__in=countries)
        if domains:
            parties = parties.filter(domain__in=domains)
        for party in trust_anchor.verified(parties):
            der = bytes(party.raw_data)
            entry: dict[str, object] = {
                "certificate": _b64(der),
                "signature": party.signature,
                "kid": compute_kid(der),
                "group": party.certificate_type,
                "country": party.country,
                "properties": None,
                "uuid": str(party.uuid),
                "domain": party.domain,
                "version": 1,
            }
            if party.source_gateway:
                entry["sourceGateway"] = party.source_gateway
            keyed.append((str(entry["kid"]), _encode(entry)))
    if signer_groups:
        signers = trust.trusted_dscs(with_federation=with_federation).filter(group__in=signer_groups)
        if countries:
            signers = signers.filter(country__in=countries)
        if domains:
            signers = signers.filter(domain__in=domains)
        for row in signers.iterator(chunk_size=2000):
            der = bytes(row.raw_data)
            entry = {
                # TNG serves the uploader's attached CMS; we rebuild it from the stored detached one.
                # A row imported from a peer of this kind has none: that peer's signed publication
                # vouched for it (federation.models.PeerSync keeps it; docs/federation.md).
                "certificate": _b64(der),
                "signature": _b64(cms.attach(base64.b64decode(row.signature), der)) if row.signature else "",
                "kid": row.effective_kid,
                "group": row.group,
                "country": row.country,
                "properties": row.properties or {},
                "uuid": str(row.uuid),
                "domain": row.domain,
                "version": row.version,
            }
            if row.source_gateway:
                entry["sourceGateway"] = row.source_gateway
            keyed.append((row.effective_kid, _encode(entry)))
    return Rendered(tuple(entry for _, entry in sorted(keyed, key=lambda item: item[0])))


def country_list() -> list[str]:
    parties = TrustedParty.objects.active().local()
    return sorted({party.country for party in trust_anchor.verified(parties)})
