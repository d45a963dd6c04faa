"""The configured peers and their status."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from federation.models import Peer


class Command(BaseCommand):
    help = "List the peer gateways, their last sync, lag, last error, entries and conflicts."

    def handle(self, *args: Any, **options: Any) -> None:
        for peer in Peer.objects.all():
            self.stdout.write(
                f"{peer.gateway_id}\t{peer.kind}\t{peer.endpoint}\tinterval={peer.interval_seconds}"
                f"\tsequence={peer.last_sequence}\tlast_success={peer.last_success_at}"
                f"\tentries={peer.entries}\tconflicts={peer.conflicts}\tfailures={peer.failures}"
                f"\t{peer.last_reason} {peer.last_error[:80]}"
            )
