"""Celery tasks of the audit log."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from gateway.audit import log
from gateway.signing import keys

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def make_checkpoint() -> int | None:
    """Beat: sign the tree head when it grew (or is older than the interval), bounding how long an
    event stays uncovered by a signed checkpoint (RFC 9162's maximum merge delay)."""
    if not keys.announced_keys():
        logger.warning("no publisher key: audit checkpoints are not signed yet")
        return None
    checkpoint = log.make_checkpoint(
        at=timezone.now(),
        signer=keys.current_signer(),
        min_interval=dt.timedelta(seconds=settings.GATEWAY_AUDIT_CHECKPOINT_INTERVAL),
    )
    return checkpoint.tree_size if checkpoint else None
