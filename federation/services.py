"""Configuring peers and syncing them: every change one function, audited; every refusal named
(``gateway.pki.errors.Reason`` for configuration, the verifier's ``PublicationReason`` for a
peer's publication) and recorded through the one audited path.

A sync holds a lease on its peer row (taken by one atomic UPDATE, so two workers never sync one
peer at once, on SQLite as on PostgreSQL), syncs the peer outside any transaction, then imports
what changed in one transaction with its audit event and the peer's status. A refused sync keeps
the last good state and backs off: the next attempt waits the interval times 2^failures, at most
GATEWAY_FEDERATION_MAX_BACKOFF seconds.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest

from federation import api_peers, following, statements
from federation.importing import Outcome, import_state
from federation.models import Conflict, Peer, PeerKind, PeerSync
from gateway.audit.models import Action
from gateway.audit.models import Outcome as AuditOutcome
from gateway.audit.refusals import record_refused
from gateway.audit.services import record_event, record_rejection
from gateway.pki.errors import Reason, Rejected
from gateway.signing.anchors import configured_trust_anchors
from trustlist.federated import apply_federated
from trustlist.models import SignerCertificate
from verifier.fetch import Fetch
from verifier.reasons import VerificationError

PEER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
SYNC_ACTOR = "federation"


def add_peer(
    *,
    gateway_id: str,
    name: str,
    kind: str,
    endpoint: str,
    trust_anchor_pem: str,
    signature: str,
    interval_seconds: int | None,
    actor: str,
    at: dt.datetime,
) -> Peer:
    """Configure a peer whose statement this gateway's trust anchor signed (ta_sign_peer)."""
    peer = Peer(
        gateway_id=gateway_id,
        name=name or gateway_id,
        kind=kind,
        endpoint=endpoint,
        trust_anchor=trust_anchor_pem,
        interval_seconds=interval_seconds,
        signature=signature.strip(),
        created_at=at,
        next_attempt_at=at,
    )
    try:
        _check_new(peer)
        with transaction.atomic():
            peer.save()
            record_event(
                action=Action.PEER_ADD,
                outcome=AuditOutcome.SUCCESS,
                at=at,
                actor=actor,
                details={"peer": gateway_id, "kind": kind, "endpoint": endpoint, "interval": interval_seconds},
            )
    except IntegrityError:
        exc = Rejected(Reason.PEER_EXISTS, f"a peer {gateway_id!r} is configured already")
        record_refused(exc, action=Action.PEER_ADD, at=at, actor=actor, details={"peer": gateway_id})
        raise exc from None
    except Rejected as exc:
        record_refused(exc, action=Action.PEER_ADD, at=at, actor=actor, details={"peer": gateway_id[:64]})
        raise
    return peer


