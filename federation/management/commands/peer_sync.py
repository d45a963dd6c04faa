"""Sync one peer now (as the beat would when it is due), or every peer with --all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from federation import api_peers, following, services
from federation.models import Peer
from gateway.pki.errors import Rejected
from verifier.reasons import VerificationError


class Command(BaseCommand):
    help = "Sync a peer gateway now; --full compares every entry, not only what changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("id", nargs="?", help="the peer's federation id")
        parser.add_argument("--all", action="store_true", help="every configured peer")
        parser.add_argument("--full", action="store_true")
        offline = parser.add_mutually_exclusive_group()
        offline.add_argument("--folder", help="an offline copy of a GATEWAY peer's publication folder")
        offline.add_argument("--file", help="an offline export of a TNG or DGCG peer's lists (JSON)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"] == bool(options["id"]):
            raise CommandError("name one peer, or --all")
        peers = Peer.objects.all() if options["all"] else Peer.objects.filter(gateway_id=options["id"])
        if not peers.exists():
            raise CommandError(f"no peer {options['id']!r}")
        if (options["folder"] or options["file"]) and options["all"]:
            raise CommandError("an offline copy is one peer's: name it")
        failed = False
        for peer in peers:
            offline: dict[str, Any] = {}
            try:
                if options["folder"]:
                    offline["fetch"] = following.folder_fetch(Path(options["folder"]), peer.endpoint)
                if options["file"]:
                    offline["lists"] = api_peers.offline_lists(peer.kind, Path(options["file"]).read_bytes())
                outcome = services.sync_peer(
                    peer.pk, now=timezone.now(), full=options["full"], actor="manage.py peer_sync", **offline
                )
            except (Rejected, VerificationError) as exc:
                self.stderr.write(f"{peer.gateway_id}: refused: {exc.reason}: {exc.detail}")
                failed = True
                continue
            except OSError as exc:
                raise CommandError(f"the offline copy cannot be read: {exc}") from None
            if outcome is None:
                self.stdout.write(f"{peer.gateway_id}: unchanged")
            else:
                aside = sum(outcome.kept_aside.values())
                self.stdout.write(
                    f"{peer.gateway_id}: {outcome.added} added, {outcome.removed} removed, {outcome.revoked} revoked,"
                    f" {aside} kept aside, {outcome.loops} of our own skipped,"
                    f" {outcome.relayed} of peers followed here skipped (taken from them only)"
                )
        if failed:
            raise CommandError("a peer's sync was refused")
