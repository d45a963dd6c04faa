"""Trust state for publication: the records of the published lists, and the two readers
(docs/publication-format.md).

- :func:`take_full` reads everything: the full lists (and the DID document) of a sequence.
- :func:`take_changes` reads only what the outbox says changed after a high-water mark: a delta.
  Its work is proportional to the change (the outbox rows, the rows they name, and what depends
  on them), never to the size of the lists.

What the lists hold, and which rows are trusted, is the content room's: both readers ask the
registered trust-list content (:mod:`publication.providers`; ``trustlist.content`` applies one
rule set to the rows either reader names), so an entry in a delta is exactly the entry the full
list of the same sequence holds. Call either inside one read snapshot (REPEATABLE READ on
PostgreSQL), so that the rows and the outbox high-water mark describe the same instant. The outbox
hands out ids in commit order (gateway.outbox.services), so "every change up to the high-water
mark, and none after it" is what such a snapshot sees.

Entries are kept as tuples of strings (``Trusted``, ``Revoked``) and written to JSON by
:func:`trusted_json` / :func:`revoked_json`, byte for byte what ``canonical_json`` makes of the
dictionaries :func:`trusted_entry` / :func:`revoked_entry` return (a test holds them to that).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from gateway.outbox.models import Change
from gateway.pki.certs import certificate_view, public_jwk
from publication import providers
from verifier.encoding import canonical_json

Entry = dict[str, Any]


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
    # The federation id of the gateway where an entry imported from a peer was onboarded; "" for
    # this gateway's own entries, which publish no "source" (docs/federation.md).
    source: str = ""

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
    trusted, revoked = providers.trust_content().full()
    return State(trusted=trusted, revoked=revoked, high_water=mark)


def take_changes(since: int) -> Changes:
    """The state of everything changed after outbox change ``since`` (inside one read snapshot)."""
    mark = high_water()
    if mark <= since:
        return Changes(high_water=max(mark, since))
    # Changes of named content (publication.providers) are not the trust content's.
    changed = Change.objects.filter(id__gt=since, id__lte=mark).exclude(kind__in=providers.named_change_kinds())
    if not changed.exists():
        return Changes(high_water=mark)
    if changed.filter(thumbprint="").exists():
        return Changes(high_water=mark, reset=True)
    named = set(changed.values_list("thumbprint", flat=True))
    trusted, revoked, touched = providers.trust_content().changed(named)
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


def canonical_text(value: Any) -> str:
    """Canonical JSON as text: a list of usages or a JWK inside an entry."""
    return canonical_json(value).decode("utf-8")


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
        **({"source": record.source} if record.source else {}),
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
    country, kind, thumb, kid, certificate, not_before, not_after, usages, domain, group, issuer, _, source = record
    # Canonical order: "source" sorts between "notBefore" and "thumbprint".
    sourced = f'"source":{quote(source)},' if source else ""
    return (
        f'{{"certificate":"{certificate}","country":{quote(country)},"domain":{quote(domain)},'
        f'"group":{quote(group)},"issuer":"{issuer}","kid":{quote(kid)},"notAfter":"{not_after}",'
        f'"notBefore":"{not_before}",{sourced}"thumbprint":"{thumb}","type":{quote(kind)},"usages":{usages}}}'
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
        jwk = canonical_text(public_jwk(certificate_view(base64.b64decode(entry["certificate"]))))
    return Trusted(
        entry["country"],
        entry["type"],
        entry["thumbprint"],
        entry["kid"],
        entry["certificate"],
        entry["notBefore"],
        entry["notAfter"],
        canonical_text(entry["usages"]),
        entry["domain"],
        entry["group"],
        entry["issuer"],
        jwk,
        entry.get("source", ""),
    )


def revoked_from_entry(entry: Entry) -> Revoked:
    return Revoked(
        entry["country"], entry["type"], entry["thumbprint"], entry["kid"], entry["revokedAt"], entry["reason"]
    )
