"""Grant (or with --revoke, withdraw) a DGCG revocation role to an AUTHENTICATION certificate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from countries import services
from countries.management.commands._common import party_by_thumbprint
from countries.models import Role
from gateway.pki.errors import Rejected


class Command(BaseCommand):
    help = "Grant a role (REVOCATION_LIST_READER, REVOCATION_UPLOADER, REVOCATION_DELETER)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("thumbprint")
        parser.add_argument("role", choices=Role.values)
        parser.add_argument("--revoke", action="store_true", help="withdraw the role instead")

    def handle(self, *args: Any, **options: Any) -> None:
        party = party_by_thumbprint(options["thumbprint"])
        role = Role(options["role"])
        try:
            if options["revoke"]:
                services.revoke_role(party_id=party.pk, role=role, actor="manage.py grant_role", at=timezone.now())
            else:
                services.grant_role(party_id=party.pk, role=role, actor="manage.py grant_role", at=timezone.now())
        except Rejected as exc:
            raise CommandError(f"refused ({exc.reason}): {exc.detail}") from exc
        self.stdout.write(f"{'withdrew' if options['revoke'] else 'granted'} {role} for {party.thumbprint}")
