"""Celery tasks: ids in, services do the work; idempotent and safe to run twice or concurrently.

The request path pays for one Redis ``SET NX`` per committed change, and queues a task only when
none is pending: a flag (``PENDING``) is set when a publication is queued and cleared by the task
*before* it reads the outbox. A change committed while a publication runs therefore either is
read by it, or finds the flag cleared and queues the next one: no wake-up is lost. A flag left
behind by a lost task expires after ``FLAG_SECONDS``; the beat sweeper publishes meanwhile.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from publication.locks import RebuildRunning
from publication.service import publish, rebuild_due, rebuild_full

logger = logging.getLogger(__name__)

PENDING = "publication:pending"  # a publish_changes task is queued and has not started yet
REBUILD_PENDING = "publication:rebuild-pending"  # a rebuild_full_lists task is queued
FLAG_SECONDS = 10
REBUILD_FLAG_SECONDS = 300

# Task names are part of the deployment: the beat schedule (gateway/settings.py) names them, and
# during a rolling upgrade messages queued in Redis by a release where these tasks were the trust
# list's carry them. The explicit names (trustlist.tasks.*) let both find these functions.


@shared_task(name="trustlist.tasks.publish_changes", acks_late=True, ignore_result=True)
def publish_changes() -> int | None:
    """Queued after a trust-state change commits (coalesced: see the module docstring)."""
    _clear(PENDING)
    publication = publish()
    request_rebuild()
    return publication.id if publication else None


@shared_task(name="trustlist.tasks.publish_if_due", acks_late=True, ignore_result=True)
def publish_if_due() -> int | None:
    """Beat: drains changes a lost task missed, renews the signatures before expiry, and makes
    sure a due rebuild of the full lists is queued."""
    publication = publish()
    request_rebuild()
    return publication.id if publication else None


@shared_task(name="trustlist.tasks.rebuild_full_lists", acks_late=True, ignore_result=True)
def rebuild_full_lists() -> int | None:
    """Rebuild the full lists and the DID document in the background; a new index names them.

    ``REBUILD_PENDING`` stands for "a rebuild is queued or running": it is cleared when a rebuild
    ends, which then asks for the next one if changes were published meanwhile. A task that
    finds another rebuild running leaves at once (that one will ask), so no worker process waits
    on the rebuild lock while changes wait to be published."""
    try:
        publication = rebuild_full(wait=False)
    except RebuildRunning:
        return None
    _clear(REBUILD_PENDING)
    if publication is not None:
        request_rebuild()
    return publication.id if publication else None


def request_publication() -> None:
    """Queue a publication unless one is pending; never fails the caller (the beat sweeper
    catches up)."""
    try:
        if not cache.add(PENDING, 1, FLAG_SECONDS):
            return
    except Exception:  # the cache is Redis: if it is down, so is the broker
        logger.warning("could not flag a publication; the beat sweeper will publish", exc_info=True)
        return
    try:
        publish_changes.delay()
    except Exception:  # a broker outage must not turn a committed upload into an error
        _clear(PENDING)
        logger.warning("could not queue publication; the beat sweeper will publish", exc_info=True)


def request_rebuild() -> None:
    """Queue a rebuild of the full lists for when it is due (GATEWAY_PUBLISH_FULL_AFTER_*), unless
    one is queued. Without a broker (eager tasks) it runs now if it is due now, else at a later
    publication."""
    due = rebuild_due()
    if due is None:
        return
    countdown = max(due, 0.0)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if countdown == 0:
            rebuild_full_lists.delay()
        return
    try:
        # The flag outlives the countdown and a rebuild (seconds at 100,000 DSCs): if the task is
        # lost, the next request after it expires queues another.
        if cache.add(REBUILD_PENDING, 1, int(countdown) + REBUILD_FLAG_SECONDS):
            rebuild_full_lists.apply_async(countdown=countdown)
    except Exception:
        _clear(REBUILD_PENDING)
        logger.warning("could not queue a rebuild of the full lists; the beat sweeper will", exc_info=True)


def _clear(flag: str) -> None:
    try:
        cache.delete(flag)
    except Exception:
        logger.warning("could not clear %s", flag, exc_info=True)
