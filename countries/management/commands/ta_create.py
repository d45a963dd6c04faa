"""Create a trust anchor (key and self-signed certificate) for demos and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from countries.management.commands._common import write_private
from gateway.pki import issuance


class Command(BaseCommand):
    help = "Create a trust anchor key and self-signed certificate (demo/test only; keep real TA keys offline)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="folder for ta.pem and ta.key")
        parser.add_argument("--cn", default="Demo Trust Anchor")
        parser.add_argument("--key", default="ec-p256", choices=["ec-p256", "ec-p384", "rsa-3072", "rsa-4096"])
        parser.add_argument("--days", type=int, default=3650)

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        ta = issuance.issue(
            issuance.name(options["cn"]),
            at=timezone.now(),
            days=options["days"],
            key=issuance.new_key(options["key"]),
            ca=True,
        )
        write_private(out / "ta.key", ta.key_pem)
        (out / "ta.pem").write_bytes(ta.cert_pem)
        self.stdout.write(f"trust anchor certificate: {out / 'ta.pem'}\nprivate key (0600):      {out / 'ta.key'}")
