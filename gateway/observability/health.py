"""Health checks (django-health-check): database, cache, broker, worker, publication freshness.

``/health/`` runs every check and answers 200 or 503 (HTML, JSON with ``?format=json`` or
``Accept: application/json``, text, OpenMetrics); ``/health/live`` only says the process serves
requests, for a liveness probe that must not restart the web tier when PostgreSQL is down.
Without ``REDIS_URL`` (the embedded default: eager tasks, local memory cache) there is no
broker or worker to check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis

from gateway.observability import freshness


@dataclasses.dataclass
class PublicationFreshness(HealthCheck):
    """Fails when nothing is published, the index expired, or a change waits too long."""

    timeout = dt.timedelta(seconds=5)

    def run(self) -> None:
        try:
            state = freshness.read_state(Path(settings.GATEWAY_PUBLISH_DIR))
        finally:
            # Checks run on a thread of a per-request event loop: close what this thread opened.
            connections.close_all()
        found = freshness.problems(
            state,
            now=timezone.now(),
            max_lag=dt.timedelta(seconds=settings.GATEWAY_HEALTH_MAX_PUBLICATION_LAG),
        )
        if found:
            raise ServiceUnavailable("; ".join(found))


@dataclasses.dataclass
class CeleryWorker(HealthCheck):
    """At least one worker answers a ping. Unlike the library's check, the broker connection is
    tried once: with the broker down, kombu's default (100 retries) would hold the probe for
    minutes after its own timeout, since the thread cannot be cancelled."""

    timeout = dt.timedelta(seconds=3)

    def run(self) -> None:
        from gateway.celery import app

        with app.connection_for_write() as connection:
            try:
                connection.ensure_connection(max_retries=1, timeout=2)
            except Exception as error:  # kombu wraps every transport error differently
                raise ServiceUnavailable("the broker is unreachable") from error
            replies = app.control.ping(timeout=1.0, limit=1, connection=connection)
        if not replies:
            raise ServiceUnavailable("no Celery worker answers")


_registered: list[type[HealthCheck]] = []


def register_check(check: type[HealthCheck]) -> None:
    """A room above the ground floor adds a check of its own (federation: its peers), from its
    ``AppConfig.ready()``: the ground floor may not import it."""
    if check not in _registered:
        _registered.append(check)


def configured_checks() -> list[Any]:
    checks: list[Any] = [Database, Cache, PublicationFreshness, *_registered]
    if settings.REDIS_URL:
        broker = settings.CELERY_BROKER_URL
        checks += [
            (Redis, {"client_factory": lambda: AsyncRedis.from_url(broker, socket_timeout=2)}),
            CeleryWorker,
        ]
    return checks


class GatewayHealthView(HealthCheckView):
    """503, not the library's 500, when a check fails: the service is unavailable, not broken."""

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.checks = configured_checks()
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
