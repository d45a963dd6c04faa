"""Sign the current audit tree head and write it out, for safekeeping outside the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gateway.audit import log
from gateway.audit.models import Checkpoint
from gateway.pki.errors import Rejected
from gateway.signing import keys


class Command(BaseCommand):
    help = "Write the latest signed audit checkpoint (made now if the log grew) as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            log.make_checkpoint(at=timezone.now(), signer=keys.current_signer())
        except Rejected as exc:
            raise CommandError(str(exc)) from exc
        text = json.dumps(log.exported(Checkpoint.objects.first()), indent=1)
        if options["out"]:
            Path(options["out"]).write_text(text + "\n")
        else:
            self.stdout.write(text)
