"""What a peer's published state means here: which of its entries are imported, which are kept
aside and why, which are dropped (docs/federation.md, "Provenance" and "Conflicts").

The rules, in order, for each DSC entry the peer trusts:
1. its origin (the entry's ``source``, or the peer itself when it has none) is this gateway:
   skipped, never re-imported (a loop A → B → A);
2. its origin is another peer that this gateway follows: skipped (``relayed``), and a trusted
   row this peer held of it goes: the origin alone speaks for its entries here (below);
3. its country is onboarded here: kept aside (``LOCAL_COUNTRY``), a peer never speaks for a
   country this gateway onboarded;
4. the certificate is one of this gateway's own: kept aside (``LOCAL_CERTIFICATE``);
5. another peer's row holds it: when that row is a relayed copy of this peer's own entry, this
   peer takes it over; otherwise kept aside (``OTHER_PEER``), and it comes in when that row goes;
6. another certificate here has its kid: kept aside (``KID_TAKEN``);
7. otherwise imported (created, or updated when it differs), with its provenance.
A DSC the peer revokes is revoked here if it was imported from that peer; an entry the peer no
longer lists (trusted or revoked) goes. CSCA entries are not imported: a verifier needs the DSCs,
and this gateway does not judge a peer's CSCAs (the peer did, and signed the result).

Why the origin alone, when it is followed: a relay's copy may be an echo of this gateway's own
import. With A → B ↔ C (B follows A and C, C follows B), C publishes A's entries as it took them
from B; were B to take C's copy when A withdraws an entry (a CSCA suspended at A: its DSCs leave
A's lists, neither trusted nor revoked), B would then hold it on C's word and C on B's, trusted
for ever after A dropped it (tests/test_federation_stacks.py). So the entries of a followed
origin come from it only, and its word (trusted, revoked, or no longer listed) also settles the
rows a relay had given this gateway of them before it was followed. Relays still carry the
entries of origins this gateway does not follow (C's, at A, through B).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q
from django.db.models.functions import Greatest

from countries.models import TrustedParty
from federation.models import Conflict, ConflictReason, Peer
from gateway.pki.errors import Reason, Rejected
from trustlist.federated import FederatedRevocation, FederatedSigner, apply_federated
from trustlist.models import SignerCertificate
from verifier.encoding import parse_time

Entries = Mapping[str, Mapping[str, Any]]  # by thumbprint, as the peer publishes them
# Above this many entries looked at (a first import, a full sync), this gateway's side of the
# rules is read in one pass over the table instead of in chunks of the entries (_Here.read).
READ_WHOLE_ABOVE = 5000


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    revoked: int = 0
    kept_aside: dict[str, int] = field(default_factory=dict)  # by reason
    loops: int = 0
    relayed: int = 0  # entries of another peer followed here, which only that peer speaks for
    rows: int = 0  # how many more (or fewer) rows this peer has here now: its status' entries move by it


@dataclass(frozen=True)
class PeerState:
    """A peer's lists at one of its sequences."""

    sequence: int | None  # None: a TNG or DGCG peer's lists carry none
    trusted: Entries
    revoked: Entries


