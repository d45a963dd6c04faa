"""Verify a publish folder end to end, as a verifier would (exit 1 on any problem)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from verifier.certificates import load_anchor
from verifier.folder import verify_folder


class Command(BaseCommand):
    help = "Verify index, lists, deltas and DID document of a publish folder against the trust anchor(s)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", default=settings.GATEWAY_PUBLISH_DIR)
        parser.add_argument("--trust-anchor", action="append", help="PEM (default: GATEWAY_TRUST_ANCHOR_FILES)")
        parser.add_argument("--at", help="verification time, ISO 8601 (default: now)")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = options["trust_anchor"] or settings.GATEWAY_TRUST_ANCHOR_FILES
        if not paths:
            raise CommandError("no trust anchor: pass --trust-anchor or set GATEWAY_TRUST_ANCHOR_FILES")
        anchors = [load_anchor(Path(path).read_bytes()) for path in paths]
        now = dt.datetime.fromisoformat(options["at"]) if options["at"] else dt.datetime.now(dt.UTC)
        report = verify_folder(Path(options["dir"]), anchors, now)
        for name in report.checked:
            self.stdout.write(f"ok       {name}")
        for problem in report.problems:
            self.stdout.write(f"PROBLEM  {problem}")
        if report.problems:
            raise CommandError(f"{len(report.problems)} problem(s) in sequence {report.sequence}")
        self.stdout.write(f"sequence {report.sequence} verified ({len(report.checked)} artifacts)")
