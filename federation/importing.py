"""What a peer's published state means here: which of its entries are imported, which are kept
aside and why, which are dropped (docs/federation.md, "Provenance" and "Conflicts").

The rules, in order, for each DSC entry the peer trusts:
1. its origin (the entry's ``source``, or the peer itself when it has none) is this gateway:
   skipped, never re-imported (a loop A → B → A);
2. its country is onboarded here: kept aside (``LOCAL_COUNTRY``), a peer never speaks for a
   country this gateway onboarded;
3. the certificate is one of this gateway's own: kept aside (``LOCAL_CERTIFICATE``);
4. another peer's row holds it: kept aside (``OTHER_PEER``); it comes in when that row goes;
5. another certificate here has its kid: kept aside (``KID_TAKEN``);
6. otherwise imported (created, or updated when it differs), with its provenance.
A DSC the peer revokes is revoked here if it was imported from that peer; an entry the peer no
longer lists (trusted or revoked) goes. CSCA entries are not imported: a verifier needs the DSCs,
and this gateway does not judge a peer's CSCAs (the peer did, and signed the result).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from countries.models import TrustedParty
from federation.models import Conflict, ConflictReason, Peer
from gateway.pki.errors import Reason, Rejected
from trustlist.federated import FederatedRevocation, FederatedSigner, apply_federated
from trustlist.models import SignerCertificate
from verifier.encoding import parse_time

Entries = Mapping[str, Mapping[str, Any]]  # by thumbprint, as the peer publishes them


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    revoked: int = 0
    kept_aside: dict[str, int] = field(default_factory=dict)  # by reason
    loops: int = 0


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
    held = set(SignerCertificate.objects.filter(source_gateway=peer.gateway_id).values_list("thumbprint", flat=True))
    aside = set(Conflict.objects.filter(peer=peer).values_list("thumbprint", flat=True))
    candidates = set(new.trusted) | set(new.revoked) | held | aside if touched is None else set(touched)
    here = _Here.read(candidates, new.trusted)
    outcome = Outcome()
    upsert: list[FederatedSigner] = []
    revoke: list[FederatedRevocation] = []
    remove: list[str] = []
    cleared: list[str] = []
    for thumb in sorted(candidates):
        entry = new.trusted.get(thumb)
        if entry is not None and entry.get("type") == "DSC":
            origin = str(entry.get("source") or peer.gateway_id)
            if origin == own_id:
                outcome.loops += 1
                continue
            reason = here.conflict(peer, entry, thumb)
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
        if revoked is not None and thumb in held:
            revoke.append(FederatedRevocation(thumb, parse_time(revoked["revokedAt"]), str(revoked.get("reason", ""))))
        elif revoked is None and thumb in held:
            remove.append(thumb)
    for chunk in _chunks(sorted(set(cleared) & aside)):
        Conflict.objects.filter(peer=peer, thumbprint__in=chunk).delete()
    outcome.changed = apply_federated(
        source_gateway=peer.gateway_id, upsert=upsert, revoke=revoke, remove=remove, at=at
    )
    outcome.revoked = len(revoke)
    outcome.removed = len(remove)
    _promote_after(peer, remove, own_id=own_id, at=at, outcome=outcome)
    return outcome


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


@dataclass(frozen=True)
class _Here:
    """This gateway's side of the rules, for the entries looked at: its onboarded countries, who
    holds each certificate, and which certificate holds each of their kids."""

    local_countries: set[str]
    owners: dict[str, str]  # thumbprint -> source_gateway ("" for this gateway's own)
    kid_holders: dict[str, set[str]]  # kid (or TNG kid) -> thumbprints of the rows that have it

    @classmethod
    def read(cls, candidates: set[str], trusted: Entries) -> _Here:
        owners: dict[str, str] = {}
        for chunk in _chunks(sorted(candidates)):
            owners.update(
                SignerCertificate.objects.filter(thumbprint__in=chunk).values_list("thumbprint", "source_gateway")
            )
        kids = sorted({str(trusted[t].get("kid", "")) for t in candidates if t in trusted})
        holders: dict[str, set[str]] = {}
        for chunk in _chunks(kids):
            rows = SignerCertificate.objects.filter(Q(kid__in=chunk) | Q(custom_kid__in=chunk))
            for thumb, kid, custom in rows.values_list("thumbprint", "kid", "custom_kid"):
                for value in (kid, custom):
                    if value:
                        holders.setdefault(value, set()).add(thumb)
        return cls(set(TrustedParty.objects.local().values_list("country", flat=True)), owners, holders)

    def conflict(self, peer: Peer, entry: Mapping[str, Any], thumb: str) -> str | None:
        if entry.get("country") in self.local_countries:
            return ConflictReason.LOCAL_COUNTRY
        owner = self.owners.get(thumb)
        if owner == "":
            return ConflictReason.LOCAL_CERTIFICATE
        if owner is not None and owner != peer.gateway_id:
            return ConflictReason.OTHER_PEER
        if self.kid_holders.get(str(entry.get("kid", "")), set()) - {thumb}:
            return ConflictReason.KID_TAKEN
        return None


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
    for conflict in waiting.select_related("peer").order_by("first_seen", "id"):
        if SignerCertificate.objects.filter(thumbprint=conflict.thumbprint).exists():
            continue  # another waiting peer took it already
        entry = conflict.entry
        origin = str(entry.get("source") or conflict.peer.gateway_id)
        sequence = conflict.peer.last_sequence
        outcome.changed += apply_federated(
            source_gateway=conflict.peer.gateway_id,
            upsert=[_signer(entry, origin, sequence)],
            revoke=[],
            remove=[],
            at=at,
        )
        conflict.delete()
