"""Trust state for publication, read from the database (docs/publication-format.md).

Two readers, one rule set:

- :func:`take_full` reads everything: the full lists (and the DID document) of a sequence.
- :func:`take_changes` reads only what the outbox says changed after a high-water mark: a delta.
  Its work is proportional to the change (the outbox rows, the rows they name, and for a CSCA the
  DSCs it issued), never to the size of the lists.

Both call :func:`_assemble` on the rows they read, so an entry in a delta is exactly the entry the
full list of the same sequence holds. Call either inside one read snapshot (REPEATABLE READ on
PostgreSQL), so that the rows and the outbox high-water mark describe the same instant. The outbox
hands out ids in commit order (gateway.outbox.services), so "every change up to the high-water
mark, and none after it" is what such a snapshot sees.

What is trusted, re-checked every time (never assumed from the row):
- a CSCA: onboarded, active, local, and its trust-anchor signature verifies now;
- a DSC: not revoked, local, its stored DER hashes to its thumbprint, and the CSCA that issued
  it at upload is one of the CSCAs trusted above (so removing or suspending a CSCA withdraws its
  DSCs): the rule of ``trustlist.trust``, which the API's renderings use too. The uploader's CMS
  and the CSCA's signature over the DSC are re-verified by the signature audit task, which would
  take seconds per 100,000 DSCs here.

Entries are kept as tuples of strings (``Trusted``, ``Revoked``) and written to JSON by
:func:`trusted_json` / :func:`revoked_json`, byte for byte what ``canonical_json`` makes of the
dictionaries :func:`trusted_entry` / :func:`revoked_entry` return (a test holds them to that).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from django.db import connection

from countries.models import CertificateType, Status, TrustedParty
from gateway.outbox.models import Change
from gateway.pki.certs import kid as compute_kid
from gateway.pki.certs import load_der_certificate, public_jwk
from trustlist import trust
from trustlist.models import SignerCertificate

Entry = dict[str, Any]
CHUNK = 500  # thumbprints per IN (...) query: far below SQLite's variable limit


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Trusted(NamedTuple):
    country: str
    type: str
    thumbprint: str
    kid: str
    certificate: str  # base64 DER
    not_before: str
    not_after: str
    usages: str  # canonical JSON of the list
    domain: str
    group: str
    issuer: str
    jwk: str  # canonical JSON of the public key's JWK ("" for a CSCA); for the DID document only

    @property
    def order(self) -> tuple[str, str, str]:
        return self.country, self.type, self.thumbprint


class Revoked(NamedTuple):
    country: str
    type: str
    thumbprint: str
    kid: str
    revoked_at: str
    reason: str

    @property
    def order(self) -> tuple[str, str, str]:
        return self.country, self.type, self.thumbprint


@dataclass
class State:
    """The lists of one instant: every trusted and revoked entry, by thumbprint."""

    trusted: dict[str, Trusted]
    revoked: dict[str, Revoked]
    high_water: int  # last outbox change this state includes


@dataclass
class Changes:
    """What changed after a high-water mark, in the state of ``high_water`` (a delta's body)."""

    high_water: int
    reset: bool = False  # an outbox row named no certificate: anything may have changed
    touched: frozenset[str] = frozenset()
    upsert: list[Entry] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    revoked: list[Entry] = field(default_factory=list)


# --- reading ----------------------------------------------------------------------------------------


def high_water() -> int:
    return Change.objects.order_by("-id").values_list("id", flat=True).first() or 0


def take_full() -> State:
    """Every trusted and revoked entry (inside one read snapshot)."""
    mark = high_water()
    cscas = trust.trusted_cscas(TrustedParty.objects.active().local().of_type(CertificateType.CSCA))
    removed = list(TrustedParty.objects.local().filter(status=Status.REMOVED))
    trusted, revoked = _assemble(cscas, _dsc_rows(None), removed)
    return State(trusted=trusted, revoked=revoked, high_water=mark)


def take_changes(since: int) -> Changes:
    """The state of everything changed after outbox change ``since`` (inside one read snapshot)."""
    mark = high_water()
    if mark <= since:
        return Changes(high_water=max(mark, since))
    changed = Change.objects.filter(id__gt=since, id__lte=mark)
    if changed.filter(thumbprint="").exists():
        return Changes(high_water=mark, reset=True)
    named = set(changed.values_list("thumbprint", flat=True))
    parties = list(_chunked(TrustedParty.objects.local(), named))
    touched = set(named)
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
    return changes_in(State(trusted=trusted, revoked=revoked, high_water=mark), touched)


def changes_in(state: State, touched: Iterable[str]) -> Changes:
    """The state in ``state`` of every certificate in ``touched``, as a delta's body (a delta's,
    and a span's: the certificates its deltas touched, in the state of its last sequence)."""
    ordered = sorted(set(touched))
    trusted, revoked = state.trusted, state.revoked
    return Changes(
        high_water=state.high_water,
        touched=frozenset(ordered),
        upsert=[trusted_entry(trusted[t]) for t in ordered if t in trusted],
        remove=[t for t in ordered if t not in trusted],
        revoked=[revoked_entry(revoked[t]) for t in ordered if t in revoked],
    )


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
    ) in dsc_rows:
        if revoked_at is not None:
            revoked[thumb] = Revoked(country, "DSC", thumb, kid, revoked_at, reason)
            continue
        der = bytes(raw)
        if issuer not in csca_thumbprints or sha256(der).hexdigest() != thumb:
            continue
        canonical_usages = usages_memo.get(usages)
        if canonical_usages is None:
            canonical_usages = usages_memo[usages] = _canonical(json.loads(usages))
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
        )
    for party in removed:
        revoked[party.thumbprint] = Revoked(
            party.country,
            party.certificate_type,
            party.thumbprint,
            compute_kid(bytes(party.raw_data)),
            iso(party.status_changed_at or party.created_at),
            party.status_reason,
        )
    return trusted, revoked


