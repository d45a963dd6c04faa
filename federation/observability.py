"""Each peer's status in ``/health/`` and as Prometheus gauges (labelled by the peer's id), read
from the status its syncs write (federation.services)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db import connections
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from federation.models import Peer

# A scheduled peer is unhealthy when its last success is older than this many intervals
# (and at least GATEWAY_HEALTH_MAX_PEER_LAG seconds), or it never succeeded since it was added.
LATE_INTERVALS = 3


def late_peers(now: dt.datetime) -> list[str]:
    """What is wrong with each scheduled peer, one sentence each (empty: all current)."""
    problems = []
    for peer in Peer.objects.filter(interval_seconds__isnull=False):
        allowed = dt.timedelta(
            seconds=max(LATE_INTERVALS * (peer.interval_seconds or 0), settings.GATEWAY_HEALTH_MAX_PEER_LAG)
        )
        since = peer.last_success_at or peer.created_at
        if now - since > allowed:
            last = (
                "never synced"
                if peer.last_success_at is None
                else f"last synced {int((now - since).total_seconds())} s ago"
            )
            error = f" ({peer.last_reason}: {peer.last_error[:120]})" if peer.last_reason else ""
            problems.append(f"peer {peer.gateway_id}: {last}{error}")
    return problems


@dataclasses.dataclass
class PeersCurrent(HealthCheck):
    timeout = dt.timedelta(seconds=5)

    def run(self) -> None:
        try:
            found = late_peers(timezone.now())
        finally:
            connections.close_all()  # checks run on a thread of their own (gateway.observability.health)
        if found:
            raise ServiceUnavailable("; ".join(found))


class PeersCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        gauges = {
            "sequence": GaugeMetricFamily(
                "gateway_federation_peer_sequence", "The peer's sequence held (-1: none)", labels=["peer"]
            ),
            "age": GaugeMetricFamily(
                "gateway_federation_peer_last_success_age_seconds",
                "Seconds since the peer's last successful sync (-1: never)",
                labels=["peer"],
            ),
            "lag": GaugeMetricFamily(
                "gateway_federation_peer_lag_seconds",
                "Seconds between now and when the peer signed what is held (-1: nothing held)",
                labels=["peer"],
            ),
            "entries": GaugeMetricFamily("gateway_federation_peer_entries", "Entries imported", labels=["peer"]),
            "conflicts": GaugeMetricFamily("gateway_federation_peer_conflicts", "Entries kept aside", labels=["peer"]),
            "failures": GaugeMetricFamily(
                "gateway_federation_peer_failures", "Consecutive refused syncs", labels=["peer"]
            ),
        }
        for peer in Peer.objects.all():
            label = [peer.gateway_id]
            gauges["sequence"].add_metric(label, peer.last_sequence if peer.last_sequence is not None else -1)
            gauges["age"].add_metric(
                label, (now - peer.last_success_at).total_seconds() if peer.last_success_at else -1
            )
            gauges["lag"].add_metric(label, (now - peer.last_issued_at).total_seconds() if peer.last_issued_at else -1)
            gauges["entries"].add_metric(label, peer.entries)
            gauges["conflicts"].add_metric(label, peer.conflicts)
            gauges["failures"].add_metric(label, peer.failures)
        yield from gauges.values()
