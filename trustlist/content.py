"""The trust list as publication content: which onboarded certificates and DSCs the published
lists hold, registered with publication by this app's AppConfig.ready().

What is trusted, re-checked every time (never assumed from the row):
- a CSCA: onboarded, active, local, and its trust-anchor signature verifies now;
- a DSC: of TNG's group DSC (SIGN, AUTH and CUSTOM certificates are served by the TNG API
  only, never to verifiers as signers), not revoked, local, its stored DER hashes to its
  thumbprint, and the CSCA that issued
  it at upload is one of the CSCAs trusted above (so removing or suspending a CSCA withdraws its
  DSCs): the rule of ``trustlist.trust``, which the API's renderings use too; or, when
  GATEWAY_FEDERATION_PUBLISH, imported from a peer trusted now (on its signed word, published
  with its ``source``: docs/federation.md). The uploader's CMS
  and the CSCA's signature over the DSC are re-verified by the signature audit task, which would
  take seconds per 100,000 DSCs here.

Both questions (:meth:`TrustListContent.full`, :meth:`TrustListContent.changed`) call
:func:`_assemble` on the rows they read: one rule set for the full lists and the deltas.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import connection

from countries import peer_sources
from countries.models import CertificateType, Status, TrustedParty
from gateway.pki.certs import certificate_view
from gateway.pki.certs import kid as compute_kid
from publication.snapshot import Revoked, Trusted, canonical_text
from trustlist import trust
from trustlist.models import SignerCertificate
from verifier.encoding import TIME_FORMAT, format_time

CHUNK = 500  # thumbprints per IN (...) query: far below SQLite's variable limit


class TrustListContent:
    """The trust-list content that publication asks (publication.providers.TrustContent)."""

    def full(self) -> tuple[dict[str, Trusted], dict[str, Revoked]]:
        cscas = trust.trusted_cscas(TrustedParty.objects.active().local().of_type(CertificateType.CSCA))
        removed = list(TrustedParty.objects.local().filter(status=Status.REMOVED))
        return _assemble(cscas, _dsc_rows(None), removed)

    def changed(self, thumbprints: set[str]) -> tuple[dict[str, Trusted], dict[str, Revoked], set[str]]:
        parties = list(_chunked(TrustedParty.objects.local(), thumbprints))
        touched = set(thumbprints)
        # A CSCA's DSCs are trusted only while it is: a change to it changes each of them.
        for csca in (party.thumbprint for party in parties if party.certificate_type == CertificateType.CSCA):
            touched.update(
                SignerCertificate.objects.local().filter(issuer_thumbprint=csca).values_list("thumbprint", flat=True)
            )
        rows = list(_dsc_rows(touched))
        issuers = {row[9] for row in rows} | {party.thumbprint for party in parties}
        cscas = trust.trusted_cscas(
            _chunked(TrustedParty.objects.active().local().of_type(CertificateType.CSCA), issuers | touched)
        )
        removed = [party for party in parties if party.status == Status.REMOVED]
        trusted, revoked = _assemble(cscas, iter(rows), removed)
        return trusted, revoked, touched


def _chunked(queryset: Any, thumbprints: Iterable[str]) -> Iterator[Any]:
    ordered = sorted(thumbprints)
    for start in range(0, len(ordered), CHUNK):
        yield from queryset.filter(thumbprint__in=ordered[start : start + CHUNK])


def _assemble(
    cscas: list[TrustedParty], dsc_rows: Iterator[tuple[Any, ...]], removed: list[TrustedParty]
) -> tuple[dict[str, Trusted], dict[str, Revoked]]:
    """The one rule set: from trusted CSCAs, DSC rows and removed parties to entries."""
    trusted: dict[str, Trusted] = {}
    revoked: dict[str, Revoked] = {}
    csca_thumbprints = {party.thumbprint for party in cscas}
    for party in cscas:
        trusted[party.thumbprint] = _csca_record(party)
    usages_memo: dict[str, str] = {}
    sha256 = hashlib.sha256
    b64 = base64.b64encode
    peers = peer_sources.trusted_sources() if settings.GATEWAY_FEDERATION_PUBLISH else frozenset()
    for (
        country,
        thumb,
        kid,
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
        source_gateway,
        origin,
    ) in dsc_rows:
        # A peer's row counts on that peer's word while the peer is trusted (trust.trusted_dscs).
        if source_gateway and source_gateway not in peers:
            continue
        if revoked_at is not None:
            revoked[thumb] = Revoked(country, "DSC", thumb, kid, revoked_at, reason)
            continue
        der = bytes(raw)
        if (not source_gateway and issuer not in csca_thumbprints) or sha256(der).hexdigest() != thumb:
            continue
        canonical_usages = usages_memo.get(usages)
        if canonical_usages is None:
            canonical_usages = usages_memo[usages] = canonical_text(json.loads(usages))
        trusted[thumb] = Trusted(
            country,
            "DSC",
            thumb,
            kid,
            b64(der).decode("ascii"),
            not_before,
            not_after,
            canonical_usages,
            domain,
            group,
            issuer,
            jwk,
            origin,
        )
    for party in removed:
        revoked[party.thumbprint] = Revoked(
            party.country,
            party.certificate_type,
            party.thumbprint,
            compute_kid(bytes(party.raw_data)),
            format_time(party.status_changed_at or party.created_at),
            party.status_reason,
        )
    return trusted, revoked


def _csca_record(party: TrustedParty) -> Trusted:
    der = bytes(party.raw_data)
    certificate = certificate_view(der)
    return Trusted(
        party.country,
        "CSCA",
        party.thumbprint,
        compute_kid(der),
        base64.b64encode(der).decode("ascii"),
        format_time(certificate.not_valid_before_utc),
        format_time(certificate.not_valid_after_utc),
        "[]",
        party.domain,
        "CSCA",
        "",
        "",
    )


# strftime codes of verifier.encoding.TIME_FORMAT, in PostgreSQL's to_char (SQLite's strftime
# takes the format as it is).
_TO_CHAR = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS"}


def _time_sql(column: str, vendor: str) -> str:
    """SQL that renders ``column`` (UTC) in the published time format, ``TIME_FORMAT``."""
    if vendor != "postgresql":
        return f"strftime('{TIME_FORMAT}', {column})"
    # Literal text is double-quoted in a to_char pattern; an unknown code fails at import.
    pattern = "".join(
        _TO_CHAR[token] if token.startswith("%") else f'"{token}"' for token in re.findall(r"%.|[^%]+", TIME_FORMAT)
    )
    return f"to_char({column} AT TIME ZONE 'UTC', '{pattern}')"


def _columns(vendor: str) -> str:
    # Times formatted and JSON rendered as text by the database: Django's per-row converters
    # (datetime parsing, JSONField decoding) cost more than the rest of the snapshot.
    as_text = "::text" if vendor == "postgresql" else ""
    # Built from constants only, at import: no value from outside reaches this text.
    return f"""
        SELECT country, thumbprint, COALESCE(NULLIF(custom_kid, ''), kid), raw_data,
               {_time_sql("not_before", vendor)}, {_time_sql("not_after", vendor)},
               usages{as_text}, domain, "group", issuer_thumbprint,
               {_time_sql("revoked_at", vendor)}, revocation_reason, public_key_jwk{as_text},
               source_gateway, source_origin
        FROM trustlist_signercertificate WHERE "group" = 'DSC'"""  # noqa: S608


_COLUMNS = {vendor: _columns(vendor) for vendor in ("postgresql", "sqlite")}


def _dsc_rows(thumbprints: set[str] | None) -> Iterator[tuple[Any, ...]]:
    """DSC rows as tuples of text (all of them, or those with the given thumbprints)."""
    sql = _COLUMNS["postgresql" if connection.vendor == "postgresql" else "sqlite"]
    if thumbprints is None:
        # Server-side cursor on PostgreSQL: 100,000 rows are not held twice (libpq and Python).
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql)
            while rows := cursor.fetchmany(2000):
                yield from rows
        return
    ordered = sorted(thumbprints)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            placeholders = ", ".join(["%s"] * len(chunk))  # with parameters, a literal % is written %%
            cursor.execute(f"{sql.replace('%', '%%')} AND thumbprint IN ({placeholders})", chunk)
            yield from cursor.fetchall()
