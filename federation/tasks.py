"""Scheduled syncs of peers (Celery beat: GATEWAY_FEDERATION_TICK_SECONDS): each due peer in a
task of its own, so one slow peer does not hold the others; a peer's lease keeps two workers from
syncing it at once (federation.services)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from federation import services
from gateway.pki.errors import Rejected
from verifier.reasons import VerificationError

logger = logging.getLogger(__name__)


@shared_task(name="federation.tasks.sync_due_peers")
def sync_due_peers() -> list[int]:
    """Beat's tick: each peer whose time comes before the next tick is synced at this one."""
    ahead = settings.GATEWAY_FEDERATION_TICK_SECONDS / 2
    due = [peer.pk for peer in services.due_peers(timezone.now(), ahead=ahead)]
    for peer_id in due:
        sync_peer.delay(peer_id)
    return due


@shared_task(name="federation.tasks.sync_peer")
def sync_peer(peer_id: int) -> str:
    """One peer's sync; a refusal is recorded (audit, status, backoff) by the service, not retried here."""
    try:
        outcome = services.sync_peer(peer_id, now=timezone.now())
    except (Rejected, VerificationError) as exc:
        logger.warning("federation sync of peer %s refused: %s", peer_id, exc)
        return str(exc.reason)
    return "unchanged" if outcome is None else f"{len(outcome.changed)} changed"
