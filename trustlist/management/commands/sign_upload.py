"""Make the CMS a country uploads: its DSC signed with its UPLOAD key. Runs offline, where the
UPLOAD key is kept; the output goes to the API or the admin's upload form. No key leaves."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway.pki import cms, issuance
from gateway.pki.certs import certificate_der, load_pem_certificate
from gateway.pki.errors import Rejected


class Command(BaseCommand):
    help = "Print the base64 attached CMS over a DSC's DER, signed with the country's UPLOAD key."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dsc", required=True, help="the DSC (PEM)")
        parser.add_argument("--signer", required=True, help="the UPLOAD certificate (PEM)")
        parser.add_argument("--key", required=True, help="the UPLOAD private key (PEM)")
        parser.add_argument("--out", help="write here instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            dsc = certificate_der(load_pem_certificate(Path(options["dsc"]).read_bytes()))
            signer = load_pem_certificate(Path(options["signer"]).read_bytes())
            key = issuance.load_private_key(Path(options["key"]).read_bytes())
        except (OSError, ValueError, Rejected) as exc:
            raise CommandError(str(exc)) from exc
        text = base64.b64encode(cms.sign(dsc, signer, key, detached=False)).decode("ascii")
        if options["out"]:
            Path(options["out"]).write_text(text + "\n")
        else:
            self.stdout.write(text)
