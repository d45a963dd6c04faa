"""Publish now (the same code the Celery task runs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trustlist.publication.service import publish


class Command(BaseCommand):
    help = "Publish the signed lists if anything changed or the last publication is due (--force: always)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        publication = publish(force=options["force"])
        self.stdout.write(f"published sequence {publication.id}" if publication else "nothing to publish")
