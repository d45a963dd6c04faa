"""Configure a peer gateway, with the trust anchor's signature over its statement (``ta_sign_peer``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from countries.management.commands._common import read_bytes
from federation import services
from federation.models import PeerKind
from gateway.pki.errors import Rejected


class Command(BaseCommand):
    help = "Add a peer gateway to federate with (signed off by this gateway's trust anchor)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", required=True, help="the peer's federation id (its GATEWAY_FEDERATION_ID)")
        parser.add_argument("--name", default="")
        parser.add_argument("--kind", default=PeerKind.GATEWAY, choices=PeerKind.values)
        parser.add_argument("--endpoint", required=True)
        parser.add_argument("--peer-trust-anchor", required=True, help="the peer's trust anchor certificate (PEM)")
        parser.add_argument("--signature", required=True, help="file with the base64 CMS from `ta_sign_peer`")
        parser.add_argument("--interval", type=int, default=None, help="seconds between syncs (none: on demand)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            peer = services.add_peer(
                gateway_id=options["id"],
                name=options["name"],
                kind=options["kind"],
                endpoint=options["endpoint"],
                trust_anchor_pem=read_bytes(options["peer_trust_anchor"]).decode("ascii"),
                signature=read_bytes(options["signature"]).decode("ascii"),
                interval_seconds=options["interval"],
                actor="manage.py peer_add",
                at=timezone.now(),
            )
        except (Rejected, ValueError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"peer {peer.gateway_id} added ({peer.kind}, {peer.endpoint})")
