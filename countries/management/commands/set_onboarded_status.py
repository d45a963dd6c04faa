"""Suspend, reactivate or remove an onboarded certificate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from countries import services
from countries.management.commands._common import party_by_thumbprint
from countries.models import Status
from gateway.pki.errors import Rejected

ACTIONS = {"suspend": Status.SUSPENDED, "reactivate": Status.ACTIVE, "remove": Status.REMOVED}


class Command(BaseCommand):
    help = "suspend | reactivate | remove an onboarded certificate, named by (a prefix of) its thumbprint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=sorted(ACTIONS))
        parser.add_argument("thumbprint")
        parser.add_argument("--reason", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        party = party_by_thumbprint(options["thumbprint"])
        try:
            party = services.set_status(
                party_id=party.pk,
                status=ACTIONS[options["action"]],
                reason=options["reason"],
                actor="manage.py set_onboarded_status",
                at=timezone.now(),
            )
        except Rejected as exc:
            raise CommandError(f"refused ({exc.reason}): {exc.detail}") from exc
        self.stdout.write(f"{party.country} {party.certificate_type} {party.thumbprint} is now {party.status}")
