"""Publish now (the same code the Celery tasks run)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from publication.service import publish, rebuild_full


class Command(BaseCommand):
    help = (
        "Publish outstanding changes (a delta and a new index) if anything changed or renewal is due; "
        "--force: a new sequence even without changes; --full: with full lists of the new sequence; "
        "--rebuild: rebuild the full lists and the DID document as the background task does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true")
        parser.add_argument("--full", action="store_true")
        parser.add_argument("--rebuild", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            publication = rebuild_full()
            self.stdout.write(
                f"published sequence {publication.id}, naming the full lists of {publication.full_sequence}"
                if publication
                else "the full lists are current"
            )
            return
        publication = publish(force=options["force"], full=options["full"])
        self.stdout.write(f"published sequence {publication.id}" if publication else "nothing to publish")
