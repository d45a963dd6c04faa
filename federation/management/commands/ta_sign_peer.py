"""Sign a peer's statement with the trust anchor, offline (no database): the federation
counterpart of ``ta_sign`` (docs/federation.md, "Configuring a peer")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from countries.management.commands._common import read_bytes
from federation import statements
from federation.models import PeerKind
from gateway.pki import issuance
from gateway.pki.certs import load_pem_certificate
from gateway.pki.errors import Rejected


class Command(BaseCommand):
    help = "Print the base64 detached CMS by the trust anchor over a peer's statement (offline)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", required=True, help="the peer's federation id (its GATEWAY_FEDERATION_ID)")
        parser.add_argument("--kind", default=PeerKind.GATEWAY, choices=PeerKind.values)
        parser.add_argument("--endpoint", required=True, help="the peer's publication folder URL (or API base URL)")
        parser.add_argument("--peer-trust-anchor", required=True, help="the peer's trust anchor certificate (PEM)")
        parser.add_argument("--ta-cert", required=True, help="this gateway's trust anchor certificate (PEM)")
        parser.add_argument("--ta-key", required=True, help="its private key (PEM)")
        parser.add_argument("--print-statement", action="store_true", help="also print the signed bytes")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            anchor = statements.trust_anchor_der(read_bytes(options["peer_trust_anchor"]).decode("ascii"))
            data = statements.statement(options["id"], options["kind"], options["endpoint"], anchor)
            ta = load_pem_certificate(read_bytes(options["ta_cert"]))
            key = issuance.load_private_key(read_bytes(options["ta_key"]))
        except (Rejected, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if options["print_statement"]:
            self.stderr.write(data.decode("utf-8"))
        self.stdout.write(statements.sign(data, ta, key))
