"""Prometheus metrics: django-prometheus's request/response metrics, our counters of trust
changes per country, and gauges of the publication read at scrape time.

Counters are incremented only once the event's transaction committed (a rolled-back upload was
never an upload). Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (the
stack does) so that every worker's counters are summed in one scrape.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import prometheus_client
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.observability import freshness

UPLOADS = Counter("gateway_uploads", "DSCs accepted, per country", ["country"])
REVOCATIONS = Counter("gateway_revocations", "DSCs revoked, per country", ["country"])
REJECTIONS = Counter(
    "gateway_rejections", "Refused requests, per country, action and named reason", ["country", "action", "reason"]
)


def count_event(*, action: str, outcome: str, country: str, reason: str) -> None:
    """Called by the audit service for every event it records, in the event's transaction."""
    transaction.on_commit(lambda: _count(action, outcome, country or "-", reason or "-"))


def _count(action: str, outcome: str, country: str, reason: str) -> None:
    if outcome == "REJECTED":
        REJECTIONS.labels(country=country, action=action, reason=reason).inc()
    elif outcome == "SUCCESS" and action == "UPLOAD":
        UPLOADS.labels(country=country).inc()
    elif outcome == "SUCCESS" and action == "REVOKE":
        REVOCATIONS.labels(country=country).inc()


class PublicationCollector(Collector):
    """Published sequence and age, index expiry, and changes waiting to be published."""

    def __init__(self, clock: Callable[[], dt.datetime] = timezone.now) -> None:
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        state = freshness.read_state(Path(settings.GATEWAY_PUBLISH_DIR))
        now = self.clock()
        yield _gauge("gateway_published_sequence", "Sequence of the published index (-1: none)", state.sequence, -1)
        yield _gauge(
            "gateway_published_age_seconds",
            "Seconds since the published index was issued",
            (now - state.issued_at).total_seconds() if state.issued_at else None,
        )
        yield _gauge(
            "gateway_published_expires_in_seconds",
            "Seconds until the published index expires (negative: expired)",
            (state.expires_at - now).total_seconds() if state.expires_at else None,
        )
        yield _gauge("gateway_unpublished_changes", "Committed changes not yet published", state.unpublished_changes)
        yield _gauge(
            "gateway_oldest_unpublished_change_age_seconds",
            "Age of the oldest change waiting to be published (0: none)",
            (now - state.oldest_unpublished_at).total_seconds() if state.oldest_unpublished_at else 0,
        )


def _gauge(name: str, documentation: str, value: float | None, missing: float | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    if value is not None or missing is not None:
        family.add_metric([], value if value is not None else missing)
    return family


_collectors: list[Callable[[], Collector]] = []


def register_collector(factory: Callable[[], Collector]) -> None:
    """A room above the ground floor adds gauges read at scrape time (federation: its peers),
    from its ``AppConfig.ready()``."""
    if factory not in _collectors:
        _collectors.append(factory)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Process metrics (all gunicorn workers in multiprocess mode) plus the publication gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # as prometheus_client itself decides
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = prometheus_client.REGISTRY
    publication = CollectorRegistry()
    publication.register(PublicationCollector())
    for factory in _collectors:
        publication.register(factory())
    body = prometheus_client.generate_latest(processes) + prometheus_client.generate_latest(publication)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
