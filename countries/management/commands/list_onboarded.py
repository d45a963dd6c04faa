"""List onboarded certificates with their status and trust-anchor integrity."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from countries import trust_anchor
from countries.models import TrustedParty


class Command(BaseCommand):
    help = "List onboarded certificates (country, type, status, TA check, roles, thumbprint)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--country")
        parser.add_argument("--type")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = TrustedParty.objects.order_by("country", "certificate_type", "created_at").prefetch_related("roles")
        if options["country"]:
            rows = rows.filter(country=options["country"].upper())
        if options["type"]:
            rows = rows.filter(certificate_type=options["type"].upper())
        for party in rows:
            integrity = "TA-OK" if trust_anchor.is_intact(party) else "TA-INVALID"
            roles = ",".join(sorted(r.role for r in party.roles.all())) or "-"
            self.stdout.write(
                f"{party.country} {party.certificate_type:<14} {party.status:<9} {integrity:<10} "
                f"{party.created_at:%Y-%m-%d} roles={roles} {party.thumbprint}"
            )
