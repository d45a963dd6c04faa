"""The scheduled value-set import (Celery beat, when GATEWAY_VALUESETS_URL is set)."""

from __future__ import annotations

import logging
import urllib.request

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from gateway.pki.errors import Rejected
from rules import services
from rules.valuesets import MAX_BYTES

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 60


@shared_task(name="rules.tasks.import_valuesets")
def import_valuesets() -> int | None:
    """Fetch the configured URL and import it whole, or change nothing: a refusal is audited by
    the service, a download that fails is logged (and tried again at the next beat)."""
    url = settings.GATEWAY_VALUESETS_URL
    if not url:
        return None
    try:
        data = fetch(url)
    except OSError as exc:
        logger.warning("value sets not imported: %s: %s", url, exc)
        return None
    try:
        return services.import_value_sets(data, source=url, at=timezone.now(), actor="valueset-import")
    except Rejected as exc:
        logger.warning("value sets refused: %s: %s", exc.reason, exc.detail)
        return None


def fetch(url: str) -> bytes:
    """GET ``url``, at most MAX_BYTES (a larger answer is refused, not cut)."""
    if not url.startswith(("https://", "http://", "file://")):
        raise OSError(f"{url[:80]!r}: only http(s) and file URLs")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as reply:  # noqa: S310 - the operator's own setting
        data = reply.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise OSError(f"{url[:80]}: more than {MAX_BYTES} bytes")
    return data