def import_state(peer: Peer, new: PeerState, touched: set[str] | None, *, own_id: str, at: dt.datetime) -> Outcome:
    """Bring this gateway's rows of ``peer`` to ``new``. With ``touched`` (the thumbprints the
    peer's deltas since the last import name; ``new`` holds their entries), only those are looked
    at; without it, ``new`` is the peer's whole state, compared with every row held. What the
    rules ask of this gateway's rows is read once, in bulk, for all the entries looked at."""
    rows = SignerCertificate.objects.filter(source_gateway=peer.gateway_id)
    conflicts = Conflict.objects.filter(peer=peer)
    if touched is None:  # the peer's whole state also settles the rows relays gave of its entries
        held = set(rows.values_list("thumbprint", flat=True))
        aside = set(conflicts.values_list("thumbprint", flat=True))
        candidates = set(new.trusted) | set(new.revoked) | held | aside | _relayed_rows(peer)
    else:  # a delta: only the rows it names are read, not every row of the peer
        candidates = set(touched)
        held, aside = set(), set()
        for chunk in _chunks(sorted(candidates)):
            held.update(rows.filter(thumbprint__in=chunk).values_list("thumbprint", flat=True))
            aside.update(conflicts.filter(thumbprint__in=chunk).values_list("thumbprint", flat=True))
    here = _Here.read(candidates, new.trusted)
    followed = _followed()
    outcome = Outcome()
    upsert: list[FederatedSigner] = []
    revoke: list[FederatedRevocation] = []
    remove: list[str] = []
    cleared: list[str] = []
    # Rows of the peer's own entries that other peers relayed, settled on the peer's word: by relay.
    taken_over: dict[str, list[str]] = {}
    relay_revoke: dict[str, list[FederatedRevocation]] = {}
    relay_remove: dict[str, list[str]] = {}
    for thumb in sorted(candidates):
        entry = new.trusted.get(thumb)
        if entry is not None and entry.get("type") == "DSC":
            origin = str(entry.get("source") or peer.gateway_id)
            if origin == own_id:
                outcome.loops += 1
                continue
            if origin != peer.gateway_id and origin in followed:
                outcome.relayed += 1
                cleared.append(thumb)
                if thumb in held and thumb not in here.revoked:  # a revoked row only refuses: it may stay
                    remove.append(thumb)
                continue
            reason = here.conflict(peer, entry, thumb)
            relay = here.relay_of(peer, thumb)
            if reason == ConflictReason.OTHER_PEER and origin == peer.gateway_id and relay:
                reason = here.kid_taken(entry, thumb)
                if reason is None:  # the peer's row replaces the relay's copy of its own entry
                    taken_over.setdefault(relay, []).append(thumb)
            if reason is not None:
                _keep_aside(peer, thumb, entry, reason, at)
                outcome.kept_aside[reason] = outcome.kept_aside.get(reason, 0) + 1
                if thumb in held:
                    remove.append(thumb)
                continue
            cleared.append(thumb)
            upsert.append(_signer(entry, origin, new.sequence))
            outcome.added += thumb not in held
            continue
        cleared.append(thumb)
        revoked = new.revoked.get(thumb)
        revocation = (
            FederatedRevocation(thumb, parse_time(revoked["revokedAt"]), str(revoked.get("reason", "")))
            if revoked is not None
            else None
        )
        relay = here.relay_of(peer, thumb)
        if thumb in held:
            if revocation is not None:
                revoke.append(revocation)
            else:
                remove.append(thumb)
        elif relay:  # the peer's own entry, which it revoked or no longer lists
            if revocation is not None:
                relay_revoke.setdefault(relay, []).append(revocation)
            else:
                relay_remove.setdefault(relay, []).append(thumb)
    for chunk in _chunks(sorted(set(cleared) & aside)):
        Conflict.objects.filter(peer=peer, thumbprint__in=chunk).delete()
    # The relays' rows first: a row taken over goes before the peer's takes its thumbprint (unique).
    for relay in sorted(taken_over.keys() | relay_revoke.keys() | relay_remove.keys()):
        outcome.changed += apply_federated(
            source_gateway=relay,
            upsert=[],
            revoke=relay_revoke.get(relay, []),
            remove=taken_over.get(relay, []) + relay_remove.get(relay, []),
            at=at,
        )
    for relay in sorted(taken_over.keys() | relay_remove.keys()):
        _count_rows(relay, -len(taken_over.get(relay, [])) - len(relay_remove.get(relay, [])))
    outcome.changed += apply_federated(
        source_gateway=peer.gateway_id, upsert=upsert, revoke=revoke, remove=remove, at=at
    )
    # Every upsert of an entry not held creates a row (a held one is updated); every thumbprint
    # in ``remove`` is a row held, deleted.
    outcome.rows = outcome.added - len(remove)
    outcome.revoked = len(revoke) + sum(len(thumbs) for thumbs in relay_revoke.values())
    outcome.removed = len(remove) + sum(len(thumbs) for thumbs in relay_remove.values())
    _promote_after(peer, remove, own_id=own_id, at=at, outcome=outcome)
    return outcome


