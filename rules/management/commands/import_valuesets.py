"""Import the value sets from a file or a URL, whole or not at all (docs/rules.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gateway.pki.errors import Rejected
from rules import services
from rules.tasks import fetch
from rules.valuesets import MAX_BYTES


class Command(BaseCommand):
    help = "Replace the value sets with those of a file (EU valueSets.json, or DGCG's array of value sets) or URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="a file, or an http(s):// URL")

    def handle(self, *args: Any, **options: Any) -> None:
        source: str = options["source"]
        try:
            if source.startswith(("https://", "http://")):
                data = fetch(source)
            else:
                path = Path(source)
                if path.stat().st_size > MAX_BYTES:
                    raise CommandError(f"{source}: larger than {MAX_BYTES} bytes")
                data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{source}: {exc}") from None
        try:
            count = services.import_value_sets(
                data, source=source, at=timezone.now(), actor="manage.py import_valuesets"
            )
        except Rejected as exc:
            raise CommandError(f"refused, nothing changed: {exc.reason}: {exc.detail}") from None
        self.stdout.write(f"{count} value sets imported from {source}")