def _csca_record(party: TrustedParty) -> Trusted:
    der = bytes(party.raw_data)
    certificate = load_der_certificate(der)
    return Trusted(
        party.country,
        "CSCA",
        party.thumbprint,
        compute_kid(der),
        base64.b64encode(der).decode("ascii"),
        iso(certificate.not_valid_before_utc),
        iso(certificate.not_valid_after_utc),
        "[]",
        party.domain,
        "CSCA",
        "",
        "",
    )


_COLUMNS = {
    # Times formatted and JSON rendered as text by the database: Django's per-row converters
    # (datetime parsing, JSONField decoding) cost more than the rest of the snapshot.
    "postgresql": """
        SELECT country, thumbprint, COALESCE(NULLIF(custom_kid, ''), kid), raw_data,
               to_char(not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               to_char(not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               usages::text, domain, "group", issuer_thumbprint,
               to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               revocation_reason, public_key_jwk::text
        FROM trustlist_signercertificate WHERE source_gateway = ''""",
    "sqlite": """
        SELECT country, thumbprint, COALESCE(NULLIF(custom_kid, ''), kid), raw_data,
               strftime('%Y-%m-%dT%H:%M:%SZ', not_before), strftime('%Y-%m-%dT%H:%M:%SZ', not_after),
               usages, domain, "group", issuer_thumbprint,
               strftime('%Y-%m-%dT%H:%M:%SZ', revoked_at), revocation_reason, public_key_jwk
        FROM trustlist_signercertificate WHERE source_gateway = ''""",
}


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


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- entries: dictionaries (deltas, tests) and their canonical JSON (full lists) ---------------------


def trusted_entry(record: Trusted) -> Entry:
    return {
        "type": record.type,
        "country": record.country,
        "kid": record.kid,
        "thumbprint": record.thumbprint,
        "certificate": record.certificate,
        "notBefore": record.not_before,
        "notAfter": record.not_after,
        "usages": json.loads(record.usages),
        "domain": record.domain,
        "group": record.group,
        "issuer": record.issuer,
    }


def revoked_entry(record: Revoked) -> Entry:
    return {
        "type": record.type,
        "country": record.country,
        "kid": record.kid,
        "thumbprint": record.thumbprint,
        "revokedAt": record.revoked_at,
        "reason": record.reason,
    }


def trusted_json(record: Trusted) -> str:
    """``canonical_json(trusted_entry(record))``, about ten times faster. The certificate (base64
    we encoded), the times (formatted by us or the database), the thumbprint (checked to be the
    hex SHA-256 of the DER) and the issuer (a trusted CSCA's thumbprint) need no JSON escaping."""
    quote = encode_basestring
    country, kind, thumb, kid, certificate, not_before, not_after, usages, domain, group, issuer, _ = record
    return (
        f'{{"certificate":"{certificate}","country":{quote(country)},"domain":{quote(domain)},'
        f'"group":{quote(group)},"issuer":"{issuer}","kid":{quote(kid)},"notAfter":"{not_after}",'
        f'"notBefore":"{not_before}","thumbprint":"{thumb}","type":{quote(kind)},"usages":{usages}}}'
    )


def revoked_json(record: Revoked) -> str:
    quote = encode_basestring
    return (
        f'{{"country":{quote(record.country)},"kid":{quote(record.kid)},"reason":{quote(record.reason)},'
        f'"revokedAt":{quote(record.revoked_at)},"thumbprint":{quote(record.thumbprint)},"type":{quote(record.type)}}}'
    )


def trusted_from_entry(entry: Entry) -> Trusted:
    """A published trust-list entry back to a record (rolling a state forward through deltas)."""
    jwk = ""
    if entry["type"] == "DSC":
        jwk = _canonical(public_jwk(load_der_certificate(base64.b64decode(entry["certificate"]))))
    return Trusted(
        entry["country"],
        entry["type"],
        entry["thumbprint"],
        entry["kid"],
        entry["certificate"],
        entry["notBefore"],
        entry["notAfter"],
        _canonical(entry["usages"]),
        entry["domain"],
        entry["group"],
        entry["issuer"],
        jwk,
    )


def revoked_from_entry(entry: Entry) -> Revoked:
    return Revoked(
        entry["country"], entry["type"], entry["thumbprint"], entry["kid"], entry["revokedAt"], entry["reason"]
    )
