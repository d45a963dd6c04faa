"""Issue a fresh demo DSC for a virtual country, as its health authority would under its CSCA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gateway.pki import certs
from oversight import demo


class Command(BaseCommand):
    help = (
        "Issue a new DSC (new key, new serial) under a demo country's CSCA and write it to "
        "<dir>/<COUNTRY>/dsc.pem and dsc.key, replacing the previous pair; nothing is uploaded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("country", help="a country seeded by demo_seed, e.g. XA")
        parser.add_argument("--dir", default=str(Path(settings.VAR_DIR) / "demo"), help="the demo folder")
        parser.add_argument("--days", type=int, default=demo.DSC_DAYS, help="validity in days")

    def handle(self, *args: Any, **options: Any) -> None:
        country = options["country"].upper()
        folder = Path(options["dir"]) / country
        if not (folder / "csca.key").is_file():
            raise CommandError(f"no demo CSCA key in {folder} (make run seeds XA, XB and XC)")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        dsc = demo.issue_dsc(folder, country, at=timezone.now(), days=options["days"])
        demo.save(folder, "dsc", dsc, replace=True)
        self.stdout.write(
            f"{demo.shown_root(folder / 'dsc.pem')}: {dsc.certificate.subject.rfc4514_string()}, "
            f"serial {dsc.certificate.serial_number:x}, thumbprint {certs.thumbprint(dsc.der)[:16]}…, "
            f"valid until {dsc.certificate.not_valid_after_utc:%Y-%m-%d}"
        )
