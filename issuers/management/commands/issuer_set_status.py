"""Suspend, reactivate or remove a trusted issuer."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gateway.pki.errors import Rejected
from issuers import services
from issuers.models import IssuerStatus, TrustedIssuer

TARGETS = {"suspend": IssuerStatus.SUSPENDED, "reactivate": IssuerStatus.ACTIVE}


class Command(BaseCommand):
    help = "Suspend (no longer served nor published), reactivate or remove (for good) a trusted issuer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=[*TARGETS, "remove"])
        parser.add_argument("uuid", help="the issuer's uuid (issuer_list); a unique prefix is enough")
        parser.add_argument("--reason", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        issuer = _by_uuid(options["uuid"])
        actor, at, reason = "manage.py issuer_set_status", timezone.now(), options["reason"]
        try:
            if options["action"] == "remove":
                services.remove_issuer(issuer.pk, reason=reason, actor=actor, at=at)
                self.stdout.write(f"issuer {issuer.uuid} removed")
                return
            services.set_status(issuer.pk, TARGETS[options["action"]], reason=reason, actor=actor, at=at)
        except Rejected as exc:
            raise CommandError(f"refused ({exc.reason}): {exc.detail}") from exc
        self.stdout.write(f"issuer {issuer.uuid} is now {TARGETS[options['action']].label}")


def _by_uuid(prefix: str) -> TrustedIssuer:
    wanted = prefix.strip().lower()
    matches = (
        [issuer for issuer in TrustedIssuer.objects.all() if str(issuer.uuid).startswith(wanted)] if wanted else []
    )
    if len(matches) != 1:
        raise CommandError(f"{'no' if not matches else 'more than one'} trusted issuer matches {prefix!r}")
    return matches[0]
