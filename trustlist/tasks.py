"""Celery tasks: ids in, services do the work; idempotent and safe to run twice or concurrently."""

from __future__ import annotations

import logging

from celery import shared_task

from trustlist.publication.service import publish

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def publish_changes() -> int | None:
    """Queued after a trust-state change commits."""
    publication = publish()
    return publication.id if publication else None


@shared_task(acks_late=True, ignore_result=True)
def publish_if_due() -> int | None:
    """Beat: drains changes a lost task missed, and renews the signatures before expiry."""
    publication = publish()
    return publication.id if publication else None


def request_publication() -> None:
    """Queue a publication; never fails the caller (the beat sweeper catches up)."""
    try:
        publish_changes.delay()
    except Exception:  # a broker outage must not turn a committed upload into an error
        logger.warning("could not queue publication; the beat sweeper will publish", exc_info=True)