def _count_rows(gateway_id: str, change: int) -> None:
    """Another peer's status follows what this import did to its rows (a relay's copies dropped,
    an entry kept aside coming in), so that its entries stay the count of its rows without
    counting them at each of its syncs (federation.services)."""
    if change:
        Peer.objects.filter(gateway_id=gateway_id).update(entries=Greatest(F("entries") + change, 0))


def _followed() -> set[str]:
    """The ids of the peers this gateway follows (configured)."""
    return set(Peer.objects.values_list("gateway_id", flat=True))


def _relayed_rows(peer: Peer) -> set[str]:
    """The rows here of ``peer``'s own entries (their origin) that another peer relayed."""
    rows = SignerCertificate.objects.filter(source_origin=peer.gateway_id)
    return set(rows.exclude(source_gateway__in=("", peer.gateway_id)).values_list("thumbprint", flat=True))


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


@dataclass(frozen=True)
class _Here:
    """This gateway's side of the rules, for the entries looked at: its onboarded countries, who
    holds each certificate, and which certificate holds each of their kids."""

    local_countries: set[str]
    owners: dict[str, str]  # thumbprint -> source_gateway ("" for this gateway's own)
    origins: dict[str, str]  # thumbprint -> source_origin (where a peer's row says it was onboarded)
    revoked: set[str]  # thumbprints of the rows revoked
    kid_holders: dict[str, set[str]]  # kid (or TNG kid) -> thumbprints of the rows that have it

    @classmethod
    def read(cls, candidates: set[str], trusted: Entries) -> _Here:
        kids = sorted({str(trusted[t].get("kid", "")) for t in candidates if t in trusted})
        local = set(TrustedParty.objects.local().values_list("country", flat=True))
        if len(candidates) > READ_WHOLE_ABOVE:
            return cls._read_whole(candidates, set(kids), local)
        owners: dict[str, str] = {}
        origins: dict[str, str] = {}
        revoked: set[str] = set()
        for chunk in _chunks(sorted(candidates)):
            rows = SignerCertificate.objects.filter(thumbprint__in=chunk)
            for thumb, owner, origin, revoked_at in rows.values_list(
                "thumbprint", "source_gateway", "source_origin", "revoked_at"
            ):
                owners[thumb], origins[thumb] = owner, origin
                if revoked_at is not None:
                    revoked.add(thumb)
        holders: dict[str, set[str]] = {}
        for chunk in _chunks(kids):
            rows = SignerCertificate.objects.filter(Q(kid__in=chunk) | Q(custom_kid__in=chunk))
            for thumb, kid, custom in rows.values_list("thumbprint", "kid", "custom_kid"):
                for value in (kid, custom):
                    if value:
                        holders.setdefault(value, set()).add(thumb)
        return cls(local, owners, origins, revoked, holders)

    @classmethod
    def _read_whole(cls, candidates: set[str], kids: set[str], local: set[str]) -> _Here:
        """The same, from one pass over the whole table: a first import looks at every entry of
        the peer, and hundreds of ``IN`` queries of 500 (the kids' with an ``OR`` over two
        columns) cost more than reading each row's few short columns once."""
        owners: dict[str, str] = {}
        origins: dict[str, str] = {}
        revoked: set[str] = set()
        holders: dict[str, set[str]] = {}
        columns = ("thumbprint", "source_gateway", "source_origin", "revoked_at", "kid", "custom_kid")
        for thumb, owner, origin, revoked_at, kid, custom in SignerCertificate.objects.values_list(*columns).iterator(
            chunk_size=10_000
        ):
            if thumb in candidates:
                owners[thumb], origins[thumb] = owner, origin
                if revoked_at is not None:
                    revoked.add(thumb)
            for value in (kid, custom):
                if value and value in kids:
                    holders.setdefault(value, set()).add(thumb)
        return cls(local, owners, origins, revoked, holders)

    def conflict(self, peer: Peer, entry: Mapping[str, Any], thumb: str) -> str | None:
        if entry.get("country") in self.local_countries:
            return ConflictReason.LOCAL_COUNTRY
        owner = self.owners.get(thumb)
        if owner == "":
            return ConflictReason.LOCAL_CERTIFICATE
        if owner is not None and owner != peer.gateway_id:
            return ConflictReason.OTHER_PEER
        return self.kid_taken(entry, thumb)

    def kid_taken(self, entry: Mapping[str, Any], thumb: str) -> str | None:
        if self.kid_holders.get(str(entry.get("kid", "")), set()) - {thumb}:
            return ConflictReason.KID_TAKEN
        return None

    def relay_of(self, peer: Peer, thumb: str) -> str:
        """The other peer whose row here is a copy of ``peer``'s own entry (it names ``peer`` as
        the origin), or ""."""
        owner = self.owners.get(thumb, "")
        if owner not in ("", peer.gateway_id) and self.origins.get(thumb) == peer.gateway_id:
            return owner
        return ""