def _check_new(peer: Peer) -> None:
    if not PEER_ID.fullmatch(peer.gateway_id) or peer.gateway_id == settings.GATEWAY_FEDERATION_ID:
        raise Rejected(Reason.PEER_ID_INVALID, f"{peer.gateway_id[:70]!r} cannot name a peer")
    if peer.kind not in PeerKind.values:
        raise Rejected(Reason.PEER_ID_INVALID, f"kind {peer.kind!r} is not one of {PeerKind.values}")
    parts = urlsplit(peer.endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(peer.endpoint) > 500:
        raise Rejected(Reason.PEER_ENDPOINT_INVALID, f"{peer.endpoint[:100]!r} is not an http(s) URL with a host")
    if peer.interval_seconds is not None and peer.interval_seconds < 1:
        raise Rejected(Reason.PEER_ID_INVALID, "the interval is at least one second")
    statements.check(peer, configured_trust_anchors())


def set_interval(peer: Peer, interval_seconds: int | None, *, actor: str, at: dt.datetime) -> Peer:
    with transaction.atomic():
        Peer.objects.filter(pk=peer.pk).update(interval_seconds=interval_seconds, next_attempt_at=at, failures=0)
        record_event(
            action=Action.PEER_CHANGE,
            outcome=AuditOutcome.SUCCESS,
            at=at,
            actor=actor,
            details={"peer": peer.gateway_id, "interval": interval_seconds},
        )
    peer.refresh_from_db()
    return peer


def remove_peer(peer: Peer, *, actor: str, at: dt.datetime) -> None:
    """The peer goes, and every entry imported from it with it (published as removed)."""
    with transaction.atomic():
        held = list(
            SignerCertificate.objects.filter(source_gateway=peer.gateway_id).values_list("thumbprint", flat=True)
        )
        apply_federated(source_gateway=peer.gateway_id, upsert=[], revoke=[], remove=held, at=at)
        record_event(
            action=Action.PEER_CHANGE,
            outcome=AuditOutcome.SUCCESS,
            at=at,
            actor=actor,
            details={"peer": peer.gateway_id, "removed": True, "entries": len(held)},
        )
        peer.delete()


# --- syncing -----------------------------------------------------------------------------------


def due_peers(now: dt.datetime, *, ahead: float = 0.0) -> list[Peer]:
    """Peers on a schedule whose next attempt is due (or falls within ``ahead`` seconds) and that
    no sync holds. Beat's tick passes half a tick as ``ahead``: a sync sets the next attempt from
    the moment it started, a little after its tick, so the tick one interval later would
    otherwise find it not quite due and the peer would wait a whole tick more each interval."""
    due = now + dt.timedelta(seconds=ahead)
    return list(
        Peer.objects.filter(interval_seconds__isnull=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    )


def sync_peer(
    peer_id: int,
    *,
    now: dt.datetime,
    fetch: Fetch | None = None,
    full: bool = False,
    lists: api_peers.Lists | None = None,
    tls: ssl.SSLContext | None = None,
    actor: str = SYNC_ACTOR,
) -> Outcome | None:
    """Sync one peer (see the module). Returns what the import did (None when nothing changed).
    ``fetch``: how a peer of this kind's files are read (default: HTTP; an offline copy of its
    folder reads them from disk); ``lists``: an offline export of a TNG or DGCG peer's lists
    instead of downloading them; ``tls``: the mutual TLS context for a TNG or DGCG peer (default:
    GATEWAY_FEDERATION_CLIENT_CERT). Raises Rejected (PEER_BUSY, PEER_NOT_FOUND, the peer's
    signature or entries) or VerificationError (the peer's publication or transport)."""
    timeout = float(settings.GATEWAY_FEDERATION_TIMEOUT)
    lease = now + dt.timedelta(seconds=timeout * 2 + 60)
    claimed = Peer.objects.filter(pk=peer_id).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    if not claimed.update(lease_until=lease, last_attempt_at=now):
        if not Peer.objects.filter(pk=peer_id).exists():
            raise Rejected(Reason.PEER_NOT_FOUND, f"no peer {peer_id}")
        raise Rejected(Reason.PEER_BUSY, "another worker is syncing this peer")
    peer = Peer.objects.get(pk=peer_id)
    try:
        statements.check(peer, configured_trust_anchors())
        followed = _fetch(peer, now, fetch=fetch, full=full, lists=lists, tls=tls, timeout=timeout)
        if followed is None:
            _succeeded(peer, now, peer.last_sequence, bytes(peer.last_index), rows=0)
            return None
        with transaction.atomic():
            touched = followed.touched
            outcome = import_state(peer, followed.state, touched, own_id=settings.GATEWAY_FEDERATION_ID, at=now)
            if followed.index or outcome.changed:
                PeerSync.objects.create(
                    peer=peer,
                    at=now,
                    sequence=followed.state.sequence,
                    index=followed.index,
                    added=outcome.added,
                    removed=outcome.removed,
                    revoked=outcome.revoked,
                    kept_aside=sum(outcome.kept_aside.values()),
                )
            record_event(
                action=Action.FEDERATION_SYNC,
                outcome=AuditOutcome.SUCCESS,
                at=now,
                actor=actor,
                details={
                    "peer": peer.gateway_id,
                    "sequence": followed.state.sequence,
                    "changed": len(outcome.changed),
                    "added": outcome.added,
                    "removed": outcome.removed,
                    "revoked": outcome.revoked,
                    "keptAside": outcome.kept_aside,
                    "loops": outcome.loops,
                    "relayed": outcome.relayed,
                    "full": touched is None,
                    "downloaded": followed.downloaded,
                },
            )
            rows = None if touched is None else outcome.rows  # a full sync counts them
            _succeeded(peer, now, followed.state.sequence, followed.index, rows=rows)
        return outcome
    except (Rejected, VerificationError) as exc:
        _failed(peer, now, exc, actor)
        raise
    finally:
        Peer.objects.filter(pk=peer_id, lease_until=lease).update(lease_until=None)


def _fetch(
    peer: Peer,
    now: dt.datetime,
    *,
    fetch: Fetch | None,
    full: bool,
    lists: api_peers.Lists | None,
    tls: ssl.SSLContext | None,
    timeout: float,
) -> following.Followed | None:
    """What the peer holds now: by its publication (a peer of this kind), or its lists, each entry
    verified (a TNG or DGCG peer, downloaded whole: they carry no sequence)."""
    if peer.kind == PeerKind.GATEWAY:
        return following.follow(peer, now, fetch=fetch, timeout=timeout, afresh=full)
    bodies = lists if lists is not None else api_peers.download(peer, timeout=timeout, tls=tls)
    state = api_peers.verified_state(peer, bodies, now)
    return following.Followed(state, None, b"", sum(len(body) for body in bodies.values()))


def _succeeded(peer: Peer, now: dt.datetime, sequence: int | None, index: bytes, *, rows: int | None) -> None:
    """The peer's status after a sync. ``rows``: how its rows here changed (a delta, or nothing
    new), or None to count them (a full sync: it compares every row anyway). A delta's sync must
    not count the peer's 100,000 rows: that alone was most of its time (bench/federation.py)."""
    entries = SignerCertificate.objects.filter(source_gateway=peer.gateway_id).count() if rows is None else None
    Peer.objects.filter(pk=peer.pk).update(
        entries=Greatest(F("entries") + rows, 0) if entries is None else entries,
        last_success_at=now,
        last_sequence=sequence,
        last_index=index,
        last_issued_at=following.issued_at(index) if index else None,
        last_reason="",
        last_error="",
        failures=0,
        next_attempt_at=now + dt.timedelta(seconds=peer.interval_seconds or 0),
        conflicts=Conflict.objects.filter(peer=peer).count(),
    )


def _failed(peer: Peer, now: dt.datetime, exc: Rejected | VerificationError, actor: str) -> None:
    failures = peer.failures + 1
    backoff = min((peer.interval_seconds or 60) * 2 ** min(failures, 16), settings.GATEWAY_FEDERATION_MAX_BACKOFF)
    Peer.objects.filter(pk=peer.pk).update(
        failures=failures,
        last_reason=str(exc.reason),
        last_error=exc.detail[:2000],
        next_attempt_at=now + dt.timedelta(seconds=backoff),
    )
    if isinstance(exc, Rejected):
        record_refused(exc, action=Action.FEDERATION_SYNC, at=now, actor=actor, details={"peer": peer.gateway_id})
    else:  # the verifier's refusal of the peer's publication, under its own name
        record_rejection(
            action=Action.FEDERATION_SYNC,
            at=now,
            actor=actor,
            reason=str(exc.reason),
            details={"peer": peer.gateway_id, "detail": exc.detail},
        )
