"""The trusted issuers, each with a fresh check of its trust-anchor signature."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gateway.pki.errors import Rejected
from gateway.signing.anchors import configured_trust_anchors
from issuers import signatures
from issuers.models import TrustedIssuer


class Command(BaseCommand):
    help = "List trusted issuers: uuid, country, type, status, TA-OK or TA-INVALID (why), form, name, URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--country", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        rows = TrustedIssuer.objects.order_by("country", "name", "url")
        if options["country"]:
            rows = rows.filter(country=options["country"].upper())
        anchors = configured_trust_anchors()
        for issuer in rows:
            if issuer.source_gateway:
                check = f"FEDERATED:{issuer.source_gateway}"
            else:
                try:
                    signatures.check(issuer, anchors)
                    check = "TA-OK"
                except Rejected as exc:
                    check = f"TA-INVALID:{exc.reason}"
            self.stdout.write(
                f"{issuer.uuid}\t{issuer.country}\t{issuer.url_type}\t{issuer.status}\t{check}"
                f"\t{issuer.signed_form}\t{issuer.domain}\t{issuer.name}\t{issuer.url}"
            )