def _keep_aside(peer: Peer, thumb: str, entry: Mapping[str, Any], reason: str, at: dt.datetime) -> None:
    seen = {
        "kid": str(entry.get("kid", ""))[:20],
        "country": str(entry.get("country", ""))[:2],
        "reason": reason,
        "entry": dict(entry),
        "last_seen": at,
    }
    Conflict.objects.update_or_create(
        peer=peer, thumbprint=thumb, defaults=seen, create_defaults={**seen, "first_seen": at}
    )


def _signer(entry: Mapping[str, Any], origin: str, sequence: int | None) -> FederatedSigner:
    try:
        return FederatedSigner(
            der=base64.b64decode(entry["certificate"], validate=True),
            country=str(entry["country"]),
            kid=str(entry["kid"]),
            domain=str(entry.get("domain") or "DCC"),
            usages=tuple(str(usage) for usage in entry.get("usages", [])),
            issuer=str(entry.get("issuer", "")),
            origin=origin,
            sequence=sequence,
            signature=str(entry.get("signature", "")),
            uploader=str(entry.get("uploader", "")),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise Rejected(Reason.PEER_STATE_INVALID, f"an entry cannot be read ({type(exc).__name__})") from None


def _promote_after(peer: Peer, removed: list[str], *, own_id: str, at: dt.datetime, outcome: Outcome) -> None:
    """An entry another peer had kept aside because this peer held it comes in now it went."""
    waiting = Conflict.objects.filter(thumbprint__in=removed, reason=ConflictReason.OTHER_PEER).exclude(peer=peer)
    followed = _followed()
    for conflict in waiting.select_related("peer").order_by("first_seen", "id"):
        if SignerCertificate.objects.filter(thumbprint=conflict.thumbprint).exists():
            continue  # another waiting peer took it already
        entry = conflict.entry
        origin = str(entry.get("source") or conflict.peer.gateway_id)
        if origin == own_id or (origin != conflict.peer.gateway_id and origin in followed):
            continue  # only its origin speaks for it (the module's rule 2)
        sequence = conflict.peer.last_sequence
        outcome.changed += apply_federated(
            source_gateway=conflict.peer.gateway_id,
            upsert=[_signer(entry, origin, sequence)],
            revoke=[],
            remove=[],
            at=at,
        )
        conflict.delete()
        _count_rows(conflict.peer.gateway_id, 1)
        Peer.objects.filter(pk=conflict.peer.pk).update(conflicts=Greatest(F("conflicts") - 1, 0))
