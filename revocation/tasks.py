"""The scheduled cleanup of revocation batches (Celery beat, GATEWAY_REVOCATION_CLEANUP_SECONDS)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from revocation import services


@shared_task(name="revocation.tasks.clean_up_batches")
def clean_up_batches() -> tuple[int, int]:
    """Expired batches marked deleted, deleted ones purged after GATEWAY_REVOCATION_PURGE_DAYS
    (DGCG's dgc.revocation.delete-threshold, 14). Returns (expired, purged)."""
    purge_after = dt.timedelta(days=settings.GATEWAY_REVOCATION_PURGE_DAYS)
    return services.clean_up(at=timezone.now(), purge_after=purge_after)
